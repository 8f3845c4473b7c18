#pragma once
// Seeded synthetic sequence-classification data.
//
//  - sum_threshold_task: lab L6, bit-identical to NumPy:
//      np.random.seed(42); X = np.random.rand(1000, 10, 1)
//      y = (X.sum(axis=1) > 5).astype(int)      # summed in double
//      first 800 train, last 200 test
//  - long_dependency_task: for the RNN-vs-LSTM comparison (lab L5's stated
//    objective): the label is decided by the first step alone, every later
//    step is noise, so a model must carry information across the whole sequence.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "autograd/tensor.hpp"

namespace xgrad::data {

// One split of a sequence-classification set.
struct LabeledSequences {
  Tensor inputs;                     // (N, T, 1) float32 (the doubles rounded)
  TensorD inputs_f64;                // (N, T, 1) float64, the exact draws
  std::vector<std::int32_t> labels;  // (N,) class 0 or 1
};

struct SequenceClassificationData {
  LabeledSequences train, test;
};

struct SumThresholdOptions {
  std::size_t samples = 1000;
  std::size_t steps = 10;
  double threshold = 5.0;  // label 1 iff the sum over steps > threshold
  std::size_t train_count = 800;
  std::uint32_t seed = 42;
};

// Lab L6 (see top). X[n, t, 0] is the (n * steps + t)-th draw of
// Generator(seed).uniform(), i.e. np.random.rand's C order. Throws
// std::invalid_argument if train_count > samples.
SequenceClassificationData sum_threshold_task(const SumThresholdOptions& options = {});

struct LongDependencyOptions {
  std::size_t samples = 1000;
  std::size_t steps = 50;       // sequence length T
  double noise = 1.0;           // the later steps are uniform in [-noise, noise)
  std::size_t train_count = 800;
  std::uint32_t seed = 0;
};

// X[n, 0, 0] is +1 (label 1) or -1 (label 0) with equal probability and
// X[n, t, 0] for t >= 1 is uniform noise that carries no information. A
// model that reads the sequence front to back must remember step 0 for T-1
// steps: easy for an LSTM, hard for a plain RNN as T grows. Throws
// std::invalid_argument if train_count > samples or steps == 0.
SequenceClassificationData long_dependency_task(const LongDependencyOptions& options = {});

}  // namespace xgrad::data
