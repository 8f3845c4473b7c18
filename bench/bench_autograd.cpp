// Tape overhead: a chain of 10 small elementwise ops on 64x512 floats,
// timed with recording (the input requires grad) and without (no_grad),
// side by side. The difference per op is what recording costs: the record,
// the node, and freeing the record afterwards.
#include <benchmark/benchmark.h>

#include <chrono>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/detail/parallel.hpp"

namespace {

using namespace xgrad;
constexpr int kOpsPerChain = 10;

Tensor chain(const Tensor& x) {
  Tensor y = x * 1.0001f;  // 1
  y = y + 0.5f;            // 2
  y = sigmoid(y);          // 3
  y = y * x;               // 4
  y = tanh(y);             // 5
  y = y - x;               // 6
  y = relu(y);             // 7
  y = y + x;               // 8
  y = y * y;               // 9
  return exp(-y);          // 10 (neg counted with exp: 11 records)
}

double seconds_per_chain(const Tensor& x, bool record, int repeats) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) {
    if (record) {
      Tensor y = chain(x);
      benchmark::DoNotOptimize(y.data());
      Tape::current().clear();
    } else {
      NoGradGuard guard;
      Tensor y = chain(x);
      benchmark::DoNotOptimize(y.data());
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
}

void BM_TapeOverheadPerOp(benchmark::State& state) {
  Generator gen(0);
  Tensor x = randn<float>({64, 512}, gen, true);
  std::vector<double> with, without;
  for (auto _ : state) {
    // Alternate the two modes so that both see the same machine state.
    without.push_back(seconds_per_chain(x, false, 200));
    with.push_back(seconds_per_chain(x, true, 200));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double ops = kOpsPerChain + 1;
  const double per_op_plain = median(without) / ops * 1e6;
  const double per_op_recorded = median(with) / ops * 1e6;
  state.counters["us_per_op_no_grad"] = per_op_plain;
  state.counters["us_per_op_recorded"] = per_op_recorded;
  state.counters["recording_overhead_us_per_op"] = per_op_recorded - per_op_plain;
}
BENCHMARK(BM_TapeOverheadPerOp)->Iterations(15)->Unit(benchmark::kMillisecond);

// Forward + backward of the same chain: replay cost next to the math.
void BM_ElementwiseChainForwardBackward(benchmark::State& state) {
  Generator gen(0);
  Tensor x = randn<float>({64, 512}, gen, true);
  for (auto _ : state) {
    sum(chain(x)).backward();
    x.zero_grad();
  }
  state.counters["us_per_op"] = benchmark::Counter(static_cast<double>(state.iterations()) * (kOpsPerChain + 2),
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ElementwiseChainForwardBackward)->Unit(benchmark::kMicrosecond);

// The LSTM cell's gate math as one fused_pointwise op (nn/recurrent.cpp's),
// on one thread: forward alone, and forward + backward, per element of the
// (B, H) state. The backward figure also times the loss that seeds it (two
// muls, an add and a sum, as separate ops), the same in every build compared.
// Shapes: imdb (B 64, H 128) and sine (B 950, H 50).
void BM_LstmCellFused(benchmark::State& state) {
  const std::size_t batch = static_cast<std::size_t>(state.range(0)), hidden = static_cast<std::size_t>(state.range(1));
  const bool backward = state.range(2) != 0;
  const int threads_before = num_threads();
  set_num_threads(1);
  Generator gen(0);
  Tensor gates = randn<float>({batch, 4 * hidden}, gen, true), c = randn<float>({batch, hidden}, gen, true);
  Tensor seed_h = randn<float>({batch, hidden}, gen), seed_c = randn<float>({batch, hidden}, gen);
  const auto cell = [](auto i, auto f, auto g, auto o, auto c_prev) {
    using namespace xgrad::pointwise;
    const auto c_next = sigmoid(f) * c_prev + sigmoid(i) * tanh(g);
    return std::tuple{sigmoid(o) * tanh(c_next), c_next};
  };
  for (auto _ : state) {
    if (backward) {
      auto [h, c_next] = fused_pointwise<5, 2>("lstm_cell", cell, in_chunks(gates, 4), c);
      sum(h * seed_h + c_next * seed_c).backward();
    } else {
      NoGradGuard no_grad;
      auto [h, c_next] = fused_pointwise<5, 2>("lstm_cell", cell, in_chunks(gates, 4), c);
      benchmark::DoNotOptimize(h.data());
    }
  }
  state.counters["ns_per_element"] = benchmark::Counter(static_cast<double>(state.iterations() * batch * hidden),
                                                        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  set_num_threads(threads_before);
}
BENCHMARK(BM_LstmCellFused)
    ->ArgNames({"batch", "hidden", "backward"})
    ->ArgsProduct({{64}, {128}, {0, 1}})
    ->Args({950, 50, 0})
    ->Args({950, 50, 1})
    ->Unit(benchmark::kMicrosecond);

// One fork-join of two trivial pieces on two threads (the caller and the
// worker): the synchronization a batch-1 recurrent step pays once per
// product (its two halves of the weight's panels), without the work.
void BM_ForkJoinRoundTrip(benchmark::State& state) {
  const int threads_before = num_threads();
  set_num_threads(2);
  alignas(64) std::size_t slots[2][8] = {};
  const auto piece = [&](std::size_t p) { ++slots[p][0]; };
  for (int i = 0; i < 1000; ++i) parallel::parallel_for(2, piece);  // the worker spinning
  for (auto _ : state) parallel::parallel_for(2, piece);
  benchmark::DoNotOptimize(slots);
  state.counters["worker_share"] = double(slots[1][0]) / double(slots[0][0] + slots[1][0]);
  set_num_threads(threads_before);
}
BENCHMARK(BM_ForkJoinRoundTrip)->Unit(benchmark::kNanosecond);

}  // namespace
