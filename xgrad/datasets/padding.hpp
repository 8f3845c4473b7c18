#pragma once
// keras.preprocessing.sequence.pad_sequences: ragged integer sequences to one
// dense (N, maxlen) int64 array (PyTorch's index type; Keras defaults to int32).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

// xstorage completes xt::uvector, which the xt::xarray alias needs even in declarations.
#include <xtensor/xstorage.hpp>
#include <xtensor/xtensor_forward.hpp>

namespace xgrad::data {

// Which end of a sequence padding is added to, or truncation removes from.
enum class PadSide { pre, post };

struct PadOptions {
  // Output length; absent = the longest sequence (of the rows being padded).
  std::optional<std::size_t> maxlen{};
  PadSide padding = PadSide::pre;     // Keras default: pad at the front
  PadSide truncating = PadSide::pre;  // Keras default: drop the front of long sequences
  std::int64_t value = 0;             // the padding id
};

// Shape (N, L) with L = options.maxlen or the longest length. Row i holds
// seqs[i]: sequences longer than L lose their first (truncating pre) or last
// (post) elements; shorter ones are filled with `value` before (padding pre)
// or after (post) them. An empty sequence becomes a row of `value`.
xt::xarray<std::int64_t> pad_sequences(const std::vector<std::vector<std::int64_t>>& seqs,
                                       const PadOptions& options = {});

// Keras's positional form: pad_sequences(seqs, maxlen, padding, truncating, value).
xt::xarray<std::int64_t> pad_sequences(const std::vector<std::vector<std::int64_t>>& seqs,
                                       std::optional<std::size_t> maxlen, PadSide padding = PadSide::pre,
                                       PadSide truncating = PadSide::pre, std::int64_t value = 0);

// The same for a subset: shape (rows.size(), L), row k holds seqs[rows[k]], and
// an absent maxlen means the longest of those rows (per-batch padding). Throws
// std::out_of_range for a row index >= seqs.size().
xt::xarray<std::int64_t> pad_sequences(const std::vector<std::vector<std::int64_t>>& seqs,
                                       std::span<const std::size_t> rows, const PadOptions& options = {});

}  // namespace xgrad::data
