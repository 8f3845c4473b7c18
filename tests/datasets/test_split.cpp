#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include <xtensor/xarray.hpp>

#include "helpers.hpp"
#include "xgrad/datasets/split.hpp"

using namespace xgrad::data;
using Indices = std::vector<std::size_t>;

namespace {
// True when the two parts together are 0..n-1, each exactly once.
bool is_partition(const IndexSplit& s, std::size_t n) {
  Indices all = s.train;
  all.insert(all.end(), s.held_out.begin(), s.held_out.end());
  std::sort(all.begin(), all.end());
  return all == iota_indices(n);
}
}  // namespace

TEST_CASE("chronological splits keep time order") {
  const IndexSplit s = chronological_split(144, 0.67);  // airline tutorial: 96 / 48
  CHECK(s.train.size() == 96);
  CHECK(s.held_out.size() == 48);
  CHECK(s.train.front() == 0);
  CHECK(s.train.back() == 95);
  CHECK(s.held_out.front() == 96);
  CHECK(chronological_split_at(10, 7).held_out == Indices{7, 8, 9});
  CHECK(chronological_split(5, 1.0).held_out.empty());
  CHECK_THROWS_AS(chronological_split(5, 1.5), std::invalid_argument);
  CHECK_THROWS_AS(chronological_split_at(5, 6), std::invalid_argument);
}

TEST_CASE("shuffled_split: sklearn sizes, seeded and reproducible") {
  const IndexSplit a = shuffled_split(50000, 0.2, 42);
  CHECK(a.held_out.size() == 10000);
  CHECK(a.train.size() == 40000);
  CHECK(is_partition(a, 50000));
  CHECK(shuffled_split(50000, 0.2, 42).held_out == a.held_out);
  CHECK(shuffled_split(50000, 0.2, 43).held_out != a.held_out);
  CHECK_FALSE(std::is_sorted(a.train.begin(), a.train.end()));
  CHECK(shuffled_split(10, 0.25, 1).held_out.size() == 3);  // ceil(2.5)
}

TEST_CASE("validation_split: Keras holds out the LAST fraction, unshuffled") {
  const IndexSplit v = validation_split(25000, 0.2);
  CHECK(v.train.size() == 20000);
  CHECK(v.held_out.front() == 20000);
  CHECK(v.held_out.back() == 24999);
  CHECK(validation_split(10, 0.25).train.size() == 7);  // floor(10 * 0.75)
  CHECK_THROWS_AS(validation_split(10, 1.0), std::invalid_argument);
}

TEST_CASE("permutation: Fisher-Yates over Generator::below") {
  xgrad::Generator g(7);
  const Indices p = permutation(1000, g);
  CHECK(std::set<std::size_t>(p.begin(), p.end()).size() == 1000);
  CHECK(*std::max_element(p.begin(), p.end()) == 999);
  xgrad::Generator h(7);
  CHECK(permutation(1000, h) == p);
  CHECK(permutation(1000, h) != p);  // the generator moved on
  CHECK(permutation(0, h).empty());
}

TEST_CASE("take_rows and take apply one split to tensors and vectors") {
  const xt::xarray<float> a = {{0.f, 1.f}, {2.f, 3.f}, {4.f, 5.f}};
  const Indices rows = {2, 0};
  const xt::xarray<float> t = take_rows(a, rows);
  CHECK(t.shape() == std::vector<std::size_t>{2, 2});
  CHECK(t(0, 1) == 5.0f);
  CHECK(t(1, 0) == 0.0f);
  const std::vector<std::string> texts = {"a", "b", "c"};
  CHECK(take(texts, rows) == std::vector<std::string>{"c", "a"});
  CHECK(xgrad::data::testing::contains(xgrad::data::testing::error_of([&] { take_rows(a, Indices{3}); }),
                                       "row 3 is out of range for an array of shape (3, 2)"));
  CHECK_THROWS_AS(take(texts, Indices{3}), std::out_of_range);
}
