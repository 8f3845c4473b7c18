// One full training step (forward, backward, Adam update) of the zoo's
// recurrent shapes, at 1 and 2 BLAS threads, plus the sgemm peak they are
// measured against and heap allocation counts; and inference (BM_Predict:
// no_grad forward of a batch, or of one sequence for latency).
//
// Shapes (all LSTM, time-major input, synthetic data fixed per run):
//   sine        B 950, T 50, in 1, H 50, Linear(50,1) on the last step, MSE
//   sum         B 800, T 10, in 1, H 32, Linear(32,2), cross-entropy
//   imdb-torch  B 64, T 200, Embedding 10000x64, LSTM 64->128, dropout 0.5,
//               Linear(128,1), BCE-with-logits
//   imdb-keras  B 64, T 200, Embedding 10000x128, LSTM 128->128 with input
//               dropout 0.2 and recurrent dropout 0.2, Linear(128,1),
//               sigmoid + BCE
//
// Counters: median_ms (median over the timed steps; Google Benchmark's own
// time is the mean), gemm_gflops (LSTM GEMM work / median time: forward
// 2 B (E+H) 4H per step, backward twice that), allocs_per_step (heap
// allocations of one training step), peak RSS, and the heap live at the end
// of forward (parameters, optimizer state, the tape) and at most during
// backward (heap_forward_mib, heap_peak_backward_mib; malloc's usable sizes).
//
// XGRAD_BENCH_STEPS overrides the number of timed steps (default 15).
#include <benchmark/benchmark.h>

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"

// ---- Heap allocation counting ----------------------------------------------
// glibc's malloc family is interposed here (the executable's definitions win
// over libc's), so every allocation is counted: operator new, xtensor's
// aligned buffers (posix_memalign) and OpenBLAS's own calls alike.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<long> g_allocations{0};
// Bytes of heap blocks live now, and the most live since the last reset
// (usable sizes: what the blocks really occupy).
std::atomic<long> g_live_bytes{0}, g_peak_live_bytes{0};

void* counted(void* p) {
  if (!p) return p;
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const long now = g_live_bytes.fetch_add(static_cast<long>(malloc_usable_size(p)), std::memory_order_relaxed) +
                   static_cast<long>(malloc_usable_size(p));
  long peak = g_peak_live_bytes.load(std::memory_order_relaxed);
  while (now > peak && !g_peak_live_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return p;
}
void uncounted(void* p) {
  if (p) g_live_bytes.fetch_sub(static_cast<long>(malloc_usable_size(p)), std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) { return counted(__libc_malloc(n)); }
void* calloc(std::size_t n, std::size_t s) { return counted(__libc_calloc(n, s)); }
void* realloc(void* p, std::size_t n) {
  uncounted(p);
  void* q = __libc_realloc(p, n);
  if (!q && n) {
    // p is still allocated
    counted(p);
    return q;
  }
  return counted(q);
}
void free(void* p) {
  uncounted(p);
  __libc_free(p);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  void* p = counted(__libc_memalign(alignment, n));
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* aligned_alloc(std::size_t alignment, std::size_t n) { return counted(__libc_memalign(alignment, n)); }
void* memalign(std::size_t alignment, std::size_t n) { return counted(__libc_memalign(alignment, n)); }
}

namespace {

using namespace xgrad;

long allocations() { return g_allocations.load(std::memory_order_relaxed); }

// VmRSS / VmHWM of this process in MiB.
double proc_status_mib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::atof(line.c_str() + n + 1) / 1024.0;
  return 0;
}

int timed_steps() {
  if (const char* s = std::getenv("XGRAD_BENCH_STEPS")) return std::max(1, std::atoi(s));
  return 15;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct ShapeSpec {
  const char* name;
  std::size_t batch, steps, input, hidden, vocab;  // vocab 0: dense input
  std::size_t outputs;
  enum Loss { MSE, CrossEntropy, BCEWithLogits, SigmoidBCE } loss;
  double output_dropout, input_dropout, recurrent_dropout;
};

const ShapeSpec kShapes[] = {
    {"sine", 950, 50, 1, 50, 0, 1, ShapeSpec::MSE, 0, 0, 0},
    {"sum", 800, 10, 1, 32, 0, 2, ShapeSpec::CrossEntropy, 0, 0, 0},
    {"imdb_torch", 64, 200, 64, 128, 10000, 1, ShapeSpec::BCEWithLogits, 0.5, 0, 0},
    {"imdb_keras", 64, 200, 128, 128, 10000, 1, ShapeSpec::SigmoidBCE, 0, 0.2, 0.2},
};

// GEMM work of one training step in GFLOP: forward 2 B (E+H) 4H per time
// step, backward twice that.
double gemm_gflop(const ShapeSpec& s) {
  return 3.0 * 2.0 * double(s.batch) * double(s.input + s.hidden) * 4.0 * double(s.hidden) * double(s.steps) * 1e-9;
}

// The model, its optimizer and one batch of synthetic data.
struct Trainer {
  const ShapeSpec& spec;
  Generator data_gen{1234};
  std::shared_ptr<nn::Embedding<float>> embedding;
  std::shared_ptr<nn::LSTM<float>> lstm;
  std::shared_ptr<nn::Linear<float>> fc;
  std::shared_ptr<nn::Dropout<float>> dropout;
  std::unique_ptr<nn::Adam<float>> adam;
  Tensor dense_input;                // (T, B, 1) for sine/sum
  xt::xarray<std::int64_t> tokens;   // (T, B) for imdb
  Tensor target;                     // (B, 1) for MSE / BCE
  xt::xarray<std::int64_t> classes;  // (B) for cross-entropy

  explicit Trainer(const ShapeSpec& s) : spec(s) {
    manual_seed(0);
    nn::LSTMOptions o;
    o.input_size = s.input;
    o.hidden_size = s.hidden;
    o.input_dropout = s.input_dropout;
    o.recurrent_dropout = s.recurrent_dropout;
    lstm = std::make_shared<nn::LSTM<float>>(o);
    fc = std::make_shared<nn::Linear<float>>(s.hidden, s.outputs);
    std::vector<Tensor> params = lstm->parameters();
    for (auto& p : fc->parameters()) params.push_back(p);
    if (s.vocab) {
      embedding = std::make_shared<nn::Embedding<float>>(s.vocab, s.input);
      for (auto& p : embedding->parameters()) params.push_back(p);
      tokens = xt::xarray<std::int64_t>::from_shape({s.steps, s.batch});
      for (auto& v : tokens)
        v = static_cast<std::int64_t>(data_gen.uniform() * double(s.vocab)) % std::int64_t(s.vocab);
    } else {
      dense_input = uniform<float>({s.steps, s.batch, s.input}, -1.f, 1.f, data_gen);
    }
    if (s.output_dropout > 0) dropout = std::make_shared<nn::Dropout<float>>(s.output_dropout);
    if (s.loss == ShapeSpec::CrossEntropy) {
      classes = xt::xarray<std::int64_t>::from_shape({s.batch});
      for (auto& v : classes) v = data_gen.uniform() < 0.5 ? 0 : 1;
    } else if (s.loss == ShapeSpec::MSE) {
      target = uniform<float>({s.batch, 1}, -1.f, 1.f, data_gen);
    } else {
      xt::xarray<float> y = xt::xarray<float>::from_shape({s.batch, std::size_t(1)});
      for (auto& v : y) v = data_gen.uniform() < 0.5 ? 0.f : 1.f;
      target = Tensor(std::move(y));
    }
    adam = std::make_unique<nn::Adam<float>>(params);
  }

  // Inference on the first `batch` sequences of the data (all: batch 0):
  // every module in eval mode (no dropout), under no_grad. Returns the
  // model's output (batch, outputs).
  Tensor predict(std::size_t batch) {
    const std::size_t b = batch ? std::min(batch, spec.batch) : spec.batch;
    NoGradGuard no_grad;
    lstm->eval();
    Tensor x;
    if (spec.vocab) {
      if (predict_tokens.shape(1) != b) predict_tokens = xt::view(tokens, xt::all(), xt::range(0, b));
      x = embedding->forward(predict_tokens);
    } else {
      x = b == spec.batch ? dense_input : narrow(dense_input, 1, 0, b);
    }
    const auto states = lstm->forward(x, Tensor(), Tensor());
    const Tensor out = fc->forward(select(states.h_n, 0, 0));
    lstm->train();
    return out;
  }
  xt::xarray<std::int64_t> predict_tokens = xt::xarray<std::int64_t>::from_shape({0, 0});

  // Milliseconds of the last step's phases: forward, backward, optimizer.
  double phase_ms[3] = {0, 0, 0};
  // Heap allocations of the last step's phases (all threads).
  long phase_allocs[3] = {0, 0, 0};
  // MiB of heap live at the end of the last step's forward (the tape) and at
  // most during each phase.
  double forward_live_mib = 0, phase_peak_mib[3] = {0, 0, 0};

  float step() {
    using clock = std::chrono::steady_clock;
    const long a0 = allocations();
    const auto mark_peak = [](double* peak_mib) {
      if (peak_mib) *peak_mib = double(g_peak_live_bytes.load()) / (1 << 20);
      g_peak_live_bytes.store(g_live_bytes.load());
    };
    mark_peak(nullptr);
    const auto t0 = clock::now();
    adam->zero_grad();
    const Tensor x = spec.vocab ? embedding->forward(tokens) : dense_input;
    const auto states = lstm->forward(x, Tensor(), Tensor());
    Tensor last = select(states.h_n, 0, 0);  // (B, H): the last step's h
    if (dropout) last = dropout->forward(last);
    const Tensor out = fc->forward(last);
    Tensor loss;
    switch (spec.loss) {
      case ShapeSpec::MSE:
        loss = nn::mse_loss(out, target);
        break;
      case ShapeSpec::CrossEntropy:
        loss = nn::cross_entropy(out, classes);
        break;
      case ShapeSpec::BCEWithLogits:
        loss = nn::binary_cross_entropy_with_logits(out, target);
        break;
      case ShapeSpec::SigmoidBCE:
        loss = nn::binary_cross_entropy(sigmoid(out), target);
        break;
    }
    const auto t1 = clock::now();
    const long a1 = allocations();
    forward_live_mib = double(g_live_bytes.load()) / (1 << 20);
    mark_peak(&phase_peak_mib[0]);
    loss.backward();
    const auto t2 = clock::now();
    const long a2 = allocations();
    mark_peak(&phase_peak_mib[1]);
    adam->step();
    const auto t3 = clock::now();
    const long a3 = allocations();
    mark_peak(&phase_peak_mib[2]);
    phase_allocs[0] = a1 - a0;
    phase_allocs[1] = a2 - a1;
    phase_allocs[2] = a3 - a2;
    phase_ms[0] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    phase_ms[1] = std::chrono::duration<double, std::milli>(t2 - t1).count();
    phase_ms[2] = std::chrono::duration<double, std::milli>(t3 - t2).count();
    return loss.item();
  }
};

void BM_TrainStep(benchmark::State& state) {
  const ShapeSpec& spec = kShapes[state.range(0)];
  set_num_threads(static_cast<int>(state.range(1)));
  state.SetLabel(std::string(spec.name) + " blas_core=" + blas_core_name());
  const double rss_before = proc_status_mib("VmRSS:");
  Trainer trainer(spec);
  for (int i = 0; i < 3; ++i) trainer.step();  // warm up: buffers, Adam state
  const int n = timed_steps();
  std::vector<double> ms, phases[3], phase_allocs[3];
  long allocs = 0;
  for (auto _ : state) {
    ms.clear();
    const long a0 = allocations();
    for (int i = 0; i < n; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(trainer.step());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      for (int p = 0; p < 3; ++p) {
        phases[p].push_back(trainer.phase_ms[p]);
        phase_allocs[p].push_back(static_cast<double>(trainer.phase_allocs[p]));
      }
    }
    allocs = (allocations() - a0) / n;
  }
  const double med = median(ms);
  state.counters["median_ms"] = med;
  state.counters["min_ms"] = *std::min_element(ms.begin(), ms.end());
  state.counters["forward_ms"] = median(phases[0]);
  state.counters["backward_ms"] = median(phases[1]);
  state.counters["adam_ms"] = median(phases[2]);
  state.counters["gemm_gflops"] = gemm_gflop(spec) / (med * 1e-3);
  state.counters["allocs_per_step"] = static_cast<double>(allocs);
  state.counters["allocs_per_timestep"] = static_cast<double>(allocs) / double(spec.steps);
  // Per time step by phase: the forward's are the tape's records (node,
  // value, rule) that backward needs; the backward's are gradient buffers.
  state.counters["fwd_allocs_per_timestep"] = median(phase_allocs[0]) / double(spec.steps);
  state.counters["bwd_allocs_per_timestep"] = median(phase_allocs[1]) / double(spec.steps);
  state.counters["adam_allocs"] = median(phase_allocs[2]);
  state.counters["peak_rss_mib"] = proc_status_mib("VmHWM:");
  state.counters["rss_growth_mib"] = proc_status_mib("VmHWM:") - rss_before;
  // Heap live at the end of forward (parameters, optimizer state and the
  // tape), and the most live during backward.
  state.counters["heap_forward_mib"] = trainer.forward_live_mib;
  state.counters["heap_peak_backward_mib"] = trainer.phase_peak_mib[1];
  state.counters["threads"] = num_threads();
}
BENCHMARK(BM_TrainStep)
    ->ArgNames({"shape", "threads"})
    ->ArgsProduct({{0, 1, 2, 3}, {1, 2}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Inference: the forward of the trained model under no_grad, in eval mode,
// on the shape's whole batch (batch 0; the zoo's evaluation of a validation
// set, batch by batch) or on `batch` sequences (1: the latency of one
// review in the sentiment example). Counters: median_ms per forward, peak RSS.
void BM_Predict(benchmark::State& state) {
  const ShapeSpec& spec = kShapes[state.range(0)];
  set_num_threads(static_cast<int>(state.range(1)));
  const std::size_t batch = static_cast<std::size_t>(state.range(2));
  state.SetLabel(std::string(spec.name) + " blas_core=" + blas_core_name());
  Trainer trainer(spec);
  for (int i = 0; i < 3; ++i) benchmark::DoNotOptimize(trainer.predict(batch).data());
  // Short calls are timed more often, so that the median is stable.
  const int n = batch == 1 ? 10 * timed_steps() : timed_steps();
  std::vector<double> ms;
  long allocs = 0;
  for (auto _ : state) {
    const long a0 = allocations();
    for (int i = 0; i < n; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(trainer.predict(batch).data());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    allocs = (allocations() - a0) / n;
  }
  state.counters["median_ms"] = median(ms);
  // Heap allocations of one forward (all threads), and per time step.
  state.counters["allocs_per_call"] = static_cast<double>(allocs);
  state.counters["allocs_per_timestep"] = static_cast<double>(allocs) / double(spec.steps);
  state.counters["min_ms"] = *std::min_element(ms.begin(), ms.end());
  state.counters["peak_rss_mib"] = proc_status_mib("VmHWM:");
}
BENCHMARK(BM_Predict)
    ->ArgNames({"shape", "threads", "batch"})
    ->ArgsProduct({{0, 1, 2, 3}, {1, 2}, {0, 1}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Allocations per time step in steady state: the slope of a training
// step's allocation count between T and 2T time steps (the per-step
// constant cancels), for the imdb-torch shape (shape 0) and sine (1).
void BM_AllocationsPerTimeStep(benchmark::State& state) {
  ShapeSpec lo = state.range(0) == 0 ? kShapes[2] : kShapes[0];
  ShapeSpec hi = lo;
  lo.steps = 50;
  hi.steps = 100;
  set_num_threads(1);
  state.SetLabel(std::string(lo.name));
  Trainer a(lo), b(hi);
  for (int i = 0; i < 2; ++i) a.step(), b.step();
  long per_lo = 0, per_hi = 0;
  for (auto _ : state) {
    long c0 = allocations();
    a.step();
    per_lo = allocations() - c0;
    c0 = allocations();
    b.step();
    per_hi = allocations() - c0;
  }
  state.counters["allocs_per_timestep"] = double(per_hi - per_lo) / double(hi.steps - lo.steps);
  state.counters["allocs_per_step_T50"] = double(per_lo);
  state.counters["allocs_step_constant"] = double(per_lo) - double(per_hi - per_lo) / double(hi.steps - lo.steps) * 50;
}
BENCHMARK(BM_AllocationsPerTimeStep)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

// The sgemm peak the training steps are compared with: a square product
// large enough for OpenBLAS to reach its kernel speed, and the per-step
// shapes of the imdb LSTM (B 64, 4H 512, K 128) for reference.
void BM_SgemmPeak(benchmark::State& state) {
  const std::size_t m = state.range(0), n = state.range(1), k = state.range(2);
  set_num_threads(static_cast<int>(state.range(3)));
  state.SetLabel("blas_core=" + blas_core_name());
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n, 0.f);
  blas::gemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, c.data(), n);
  for (auto _ : state) {
    blas::gemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["gflops"] =
      benchmark::Counter(2.0 * double(m) * double(n) * double(k), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgemmPeak)
    ->ArgNames({"m", "n", "k", "threads"})
    ->Args({1536, 1536, 1536, 1})
    ->Args({1536, 1536, 1536, 2})
    ->Args({64, 512, 128, 1})
    ->Args({64, 512, 128, 2})
    ->Args({12800, 512, 64, 1})
    ->Args({12800, 512, 64, 2})
    ->MinTime(0.5)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
