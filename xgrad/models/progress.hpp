#pragma once
// Keras-style progress: on a terminal, a live bar per epoch (step i/n,
// elapsed, ms/step, ETA, running metrics); in a log (not a TTY), one line
// per epoch. Also the stop flag: the first SIGINT (Ctrl-C) or SIGTERM asks
// the running experiment to stop after the current step and save what it
// did; a second one exits at once.

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace xgrad::zoo {

using Metrics = std::vector<std::pair<std::string, double>>;

class EpochProgress {
 public:
  EpochProgress(std::size_t epoch, std::size_t epochs, std::size_t steps, bool quiet);
  // After step `step` (1-based) with the running metrics.
  void update(std::size_t step, const Metrics& running);
  // The epoch's closing line with all its metrics; returns the seconds taken.
  double finish(const Metrics& metrics);

 private:
  std::size_t epoch_, epochs_, steps_;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Formats "name: value" pairs Keras-style ("loss: 0.1234 - acc: 0.9000").
std::string format_metrics(const Metrics& metrics);

// Installs the SIGINT and SIGTERM handlers for the duration of a run.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};
bool interrupted();

}  // namespace xgrad::zoo
