// xgrad::dist under mpirun: collectives, DistributedDataParallel against
// single-process training, the sharded loaders and fit's reduced figures.
// Run by ctest as `mpirun -np 2` and `-np 3` (tests/CMakeLists.txt) and as
// a plain process; every rank runs every case, in the same order, so the
// collectives inside them meet.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/dist/comm.hpp"
#include "xgrad/dist/ddp.hpp"
#include "xgrad/dist/sampler.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/train/fit.hpp"

using namespace xgrad;

namespace {

std::size_t world() { return static_cast<std::size_t>(dist::world_size()); }
std::size_t me() { return static_cast<std::size_t>(dist::rank()); }

// A small sequence model whose backward runs the tape's interesting paths:
// an LSTM (hoisted input projection, recurrent products, weight-gradient
// jobs) and a linear head. `unused` is registered but never used;
// `rank0_only` takes part on rank 0 only.
template <class T>
struct Net : nn::Module<T> {
  explicit Net(std::uint32_t seed) {
    manual_seed(seed);
    // Registered first, so last in DDP's buckets: a bucket waits for all of
    // its parameters, and these become ready only when backward ends.
    unused = this->register_parameter("unused", BasicTensor<T>::ones({4}));
    rank0_only = this->register_parameter("rank0_only", BasicTensor<T>::full({2}, T(0.5)));
    lstm = this->template register_module<nn::LSTM<T>>(
        "lstm", nn::RecurrentOptions{.input_size = 3, .hidden_size = 8, .batch_first = true});
    head = this->template register_module<nn::Linear<T>>("head", 8, 1);
  }
  BasicTensor<T> forward(const BasicTensor<T>& x) override {
    auto out = lstm->forward(x);                   // (B, T, 8)
    auto last = select(out, 1, x.shape()[1] - 1);  // (B, 8)
    auto y = head->forward(last);                  // (B, 1)
    if (use_rank0_only) y = y + sum(rank0_only * rank0_only);
    return y;
  }
  std::shared_ptr<nn::LSTM<T>> lstm;
  std::shared_ptr<nn::Linear<T>> head;
  BasicTensor<T> unused, rank0_only;
  bool use_rank0_only = false;
};

// Deterministic data, the same on every rank: x (N, 5, 3), y (N, 1).
template <class T>
std::pair<xt::xarray<T>, xt::xarray<T>> make_data(std::size_t n) {
  xt::xarray<T> x = xt::xarray<T>::from_shape({n, 5, 3});
  xt::xarray<T> y = xt::xarray<T>::from_shape({n, 1});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<T>(std::sin(0.37 * static_cast<double>(i)));
  for (std::size_t i = 0; i < n; ++i) y(i, 0) = static_cast<T>(std::cos(0.5 * static_cast<double>(i)));
  return {x, y};
}

template <class T>
xt::xarray<T> rows(const xt::xarray<T>& a, const std::vector<std::size_t>& idx) {
  auto shape = a.shape();
  shape[0] = idx.size();
  xt::xarray<T> out = xt::xarray<T>::from_shape(shape);
  const std::size_t row = a.size() / a.shape()[0];
  for (std::size_t k = 0; k < idx.size(); ++k) std::copy_n(a.data() + idx[k] * row, row, out.data() + k * row);
  return out;
}

template <class T>
double max_relative_difference(const nn::Module<T>& a, const nn::Module<T>& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  double worst = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    double scale = 0, diff = 0;
    for (std::size_t k = 0; k < pa[i].size(); ++k) {
      scale = std::max(scale, std::abs(static_cast<double>(pb[i].value().data()[k])));
      diff = std::max(diff, std::abs(static_cast<double>(pa[i].value().data()[k] - pb[i].value().data()[k])));
    }
    worst = std::max(worst, diff / std::max(scale, 1e-30));
  }
  return worst;
}

// `steps` Adam steps: each rank on its slice of every global batch under
// DistributedDataParallel, against one model trained here on the whole
// batches. Each step's global batch is the concatenation, in rank order, of
// what the ranks see (batches[step][rank] are sample indices).
template <class T>
double ddp_against_one_process(const std::vector<std::vector<std::vector<std::size_t>>>& batches,
                               const xt::xarray<T>& x, const xt::xarray<T>& y, double bucket_mib) {
  Net<T> model(100 + static_cast<std::uint32_t>(me()));  // different on every rank: the broadcast fixes it
  dist::DistributedDataParallel<T> ddp(model, {.bucket_mib = bucket_mib});
  Net<T> reference(100);  // rank 0's initial weights
  CHECK(max_relative_difference(model, reference) == 0.0);
  nn::Adam<T> opt(model.parameters(), {.lr = 1e-2});
  nn::Adam<T> ref_opt(reference.parameters(), {.lr = 1e-2});
  for (const auto& step : batches) {
    BasicTensor<T> xb(rows(x, step[me()])), yb(rows(y, step[me()]));
    opt.zero_grad();
    nn::mse_loss(model.forward(xb), yb).backward();
    opt.step();
    std::vector<std::size_t> all;
    for (const auto& part : step) all.insert(all.end(), part.begin(), part.end());
    ref_opt.zero_grad();
    nn::mse_loss(reference.forward(BasicTensor<T>(rows(x, all))), BasicTensor<T>(rows(y, all))).backward();
    ref_opt.step();
  }
  CHECK_FALSE(model.unused.has_grad());  // no rank had a gradient for it
  if (world() > 1) {
    CHECK(ddp.stats().steps == batches.size());
    // One bucket holds the whole model and waits for its last gradient; in
    // small buckets the head's gradient, final long before the LSTM's,
    // starts its all-reduce while backward still runs.
    if (ddp.stats().buckets > 1) CHECK(ddp.stats().buckets_started_early > 0);
    if (ddp.stats().buckets == 1) CHECK(ddp.stats().buckets_started_early == 0);
  }
  return max_relative_difference(model, reference);
}

// Global batches of `global` samples cut into equal per-rank slices.
std::vector<std::vector<std::vector<std::size_t>>> contiguous_batches(std::size_t steps, std::size_t global) {
  std::vector<std::vector<std::vector<std::size_t>>> out(steps);
  const std::size_t per = global / world();
  for (std::size_t s = 0; s < steps; ++s)
    for (std::size_t r = 0; r < world(); ++r) {
      std::vector<std::size_t> idx;
      for (std::size_t k = 0; k < per; ++k) idx.push_back(s * global + r * per + k);
      out[s].push_back(idx);
    }
  return out;
}

}  // namespace

TEST_CASE("all_reduce and broadcast on odd shapes") {
  const double n = static_cast<double>(world());
  Tensor empty(xt::xarray<float>::from_shape({0}));
  dist::all_reduce(empty);
  CHECK(empty.size() == 0);
  Tensor one = Tensor::scalar(static_cast<float>(me() + 1));
  dist::all_reduce(one, dist::ReduceOp::sum);
  CHECK(one.item() == doctest::Approx(n * (n + 1) / 2));
  TensorD v(xt::xarray<double>({1.0 * static_cast<double>(me()), -2.0, 3.5}));
  TensorD mean = v.clone_leaf(), high = v.clone_leaf(), low = v.clone_leaf();
  dist::all_reduce(mean, dist::ReduceOp::mean);
  dist::all_reduce(high, dist::ReduceOp::max);
  dist::all_reduce(low, dist::ReduceOp::min);
  CHECK(mean.value()(0) == doctest::Approx((n - 1) / 2));
  CHECK(mean.value()(1) == -2.0);
  CHECK(high.value()(0) == n - 1);
  CHECK(low.value()(0) == 0.0);
  Tensor b(xt::xarray<float>({static_cast<float>(me()) + 10, 7}));
  dist::broadcast(b, 0);
  CHECK(b.value()(0) == 10.0f);
  CHECK(dist::any(me() + 1 == world()));
  CHECK_FALSE(dist::any(false));
  if (world() > 1) {
    // Different counts: every rank throws (none is left in a collective).
    std::vector<double> uneven(me() + 1, 1.0);
    CHECK_THROWS_WITH_AS(dist::all_reduce(std::span<double>(uneven)), doctest::Contains("different element counts"),
                         std::invalid_argument);
  }
}

TEST_CASE("DDP: N ranks x B/N equals 1 process x B after Adam steps (float and double)") {
  const std::size_t global = 4 * world();
  const auto batches = contiguous_batches(4, global);
  const auto [xf, yf] = make_data<float>(4 * global);
  const auto [xd, yd] = make_data<double>(4 * global);
  CHECK(ddp_against_one_process<float>(batches, xf, yf, 4.0) <= 1e-6);
  CHECK(ddp_against_one_process<double>(batches, xd, yd, 4.0) <= 1e-12);
  // Buckets of 2 elements: every parameter split across buckets.
  CHECK(ddp_against_one_process<double>(batches, xd, yd, 8.0 / (1024 * 1024)) <= 1e-12);
}

TEST_CASE("DDP with the distributed sampler on an uneven data set") {
  // 11 samples, 3 per rank per batch: shards padded to ceil(11 / W), the
  // last batch of each shard smaller, every sample seen each epoch.
  const std::size_t n = 11;
  const auto [x, y] = make_data<double>(n);
  data::LoaderOptions options{.batch_size = 3, .shuffle = true, .seed = 5};
  std::vector<data::BatchSampler> samplers;
  std::vector<std::size_t> seen;
  for (std::size_t r = 0; r < world(); ++r) {
    data::LoaderOptions o = options;
    o.shard = {world(), r, true};
    samplers.emplace_back(n, o);
  }
  std::vector<std::vector<std::vector<std::size_t>>> batches;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (;;) {
      std::vector<std::vector<std::size_t>> step;
      for (auto& s : samplers)
        if (auto b = s.next()) step.emplace_back(b->begin(), b->end());
      if (step.empty()) break;
      REQUIRE(step.size() == world());  // every rank has a batch in every step
      for (const auto& part : step) {
        CHECK(part.size() == step[0].size());
        if (epoch == 0) seen.insert(seen.end(), part.begin(), part.end());
      }
      batches.push_back(step);
    }
  }
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  CHECK(seen.size() == n);
  // What this rank's loader yields is its own sampler's share.
  data::DataLoader loader(Tensor(xt::xarray<float>(xt::cast<float>(x))), Tensor(xt::xarray<float>(xt::cast<float>(y))),
                          dist::distributed_sampler(options));
  std::size_t k = 0;
  for (const auto& b : loader) {
    REQUIRE(k < batches.size());
    CHECK(std::vector<std::size_t>(b.indices.begin(), b.indices.end()) == batches[k][me()]);
    ++k;
  }
  CHECK(ddp_against_one_process<double>(batches, x, y, 4.0) <= 1e-12);
}

TEST_CASE("DDP: a parameter only one rank uses, and no_sync accumulation") {
  const auto [x, y] = make_data<double>(4 * world());
  Net<double> model(7);
  model.use_rank0_only = me() == 0;
  dist::DistributedDataParallel<double> ddp(model);
  BasicTensor<double> xb(rows(x, {2 * me(), 2 * me() + 1})), yb(rows(y, {2 * me(), 2 * me() + 1}));
  nn::mse_loss(model.forward(xb), yb).backward();
  // Rank 0's gradient 2 * (mean residual) * 2 * 0.5, averaged with zeros.
  REQUIRE(model.rank0_only.has_grad());
  std::vector<double> local(model.rank0_only.grad().begin(), model.rank0_only.grad().end());
  CHECK_FALSE(model.unused.has_grad());
  const auto head_grad = xt::xarray<double>(model.head->weight.grad());
  // Every rank holds the same averaged gradients.
  TensorD check(head_grad);
  dist::all_reduce(check, dist::ReduceOp::max);
  CHECK(xt::allclose(check.value(), head_grad, 0, 0));
  model.zero_grad();

  // no_sync: two local backward passes, then a synchronized one; the result
  // is the average over the ranks of each rank's sum of three gradients.
  model.use_rank0_only = false;
  std::vector<xt::xarray<double>> expected;
  std::vector<bool> expect_grad;
  {
    Net<double> plain(7);
    for (std::size_t i = 0; i < plain.parameters().size(); ++i)
      plain.parameters()[i].copy_(model.parameters()[i].value());
    for (int m = 0; m < 3; ++m) nn::mse_loss(plain.forward(xb * static_cast<double>(m + 1)), yb).backward();
    for (auto& p : plain.parameters()) {
      expect_grad.push_back(p.has_grad());
      if (!p.has_grad()) {
        expected.emplace_back();
        continue;
      }
      TensorD g(xt::xarray<double>(p.grad()));
      dist::all_reduce(g, dist::ReduceOp::mean);
      expected.push_back(g.value());
    }
  }
  {
    auto guard = ddp.no_sync();
    nn::mse_loss(model.forward(xb * 1.0), yb).backward();
    nn::mse_loss(model.forward(xb * 2.0), yb).backward();
  }
  nn::mse_loss(model.forward(xb * 3.0), yb).backward();
  const auto params = model.parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].has_grad() == expect_grad[i]);
    if (params[i].has_grad()) CHECK(xt::allclose(params[i].grad(), expected[i], 1e-12, 1e-14));
  }
}

TEST_CASE("fit and evaluate report the figures of the whole data set") {
  const std::size_t n = 13;
  const auto [xd, yd] = make_data<double>(n);
  Tensor x(xt::xarray<float>(xt::cast<float>(xd))), y(xt::xarray<float>(xt::cast<float>(yd)));
  Net<float> model(3);
  dist::DistributedDataParallel<float> ddp(model);
  data::LoaderOptions options{.batch_size = 2};
  data::DataLoader whole(x, y, options);
  data::DataLoader shard(x, y, dist::distributed_sampler(options, /*even=*/false));
  auto task = train::task(model, nn::mse_loss);
  const std::vector<std::shared_ptr<train::Metric>> metrics{train::mean_squared_error()};
  const train::Logs full = train::evaluate(model, task, whole, metrics);
  const train::Logs sharded = train::evaluate(model, task, shard, metrics);
  CHECK(sharded.at("loss") == doctest::Approx(full.at("loss")).epsilon(1e-6));
  CHECK(sharded.at("mse") == doctest::Approx(full.at("mse")).epsilon(1e-6));

  nn::Adam<> opt(model.parameters(), {.lr = 1e-2});
  data::DataLoader train_loader(x, y, dist::distributed_sampler({.batch_size = 2, .shuffle = true, .seed = 1}));
  train::FitOptions fit_options;
  fit_options.epochs = 3;
  fit_options.verbose = false;
  const auto history = train::fit(model, opt, task, train_loader, fit_options, &shard);
  // The logged figures are global: the same on every rank.
  const double val_loss = history.epochs.back().at("val_loss");
  double extremes[2] = {val_loss, -val_loss};
  dist::all_reduce(std::span<double>(extremes, 2), dist::ReduceOp::max);
  CHECK(extremes[0] == -extremes[1]);
  CHECK(ddp.stats().steps == 3 * train_loader.num_batches() * (world() > 1 ? 1 : 0));
}

TEST_CASE("a NaN on one rank stops every rank's fit at the same batch") {
  const std::size_t n = 12;
  const auto [xd, yd] = make_data<double>(n);
  xt::xarray<float> targets = xt::cast<float>(yd);
  targets(n - 1, 0) = std::nanf("");  // in the last rank's shard only
  Tensor x(xt::xarray<float>(xt::cast<float>(xd))), y(targets);
  Net<float> model(4);
  dist::DistributedDataParallel<float> ddp(model);
  nn::Adam<> opt(model.parameters(), {.lr = 1e-2});
  data::DataLoader loader(x, y, dist::distributed_sampler({.batch_size = 2}));
  train::FitOptions options;
  options.epochs = 2;
  options.verbose = false;
  // The rank holding the NaN: the loss's own error; the others: Diverged.
  CHECK_THROWS_AS(train::fit(model, opt, train::task(model, nn::mse_loss), loader, options), std::domain_error);
  // Every rank left fit at the same point: a collective still meets.
  CHECK(dist::any(true));
}

int main(int argc, char** argv) {
  dist::Session session(&argc, &argv);
  doctest::Context context(argc, argv);
  const int failed = context.run();
  // A rank whose cases failed fails the job, and its rank is named.
  if (failed) std::fprintf(stderr, "test_dist: rank %d had failures\n", dist::rank());
  return failed;
}
