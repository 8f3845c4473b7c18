#include "xgrad/nn/layer_norm.hpp"

#include <stdexcept>

#include "xgrad/autograd/normalization.hpp"

namespace xgrad::nn {

template <class T>
LayerNorm<T>::LayerNorm(Shape shape, double epsilon, bool elementwise_affine)
    : normalized_shape(std::move(shape)), eps(epsilon) {
  if (normalized_shape.empty()) throw std::invalid_argument("LayerNorm: normalized_shape is empty");
  for (std::size_t d : normalized_shape)
    if (d == 0) throw std::invalid_argument("LayerNorm: normalized_shape has a 0 dimension");
  if (!(eps > 0)) throw std::invalid_argument("LayerNorm: eps must be positive");
  if (elementwise_affine) {
    weight = this->register_parameter("weight", BasicTensor<T>::ones(normalized_shape));
    bias = this->register_parameter("bias", BasicTensor<T>::zeros(normalized_shape));
  }
}

template <class T>
BasicTensor<T> LayerNorm<T>::forward(const BasicTensor<T>& x) {
  const Shape shape = x.shape();
  const std::size_t k = normalized_shape.size();
  if (shape.size() < k || Shape(shape.end() - static_cast<std::ptrdiff_t>(k), shape.end()) != normalized_shape) {
    throw std::invalid_argument("LayerNorm: input of shape " + shape_to_string(shape) + " does not end in " +
                                shape_to_string(normalized_shape));
  }
  return layer_norm(x, k, weight, bias, static_cast<T>(eps));
}

template class LayerNorm<float>;
template class LayerNorm<double>;

}  // namespace xgrad::nn
