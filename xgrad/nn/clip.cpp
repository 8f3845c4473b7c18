#include "xgrad/nn/clip.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <xtensor/xarray.hpp>

namespace xgrad::nn {

template <class T>
double clip_grad_norm(const std::vector<BasicTensor<T>>& parameters, double max_norm) {
  if (!(max_norm > 0)) throw std::invalid_argument("clip_grad_norm: max_norm must be positive");
  double sum_sq = 0;
  for (const auto& p : parameters) {
    if (!p.has_grad()) continue;
    for (T g : p.grad()) sum_sq += static_cast<double>(g) * g;
  }
  const double total = std::sqrt(sum_sq);
  if (!std::isfinite(total)) {
    throw std::domain_error("clip_grad_norm: the total gradient norm is not finite (NaN or inf in a gradient)");
  }
  const double coefficient = std::min(1.0, max_norm / (total + 1e-6));
  if (coefficient < 1.0) {
    for (auto p : parameters)
      if (p.has_grad()) p.mutable_grad() *= static_cast<T>(coefficient);
  }
  return total;
}

template <class T>
void clip_grad_value(const std::vector<BasicTensor<T>>& parameters, double clip_value) {
  if (!(clip_value > 0)) throw std::invalid_argument("clip_grad_value: clip_value must be positive");
  const T c = static_cast<T>(clip_value);
  for (auto p : parameters)
    if (p.has_grad())
      for (auto& g : p.mutable_grad()) g = std::clamp(g, -c, c);
}

template double clip_grad_norm(const std::vector<BasicTensor<float>>&, double);
template double clip_grad_norm(const std::vector<BasicTensor<double>>&, double);
template void clip_grad_value(const std::vector<BasicTensor<float>>&, double);
template void clip_grad_value(const std::vector<BasicTensor<double>>&, double);

}  // namespace xgrad::nn
