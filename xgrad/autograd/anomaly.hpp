#pragma once
// Anomaly detection (torch.autograd.detect_anomaly): while enabled on the
// calling thread, every recorded op checks its output value and every
// backward rule checks the gradients it wrote, and the first NaN or inf
// throws AnomalyError naming the op and the shapes:
//
//   DetectAnomalyGuard anomaly;   // for this scope
//   Tensor loss = model.forward(x);  // "detect_anomaly: the forward of 'log' produced NaN or inf ..."
//   loss.backward();                 // "detect_anomaly: the backward of 'div' produced NaN or inf ..."
//
// It costs a pass over every value and gradient, so it is a debugging mode,
// off by default (as in PyTorch).

#include <stdexcept>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

struct AnomalyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// True when no element of `values` is NaN or inf (what the mode checks;
// also used by checkpoint loading and the zoo's divergence checks).
template <class T>
bool all_finite(const xt::xarray<T>& values);

bool detect_anomaly_enabled();          // for the calling thread
void set_detect_anomaly(bool enabled);  // for the calling thread

// RAII: anomaly detection on (or off) for a scope, restoring the previous mode.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool enabled = true) : previous_(detect_anomaly_enabled()) {
    set_detect_anomaly(enabled);
  }
  ~DetectAnomalyGuard() { set_detect_anomaly(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace xgrad
