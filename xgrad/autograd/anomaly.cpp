#include "xgrad/autograd/anomaly.hpp"

#include <cmath>

#include <xtensor/xarray.hpp>

#include <string>
#include <vector>

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

namespace detail {

namespace {
// The gradient targets the running rule wrote, while anomaly mode is on. The
// rule holds handles to them, so the nodes outlive the check after it.
struct NotedGradient {
  void* node;
  bool is_double;
};
thread_local std::vector<NotedGradient> noted_gradients;

template <class T>
std::string non_finite_kind(const T* data, std::size_t n) {
  bool nan = false, inf = false;
  for (std::size_t i = 0; i < n; ++i) {
    nan |= std::isnan(data[i]);
    inf |= std::isinf(data[i]);
  }
  return nan && inf ? "NaN and inf" : nan ? "NaN" : "inf";
}

template <class T>
void check_noted(const char* op, const TensorNode<T>& output, const NotedGradient& noted) {
  auto* node = static_cast<TensorNode<T>*>(noted.node);
  wait_grad_job(*node);  // an asynchronous job may still be adding into it
  if (!node->has_grad || all_finite(node->grad)) return;
  throw AnomalyError(std::string("detect_anomaly: the backward of '") + op + "' (output " +
                     shape_to_string(to_shape(output.gradient_shape())) + ") produced " +
                     non_finite_kind(node->grad.data(), node->grad.size()) + " in the gradient of its input of shape " +
                     shape_to_string(to_shape(node->gradient_shape())) +
                     (!output.has_grad || all_finite(output.grad) ? " from a finite output gradient" : ""));
}
}  // namespace

void forget_noted_gradients() { noted_gradients.clear(); }

template <class T>
void note_gradient_target(TensorNode<T>* node) {
  noted_gradients.push_back({node, std::is_same_v<T, double>});
}
template void note_gradient_target(TensorNode<float>*);
template void note_gradient_target(TensorNode<double>*);

template <class T>
void check_forward_anomaly(const char* op, const xt::xarray<T>& value) {
  if (all_finite(value)) return;
  throw AnomalyError(std::string("detect_anomaly: the forward of '") + op + "' produced " +
                     non_finite_kind(value.data(), value.size()) + " in its output of shape " +
                     shape_to_string(to_shape(value.shape())) +
                     " (the first recorded op to do so; check the range of its inputs)");
}

template <class T>
void check_backward_anomaly(const char* op, const TensorNode<T>& output) {
  // Copied first: checking may wait for jobs, and a throw must leave the list clean.
  std::vector<NotedGradient> noted;
  noted.swap(noted_gradients);
  for (const auto& n : noted) {
    if (n.is_double != std::is_same_v<T, double>) continue;
    check_noted(op, output, n);
  }
}

template void check_forward_anomaly(const char*, const xt::xarray<float>&);
template void check_forward_anomaly(const char*, const xt::xarray<double>&);
template void check_backward_anomaly(const char*, const TensorNode<float>&);
template void check_backward_anomaly(const char*, const TensorNode<double>&);

}  // namespace detail

}  // namespace xgrad
