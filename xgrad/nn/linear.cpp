#include "xgrad/nn/linear.hpp"

#include <cmath>
#include <stdexcept>

#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/shape_ops.hpp"
#include "xgrad/nn/init.hpp"

namespace xgrad::nn {

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, bool with_bias) : in_features(in), out_features(out) {
  if (in == 0 || out == 0) throw std::invalid_argument("Linear: in_features and out_features must be positive");
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = this->register_parameter("weight", BasicTensor<T>::zeros({out, in}));
  init::uniform_(weight, -bound, bound);
  if (with_bias) {
    bias = this->register_parameter("bias", BasicTensor<T>::zeros({out}));
    init::uniform_(bias, -bound, bound);
  }
}

template <class T>
BasicTensor<T> Linear<T>::forward(const BasicTensor<T>& x) {
  if (x.dim() < 1 || x.size(-1) != in_features) {
    throw std::invalid_argument("Linear: expected input (..., " + std::to_string(in_features) + "), got shape " +
                                shape_to_string(x.shape()));
  }
  if (x.dim() == 1) return reshape(linear(reshape(x, {1, -1}), weight, bias), {-1});
  return linear(x, weight, bias);
}

template class Linear<float>;
template class Linear<double>;

}  // namespace xgrad::nn
