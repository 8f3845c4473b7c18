#include "xgrad/datasets/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

namespace {

void check_fraction(double f, const char* who, const char* what, bool allow_one) {
  if (!(f >= 0.0) || f > 1.0 || (!allow_one && f == 1.0)) {
    throw std::invalid_argument(std::string(who) + ": " + what + " must be in [0, 1" + (allow_one ? "]" : ")") +
                                ", got " + std::to_string(f));
  }
}

IndexSplit split_sequence(const std::vector<std::size_t>& order, std::size_t train_count, bool train_first) {
  IndexSplit s;
  const auto mid = order.begin() + static_cast<std::ptrdiff_t>(train_first ? train_count : order.size() - train_count);
  if (train_first) {
    s.train.assign(order.begin(), mid);
    s.held_out.assign(mid, order.end());
  } else {
    s.held_out.assign(order.begin(), mid);
    s.train.assign(mid, order.end());
  }
  return s;
}

}  // namespace

std::vector<std::size_t> iota_indices(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::iota(v.begin(), v.end(), std::size_t{0});
  return v;
}

std::vector<std::size_t> permutation(std::size_t n, Generator& gen) {
  std::vector<std::size_t> p = iota_indices(n);
  for (std::size_t i = n; i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(gen.below(i));
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

IndexSplit chronological_split(std::size_t n, double train_fraction) {
  check_fraction(train_fraction, "chronological_split", "train_fraction", true);
  const auto train = static_cast<std::size_t>(std::floor(static_cast<double>(n) * train_fraction));
  return chronological_split_at(n, std::min(train, n));
}

IndexSplit chronological_split_at(std::size_t n, std::size_t train_count) {
  if (train_count > n) {
    throw std::invalid_argument("chronological_split_at: train_count " + std::to_string(train_count) + " exceeds the " +
                                std::to_string(n) + " samples");
  }
  return split_sequence(iota_indices(n), train_count, true);
}

IndexSplit shuffled_split(std::size_t n, double test_size, std::uint32_t seed) {
  check_fraction(test_size, "shuffled_split", "test_size", true);
  const auto test = std::min(n, static_cast<std::size_t>(std::ceil(static_cast<double>(n) * test_size)));
  Generator gen(seed);
  return split_sequence(permutation(n, gen), n - test, false);
}

IndexSplit validation_split(std::size_t n, double validation_fraction) {
  check_fraction(validation_fraction, "validation_split", "validation_fraction", false);
  const auto train = static_cast<std::size_t>(std::floor(static_cast<double>(n) * (1.0 - validation_fraction)));
  return split_sequence(iota_indices(n), std::min(train, n), true);
}

template <class T>
xt::xarray<T> take_rows(const xt::xarray<T>& a, std::span<const std::size_t> rows) {
  if (a.dimension() == 0) throw std::invalid_argument("take_rows: cannot index rows of a 0-d array");
  Shape shape(a.shape().begin(), a.shape().end());
  const std::size_t n = shape[0];
  const std::size_t row_size = n == 0 ? 0 : a.size() / n;
  shape[0] = rows.size();
  xt::xarray<T> out = xt::empty<T>(shape);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] >= n) {
      throw std::out_of_range("take_rows: row " + std::to_string(rows[k]) + " is out of range for an array of shape " +
                              shape_to_string(Shape(a.shape().begin(), a.shape().end())));
    }
    std::copy_n(a.data() + rows[k] * row_size, row_size, out.data() + k * row_size);
  }
  return out;
}

template xt::xarray<float> take_rows(const xt::xarray<float>&, std::span<const std::size_t>);
template xt::xarray<double> take_rows(const xt::xarray<double>&, std::span<const std::size_t>);
template xt::xarray<std::int32_t> take_rows(const xt::xarray<std::int32_t>&, std::span<const std::size_t>);
template xt::xarray<std::int64_t> take_rows(const xt::xarray<std::int64_t>&, std::span<const std::size_t>);

}  // namespace xgrad::data
