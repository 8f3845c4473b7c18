#include "autograd/anomaly.hpp"

#include "autograd/function.hpp"  // detail::anomaly_mode, where the checks run

namespace xgrad {

bool detect_anomaly_enabled() { return detail::anomaly_mode; }
void set_detect_anomaly(bool enabled) { detail::anomaly_mode = enabled; }

}  // namespace xgrad
