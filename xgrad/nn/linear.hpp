#pragma once
// Linear: y = x W^T + b (torch.nn.Linear). x (..., in_features) ->
// (..., out_features). weight (out, in) and bias (out) start uniform in
// +-1/sqrt(in_features), PyTorch's default.

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

template <class T = float>
class Linear : public Module<T> {
 public:
  Linear(std::size_t in_features, std::size_t out_features, bool bias = true);
  BasicTensor<T> forward(const BasicTensor<T>& x) override;
  std::string type_name() const override { return "Linear"; }
  BasicTensor<T> weight, bias;  // bias undefined when bias = false
  std::size_t in_features, out_features;
};

extern template class Linear<float>;
extern template class Linear<double>;

}  // namespace xgrad::nn
