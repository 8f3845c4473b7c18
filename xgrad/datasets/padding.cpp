#include "xgrad/datasets/padding.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/datasets/split.hpp"

namespace xgrad::data {

xt::xarray<std::int64_t> pad_sequences(const std::vector<std::vector<std::int64_t>>& seqs,
                                       std::span<const std::size_t> rows, const PadOptions& options) {
  for (std::size_t r : rows) {
    if (r >= seqs.size()) {
      throw std::out_of_range("pad_sequences: row " + std::to_string(r) + " is out of range for " +
                              std::to_string(seqs.size()) + " sequences");
    }
  }
  std::size_t length = 0;
  if (options.maxlen) {
    length = *options.maxlen;
  } else {
    for (std::size_t r : rows) length = std::max(length, seqs[r].size());
  }
  xt::xarray<std::int64_t> out = xt::empty<std::int64_t>(Shape{rows.size(), length});
  std::fill(out.begin(), out.end(), options.value);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::vector<std::int64_t>& s = seqs[rows[k]];
    const std::size_t kept = std::min(s.size(), length);
    // truncating pre keeps s[-maxlen:], post keeps s[:maxlen].
    const auto first = options.truncating == PadSide::pre ? s.end() - static_cast<std::ptrdiff_t>(kept) : s.begin();
    std::int64_t* row = out.data() + k * length;
    std::int64_t* dest = options.padding == PadSide::pre ? row + (length - kept) : row;
    std::copy_n(first, kept, dest);
  }
  return out;
}

xt::xarray<std::int64_t> pad_sequences(const std::vector<std::vector<std::int64_t>>& seqs, const PadOptions& options) {
  const std::vector<std::size_t> all = iota_indices(seqs.size());
  return pad_sequences(seqs, std::span<const std::size_t>(all), options);
}

xt::xarray<std::int64_t> pad_sequences(const std::vector<std::vector<std::int64_t>>& seqs,
                                       std::optional<std::size_t> maxlen, PadSide padding, PadSide truncating,
                                       std::int64_t value) {
  return pad_sequences(seqs, PadOptions{maxlen, padding, truncating, value});
}

}  // namespace xgrad::data
