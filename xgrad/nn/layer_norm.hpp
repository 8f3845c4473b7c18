#pragma once
// LayerNorm (torch.nn.LayerNorm): normalizes over the last axes, whose
// shape is `normalized_shape`: x (..., *normalized_shape) -> same shape.
// weight starts at 1 and bias at 0 (both of normalized_shape) when
// elementwise_affine, PyTorch's default.

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

template <class T = float>
class LayerNorm : public Module<T> {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  BasicTensor<T> forward(const BasicTensor<T>& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  BasicTensor<T> weight, bias;  // undefined without elementwise_affine
  Shape normalized_shape;
  double eps;
};

extern template class LayerNorm<float>;
extern template class LayerNorm<double>;

}  // namespace xgrad::nn
