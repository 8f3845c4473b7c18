#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include <xtensor/xarray.hpp>

#include "helpers.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/datasets/loader.hpp"
#include "xgrad/datasets/split.hpp"
#include "xgrad/nn/loss.hpp"  // the labels go straight into a loss

using namespace xgrad::data;
using xgrad::Tensor;
using xgrad::data::testing::contains;
using xgrad::data::testing::error_of;
using Indices = std::vector<std::size_t>;

namespace {

// inputs (N, T=3, F=2) with value 100 * n + 10 * t + f, targets (N, 1) = n.
std::pair<Tensor, Tensor> numbered_data(std::size_t n) {
  xt::xarray<float> x = xt::xarray<float>::from_shape({n, 3, 2});
  xt::xarray<float> y = xt::xarray<float>::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    y(i, 0) = static_cast<float>(i);
    for (std::size_t t = 0; t < 3; ++t)
      for (std::size_t f = 0; f < 2; ++f) x(i, t, f) = static_cast<float>(100 * i + 10 * t + f);
  }
  return {Tensor(std::move(x)), Tensor(std::move(y))};
}

LoaderOptions options(std::size_t batch_size, bool shuffle, std::uint32_t seed = 0, bool drop_last = false,
                      BatchLayout layout = BatchLayout::batch_first) {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = shuffle;
  o.seed = seed;
  o.drop_last = drop_last;
  o.layout = layout;
  return o;
}

// The sample indices of one epoch, batch after batch.
Indices epoch_order(DataLoader& loader) {
  Indices order;
  for (const Batch& b : loader) order.insert(order.end(), b.indices.begin(), b.indices.end());
  return order;
}

}  // namespace

TEST_CASE("DataLoader: every sample exactly once per epoch; rows match their indices") {
  auto [x, y] = numbered_data(10);
  DataLoader loader(x, y, options(4, true, 123));
  CHECK(loader.num_batches() == 3);
  std::vector<std::size_t> sizes;
  Indices seen;
  for (const Batch& b : loader) {
    sizes.push_back(b.indices.size());
    CHECK(b.inputs.shape() == xgrad::Shape{b.indices.size(), 3, 2});
    CHECK(b.targets.shape() == xgrad::Shape{b.indices.size(), 1});
    for (std::size_t k = 0; k < b.indices.size(); ++k) {
      CHECK(b.targets.value()(k, 0) == static_cast<float>(b.indices[k]));
      CHECK(b.inputs.value()(k, 2, 1) == static_cast<float>(100 * b.indices[k] + 21));
    }
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  CHECK(sizes == std::vector<std::size_t>{4, 4, 2});  // the last batch is partial
  std::sort(seen.begin(), seen.end());
  CHECK(seen == iota_indices(10));
  CHECK(loader.epoch() == 1);
}

TEST_CASE("DataLoader: shuffles differ between epochs, replay with the same seed, keep order without") {
  auto [x, y] = numbered_data(50);
  DataLoader a(x, y, options(8, true, 7));
  DataLoader b(x, y, options(8, true, 7));
  DataLoader c(x, y, options(8, true, 8));
  const Indices a1 = epoch_order(a), a2 = epoch_order(a);
  CHECK(a1 != a2);  // a new permutation each epoch
  CHECK(epoch_order(b) == a1);
  CHECK(epoch_order(b) == a2);  // same seed, same sequence of epochs
  CHECK(epoch_order(c) != a1);
  Indices sorted = a2;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == iota_indices(50));
  DataLoader plain(x, y, options(8, false));
  CHECK(epoch_order(plain) == iota_indices(50));
}

TEST_CASE("DataLoader: drop_last, next() and epochs") {
  auto [x, y] = numbered_data(10);
  DataLoader loader(x, y, options(4, false, 0, true));
  CHECK(loader.num_batches() == 2);
  auto first = loader.next();  // starts an epoch
  REQUIRE(first);
  CHECK(first->indices == Indices{0, 1, 2, 3});
  REQUIRE(loader.next());
  CHECK_FALSE(loader.next());                            // the 2 leftover samples are dropped
  CHECK(loader.next()->indices == Indices{0, 1, 2, 3});  // next epoch
  CHECK(loader.epoch() == 2);
  CHECK(epoch_order(loader).size() == 8);  // range-for starts a fresh epoch
}

TEST_CASE("DataLoader: time-major (T, B, F) batches") {
  auto [x, y] = numbered_data(5);
  DataLoader loader(x, y, options(2, false, 0, false, BatchLayout::time_major));
  const Batch b = *loader.next();
  REQUIRE(b.inputs.shape() == xgrad::Shape{3, 2, 2});
  CHECK(b.inputs.value()(2, 1, 0) == 120.0f);  // step 2 of sample 1, feature 0
  CHECK(b.inputs.value()(0, 0, 1) == 1.0f);
  CHECK(b.targets.shape() == xgrad::Shape{2, 1});
}

TEST_CASE("DataLoader: bad shapes throw naming them") {
  auto [x, y] = numbered_data(5);
  auto [x4, y4] = numbered_data(4);
  CHECK(contains(error_of([&] { DataLoader(x, y4); }), "targets of shape (4, 1)"));
  CHECK(contains(error_of([&] { DataLoader(x, y, options(0, false)); }), "batch_size"));
  CHECK(contains(error_of([&] { DataLoader(y, y, options(2, false, 0, false, BatchLayout::time_major)); }),
                 "(N, T, F), got (5, 1)"));
  CHECK_THROWS_AS(DataLoader(Tensor(), y), std::invalid_argument);
  DataLoader no_targets(x, Tensor(), options(5, false));
  CHECK_FALSE(no_targets.next()->targets.defined());
}

TEST_CASE("TokenDataLoader: dense (N, T) ids, batch-first and time-major") {
  TokenArray ids = xt::xarray<std::int64_t>::from_shape({6, 4});
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t t = 0; t < 4; ++t) ids(i, t) = static_cast<std::int64_t>(10 * i + t);
  const std::vector<std::int64_t> labels = {0, 1, 0, 1, 1, 0};
  TokenDataLoader loader(ids, label_tensor(labels, true), options(4, true, 5));
  CHECK(loader.num_batches() == 2);
  Indices seen;
  for (const TokenBatch& b : loader) {
    CHECK(b.inputs.shape(1) == 4);
    for (std::size_t k = 0; k < b.indices.size(); ++k) {
      CHECK(b.inputs(k, 3) == static_cast<std::int64_t>(10 * b.indices[k] + 3));
      CHECK(b.targets.value()(k, 0) == static_cast<float>(labels[b.indices[k]]));
    }
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == iota_indices(6));

  TokenDataLoader time_major(ids, Tensor(), options(4, false, 0, false, BatchLayout::time_major));
  const TokenBatch b = *time_major.next();
  CHECK(b.inputs.shape() == std::vector<std::size_t>{4, 4});  // (T, B)
  CHECK(b.inputs(3, 2) == 23);
  CHECK_THROWS_AS(TokenDataLoader(ids, label_tensor(std::vector<std::int64_t>{1, 0})), std::invalid_argument);
}

TEST_CASE("TokenDataLoader: ragged sequences padded per batch") {
  std::vector<std::vector<std::int64_t>> seqs = {{1}, {2, 3, 4}, {5, 6}, {7, 8, 9, 10, 11}};
  PadOptions pad;  // Keras defaults: pad and truncate at the front
  TokenDataLoader loader(seqs, label_tensor(std::vector<std::int64_t>{0, 1, 1, 0}), options(2, false), pad);
  const TokenBatch first = *loader.next();
  CHECK(first.inputs.shape() == std::vector<std::size_t>{2, 3});  // the batch's longest row
  CHECK(first.inputs(0, 2) == 1);
  CHECK(first.inputs(0, 0) == 0);
  CHECK(first.targets.shape() == xgrad::Shape{2});
  pad.maxlen = 4;
  TokenDataLoader capped(seqs, Tensor(), options(4, false), pad);
  const TokenBatch all = *capped.next();
  CHECK(all.inputs.shape() == std::vector<std::size_t>{4, 4});
  CHECK(all.inputs(3, 0) == 8);  // truncating pre drops the front of the longest
}

TEST_CASE("loaders with int64 class labels: a batch goes into cross_entropy with no cast") {
  // Two classes told apart by the sign of the first feature.
  const std::size_t n = 8;
  xt::xarray<float> x = xt::xarray<float>::from_shape({n, 2});
  xt::xarray<std::int64_t> labels = xt::xarray<std::int64_t>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) {
    x(i, 0) = i % 2 ? 1.0f : -1.0f;
    x(i, 1) = 0.1f * static_cast<float>(i);
    labels(i) = static_cast<std::int64_t>(i % 2);
  }
  DataLoader loader(Tensor(x), labels, options(3, true, 7));
  std::size_t rows = 0;
  for (const Batch& b : loader) {
    CHECK_FALSE(b.targets.defined());
    REQUIRE(b.labels.shape() == std::vector<std::size_t>{b.indices.size()});
    for (std::size_t k = 0; k < b.indices.size(); ++k) CHECK(b.labels(k) == labels(b.indices[k]));
    // logits (B, 2) = [-x0, x0]: the loss of a perfect separation is small.
    const Tensor x0 = xgrad::narrow(b.inputs, 1, 0, 1);
    const Tensor loss =
        xgrad::nn::cross_entropy(xgrad::concat(std::vector<Tensor>{-x0 * 5.0f, x0 * 5.0f}, 1), b.labels);
    CHECK(loss.item() < 1e-4f);
    rows += b.indices.size();
  }
  CHECK(rows == n);
  // Token loaders, dense and ragged.
  TokenArray ids = xt::xarray<std::int64_t>::from_shape({n, 3});
  std::fill(ids.begin(), ids.end(), 4);
  TokenDataLoader tokens(ids, labels, options(4, false));
  CHECK(tokens.next()->labels(3) == 1);
  std::vector<std::vector<std::int64_t>> seqs(n, std::vector<std::int64_t>{1, 2});
  TokenDataLoader ragged(seqs, labels, options(8, false));
  CHECK(ragged.next()->labels == labels);
  CHECK(contains(error_of([&] {
                   DataLoader(Tensor(x), xt::xarray<std::int64_t>({1, 0}));
                 }),
                 "labels of shape (2,) do not have one row per sample (8)"));
}

TEST_CASE("BatchSampler and label_tensor") {
  BatchSampler sampler(0, options(3, true, 1));
  CHECK(sampler.num_batches() == 0);
  CHECK_FALSE(sampler.next());
  const Tensor labels = label_tensor(std::vector<std::int64_t>{1, 0, 1});
  CHECK(labels.shape() == xgrad::Shape{3});
  CHECK(labels.value()(2) == 1.0f);
}
