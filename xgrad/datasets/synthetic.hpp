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

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

// One split of a sequence-classification set.
struct LabeledSequences {
  Tensor inputs{};                     // (N, T, 1) float32 (the doubles rounded)
  TensorD inputs_f64{};                // (N, T, 1) float64, the exact draws
  std::vector<std::int64_t> labels{};  // (N,) class 0 or 1
};

struct SequenceClassificationData {
  LabeledSequences train{}, test{};
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
  std::size_t steps = 50;  // sequence length T
  double noise = 1.0;      // the other values are uniform in [-noise, noise)
  std::size_t train_count = 800;
  std::uint32_t seed = 0;
  // The marked step is drawn uniformly from the first marker_window steps
  // (0 = the first tenth of the sequence, at least 1).
  std::size_t marker_window = 0;
};

// Two features per step: X[n, t, 0] a value, X[n, t, 1] a marker. Exactly
// one step p per sequence, early in it, is marked (1, else 0); its value is
// +1 (label 1) or -1 (label 0), every other value is uniform noise. A model
// must store the marked value when it sees the marker and keep it, through
// the noise, to the end: an LSTM's input and forget gates do this; a plain
// RNN must learn it through gradients that vanish over the T - p steps.
// (With the decisive value always at step 0 and no marker, a tanh RNN
// simply latches its first input, which proves nothing about memory.)
// Throws std::invalid_argument if train_count > samples or steps == 0.
SequenceClassificationData long_dependency_task(const LongDependencyOptions& options = {});

}  // namespace xgrad::data
