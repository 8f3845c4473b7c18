// Data-parallel training step figures for the imdb-torch model (Embedding
// 10000x64, LSTM 64->128, dropout 0.5, Linear 128->1; T = 200), run under
// mpirun (bench/dist/compare_epochs.sh does): per step the time of
// forward + backward + Adam, the all-reduce bytes, the time backward waited
// for all-reduces after its last rule (exposed), and the time one blocking
// all-reduce of the same bytes takes; hidden = 1 - exposed / blocking, the
// share of the communication that ran behind backward.
//
//   mpirun -np 2 build/bench/xgrad_bench_ddp_step [global batch, default 64] [steps, default 30] [bucket MiB, default
//   4]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/blas.hpp"
#include "xgrad/dist/comm.hpp"
#include "xgrad/dist/ddp.hpp"
#include "xgrad/nn.hpp"

using namespace xgrad;
using Clock = std::chrono::steady_clock;

namespace {

struct ImdbTorch : nn::Module<> {
  std::shared_ptr<nn::Embedding<>> embedding = register_module<nn::Embedding<>>("embedding", 10000, 64);
  std::shared_ptr<nn::LSTM<>> lstm = register_module<nn::LSTM<>>(
      "lstm", nn::RecurrentOptions{.input_size = 64, .hidden_size = 128, .batch_first = true});
  std::shared_ptr<nn::Dropout<>> dropout = register_module<nn::Dropout<>>("dropout", 0.5);
  std::shared_ptr<nn::Linear<>> fc = register_module<nn::Linear<>>("fc", 128, 1);
  Tensor logits(const xt::xarray<std::int64_t>& tokens) {
    const Tensor h_last = select(lstm->forward(embedding->forward(tokens), {}, {}).h_n, 0, 0);
    return fc->forward(dropout->forward(h_last));
  }
};

double seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

}  // namespace

int main(int argc, char** argv) {
  dist::Session session(&argc, &argv);
  const std::size_t global = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const std::size_t steps = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 30;
  const double bucket_mib = argc > 3 ? std::strtod(argv[3], nullptr) : 4.0;
  const auto ranks = static_cast<std::size_t>(dist::world_size());
  if (global % ranks != 0) dist::abort("the global batch must divide among the ranks");
  const std::size_t batch = global / ranks, length = 200;

  manual_seed(1);
  ImdbTorch model;
  dist::DistributedDataParallel<> ddp(model, {.bucket_mib = bucket_mib});
  nn::Adam<> opt(model.parameters(), {.lr = 1e-3});
  xt::xarray<std::int64_t> tokens = xt::xarray<std::int64_t>::from_shape({batch, length});
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens.data()[i] = static_cast<std::int64_t>((i * 7919 + 13 * static_cast<std::size_t>(dist::rank())) % 10000);
  Tensor labels = Tensor::zeros({batch, 1});
  for (std::size_t i = 0; i < batch; i += 2) labels.mutable_data()[i] = 1;

  const auto step = [&] {
    opt.zero_grad();
    Tensor loss = nn::binary_cross_entropy_with_logits(model.logits(tokens), labels);
    loss.backward();
    opt.step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: buffers, pools
  ddp.reset_stats();
  dist::barrier();
  const auto start = Clock::now();
  for (std::size_t i = 0; i < steps; ++i) step();
  const double step_ms = 1e3 * seconds(start) / static_cast<double>(steps);
  const dist::DdpStats stats = ddp.stats();

  // How long the ranks wait for each other at the end of backward when
  // nothing is communicated (no_sync, then a barrier): the part of the
  // exposed wait that is skew between ranks, not communication.
  double skew_ms = 0;
  if (dist::is_distributed()) {
    auto local = ddp.no_sync();
    const auto t_total = Clock::now();
    double in_barrier = 0;
    for (std::size_t i = 0; i < steps; ++i) {
      opt.zero_grad();
      nn::binary_cross_entropy_with_logits(model.logits(tokens), labels).backward();
      const auto t = Clock::now();
      dist::barrier();
      in_barrier += seconds(t);
      opt.step();
    }
    (void)t_total;
    skew_ms = 1e3 * in_barrier / static_cast<double>(steps);
  }
  // The same bytes in one blocking all-reduce, as if nothing overlapped.
  std::vector<float> buffer(stats.bytes_per_step / sizeof(float) + 1, 1.0f);
  double blocking_ms = 0;
  if (dist::is_distributed()) {
    dist::all_reduce(std::span<float>(buffer));
    dist::barrier();
    const auto t = Clock::now();
    for (int i = 0; i < 20; ++i) dist::all_reduce(std::span<float>(buffer));
    blocking_ms = 1e3 * seconds(t) / 20;
  }
  const double n = static_cast<double>(std::max<std::size_t>(stats.steps, 1));
  double figures[3] = {step_ms, 1e3 * stats.exposed_seconds / n, skew_ms};
  dist::all_reduce(std::span<double>(figures, 3), dist::ReduceOp::max);  // the slowest rank sets the pace
  const double total_bytes = static_cast<double>(stats.bytes_per_step) * n;
  if (dist::rank() == 0) {
    std::printf("ranks %zu x threads %d, global batch %zu (%zu per rank), buckets of %.2f MiB: step %.1f ms\n", ranks,
                num_threads(), global, batch, bucket_mib, figures[0]);
    if (dist::is_distributed()) {
      std::printf(
          "  all-reduce %.2f MB per step in %zu buckets; one blocking all-reduce of those bytes %.2f ms (%.1f%% of a "
          "step)\n"
          "  after backward: waited %.2f ms per step, of which %.2f ms is waiting for the slower rank (skew, "
          "measured without communication)\n"
          "  hidden behind backward: %.0f%% of the bytes finished reducing before backward ended; the first bucket "
          "started %.2f ms before the end\n",
          static_cast<double>(stats.bytes_per_step) / 1e6, stats.buckets, blocking_ms, 100 * blocking_ms / figures[0],
          figures[1], figures[2],
          total_bytes > 0 ? 100 * static_cast<double>(stats.bytes_reduced_during_backward) / total_bytes : 0.0,
          1e3 * stats.backward_tail_seconds / n);
    }
  }
  return 0;
}
