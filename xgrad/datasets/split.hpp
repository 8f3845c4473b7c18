#pragma once
// Train/test and train/validation splits as lists of sample indices, so one
// split applies alike to tensors (take_rows), text vectors (take) and labels.
//
// Three conventions, each named after the tool it reproduces:
//  - chronological: the first part trains, the rest tests (time series; no
//    shuffling, or the test set would leak the future into training);
//  - shuffled: a seeded random permutation, test part first (scikit-learn's
//    ShuffleSplit order), for i.i.d. data;
//  - Keras validation_split: the LAST fraction is held out, taken before any
//    shuffling (so shuffle first yourself if your data is ordered by class).

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

// xstorage completes xt::uvector, which the xt::xarray alias needs even in declarations.
#include <xtensor/xstorage.hpp>
#include <xtensor/xtensor_forward.hpp>

#include "xgrad/autograd/random.hpp"

namespace xgrad::data {

// Indices into a data set of N samples. `held_out` is the test or validation
// part, depending on the function that made it. train.size() + held_out.size() == N.
struct IndexSplit {
  std::vector<std::size_t> train{};
  std::vector<std::size_t> held_out{};
};

// 0 .. n-1 in order.
std::vector<std::size_t> iota_indices(std::size_t n);

// A uniformly random permutation of 0 .. n-1 (Fisher-Yates, drawing with
// gen.below). Reproducible for a given generator state; not the same
// permutation as np.random.permutation.
std::vector<std::size_t> permutation(std::size_t n, Generator& gen);

// Chronological split: train = the first floor(n * train_fraction) indices
// (Python's int(len * 0.67) tutorial convention; 144 airline months -> 96),
// held_out = the rest, both in time order. Throws std::invalid_argument
// unless 0 <= train_fraction <= 1.
IndexSplit chronological_split(std::size_t n, double train_fraction);
// Chronological split at a count: train = 0 .. train_count-1, held_out = the
// rest. Throws std::invalid_argument if train_count > n.
IndexSplit chronological_split_at(std::size_t n, std::size_t train_count);

// Seeded shuffled split (sklearn train_test_split / ShuffleSplit rules):
// held_out gets ceil(n * test_size) samples, train the rest; both follow one
// permutation drawn from Generator(seed) (held_out is its first part). Throws
// std::invalid_argument unless 0 <= test_size <= 1.
IndexSplit shuffled_split(std::size_t n, double test_size, std::uint32_t seed);

// Keras fit(validation_split=f): train = the first floor(n * (1 - f))
// samples, held_out (validation) = the last ones, no shuffling. Throws
// std::invalid_argument unless 0 <= f < 1.
IndexSplit validation_split(std::size_t n, double validation_fraction);

// Rows `rows` of `a` along axis 0: shape (rows.size(), a.shape[1:]), rows in
// the given order (repeats allowed). Throws std::out_of_range naming the bad
// index and N, std::invalid_argument for a 0-d array.
template <class T>
xt::xarray<T> take_rows(const xt::xarray<T>& a, std::span<const std::size_t> rows);

extern template xt::xarray<float> take_rows(const xt::xarray<float>&, std::span<const std::size_t>);
extern template xt::xarray<double> take_rows(const xt::xarray<double>&, std::span<const std::size_t>);
extern template xt::xarray<std::int32_t> take_rows(const xt::xarray<std::int32_t>&, std::span<const std::size_t>);
extern template xt::xarray<std::int64_t> take_rows(const xt::xarray<std::int64_t>&, std::span<const std::size_t>);

// Elements `items` of a vector (texts, labels, ratings), in the given order.
// Throws std::out_of_range naming the bad index and the size.
template <class T>
std::vector<T> take(const std::vector<T>& v, std::span<const std::size_t> items) {
  std::vector<T> out;
  out.reserve(items.size());
  for (std::size_t i : items) {
    if (i >= v.size()) {
      throw std::out_of_range("take: index " + std::to_string(i) + " is out of range for " + std::to_string(v.size()) +
                              " elements");
    }
    out.push_back(v[i]);
  }
  return out;
}

}  // namespace xgrad::data
