#include "xgrad/autograd/anomaly.hpp"

#include <cmath>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/function.hpp"  // detail::anomaly_mode, where the checks run

namespace xgrad {

template <class T>
bool all_finite(const xt::xarray<T>& values) {
  const T* data = values.data();
  for (std::size_t i = 0, n = values.size(); i < n; ++i)
    if (!std::isfinite(data[i])) return false;
  return true;
}
template bool all_finite(const xt::xarray<float>&);
template bool all_finite(const xt::xarray<double>&);

bool detect_anomaly_enabled() { return detail::anomaly_mode; }
void set_detect_anomaly(bool enabled) { detail::anomaly_mode = enabled; }

}  // namespace xgrad
