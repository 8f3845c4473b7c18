#pragma once
// Learning-rate schedulers with PyTorch's rules. Call step() once per epoch
// (ReduceLROnPlateau: step(metric) with the monitored value).

#include <cstddef>
#include <limits>

#include "xgrad/nn/optimizer.hpp"

namespace xgrad::nn {

// lr = initial_lr * gamma^(epoch / step_size) (integer division).
template <class T = float>
class StepLR {
 public:
  StepLR(Optimizer<T>& optimizer, std::size_t step_size, double gamma = 0.1);
  void step();
  std::size_t epoch() const { return epoch_; }
  void set_epoch(std::size_t epoch);  // for resuming: applies that epoch's lr

 private:
  Optimizer<T>& optimizer_;
  std::size_t step_size_;
  double gamma_, initial_lr_;
  std::size_t epoch_ = 0;
};

struct PlateauOptions {
  bool maximize = false;      // mode 'max' (e.g. accuracy) instead of 'min' (loss)
  double factor = 0.1;        // new lr = lr * factor
  std::size_t patience = 10;  // bad epochs tolerated before reducing
  double threshold = 1e-4;    // relative improvement that counts as better
  std::size_t cooldown = 0;   // epochs to wait after a reduction
  double min_lr = 0.0;
  double eps = 1e-8;  // reductions smaller than this are skipped
};

template <class T = float>
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer<T>& optimizer, PlateauOptions options = {});
  // Feeds one epoch's metric; returns true if the lr was reduced.
  bool step(double metric);
  double best() const { return best_; }

 private:
  Optimizer<T>& optimizer_;
  PlateauOptions options_;
  double best_;
  std::size_t bad_epochs_ = 0, cooldown_left_ = 0;
};

extern template class StepLR<float>;
extern template class StepLR<double>;
extern template class ReduceLROnPlateau<float>;
extern template class ReduceLROnPlateau<double>;

}  // namespace xgrad::nn
