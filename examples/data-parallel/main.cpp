// Data-parallel training with xgrad::dist: every process builds the same
// model, DistributedDataParallel starts them from rank 0's weights and
// averages the gradients during backward, each process trains on its shard
// of every epoch, and fit reports the figures of the whole data set. Run
// alone it is ordinary single-process training.
//
//   build/data_parallel [epochs]
//   mpirun -np 2 build/data_parallel [epochs]
//
// The task: from a noisy sine window of 20 steps (N, 20, 1), predict the
// next value with an LSTM. Exits 1 unless the validation MSE ends below 0.01.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <xgrad/xgrad.hpp>

using namespace xgrad;

struct Forecaster : nn::Module<> {
  std::shared_ptr<nn::LSTM<>> lstm = register_module<nn::LSTM<>>(
      "lstm", nn::RecurrentOptions{.input_size = 1, .hidden_size = 16, .batch_first = true});
  std::shared_ptr<nn::Linear<>> head = register_module<nn::Linear<>>("head", 16, 1);
  // x (B, T, 1) -> (B, 1): the last hidden state through the head.
  Tensor forward(const Tensor& x) override {
    const Tensor out = lstm->forward(x);  // (B, T, 16)
    return head->forward(select(out, 1, x.shape()[1] - 1));
  }
};

// n windows of a sine with a little deterministic noise: the same data on
// every rank (each reads its own shard through the sampler).
std::pair<Tensor, Tensor> windows(std::size_t n, std::size_t length, double phase) {
  xt::xarray<float> x = xt::xarray<float>::from_shape({n, length, 1});
  xt::xarray<float> y = xt::xarray<float>::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t t = 0; t <= length; ++t) {
      const double s = 0.1 * static_cast<double>(i + t) + phase;
      const float v = static_cast<float>(std::sin(s) + 0.01 * std::sin(37.0 * s));
      if (t < length)
        x(i, t, 0) = v;
      else
        y(i, 0) = v;
    }
  }
  return {Tensor(std::move(x)), Tensor(std::move(y))};
}

int main(int argc, char** argv) {
  dist::Session session(&argc, &argv);  // MPI under mpirun; nothing as a plain process
  const std::size_t epochs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 15;
  const bool leader = dist::rank() == 0;

  manual_seed(0);
  Forecaster model;
  dist::DistributedDataParallel<> ddp(model);  // every rank starts from rank 0's weights
  nn::Adam<> optimizer(model.parameters(), {.lr = 1e-2});

  auto [x, y] = windows(512, 20, 0.0);
  auto [vx, vy] = windows(128, 20, 1.0);
  // The global batch of 32 is split over the processes.
  const std::size_t per_rank = 32 / static_cast<std::size_t>(dist::world_size());
  data::DataLoader train(x, y, dist::distributed_sampler({.batch_size = per_rank, .shuffle = true, .seed = 1}));
  data::DataLoader validation(vx, vy, dist::distributed_sampler({.batch_size = 64}, /*even=*/false));

  train::FitOptions options;
  options.epochs = epochs;
  options.verbose = leader;
  const train::History history =
      train::fit(model, optimizer, train::task(model, nn::mse_loss), train, options, &validation);
  const double val_mse = history.epochs.back().at("val_loss");
  if (leader) {
    std::printf("%d process(es): validation MSE %.5f after %zu epochs\n", dist::world_size(), val_mse, epochs);
    if (dist::is_distributed()) {
      const dist::DdpStats& s = ddp.stats();
      std::printf("all-reduced %zu bytes per step in %zu bucket(s) over %zu steps\n", s.bytes_per_step, s.buckets,
                  s.steps);
    }
  }
  return val_mse < 0.01 ? 0 : 1;
}
