#pragma once
// Keras-style progress of one epoch: on a terminal, a live bar (step i/n,
// elapsed, ms/step, ETA, running metrics); in a log (not a TTY), one line
// per epoch. fit draws it when verbose; a hand-written loop can too.

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace xgrad::train {

// Figures in the order they are shown: {"loss", 0.12}, {"val_loss", 0.2}, ...
using ProgressMetrics = std::vector<std::pair<std::string, double>>;

class EpochProgress {
 public:
  // epoch is 1-based, of `epochs`; `steps` batches per epoch. quiet: draw nothing.
  EpochProgress(std::size_t epoch, std::size_t epochs, std::size_t steps, bool quiet);
  // After step `step` (1-based) with the running metrics (redrawn at most every 100 ms).
  void update(std::size_t step, const ProgressMetrics& running);
  // The epoch's closing line with all its metrics; returns the seconds taken.
  double finish(const ProgressMetrics& metrics);

 private:
  std::size_t epoch_, epochs_, steps_;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "loss: 0.1234 - acc: 0.9000" (scientific notation for tiny or huge values).
std::string format_metrics(const ProgressMetrics& metrics);

}  // namespace xgrad::train
