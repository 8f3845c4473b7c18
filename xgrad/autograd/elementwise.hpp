#pragma once
// Elementwise ops, all differentiable. Binary ops broadcast like NumPy
// ((3,1) + (1,4) -> (3,4)); their backward sums the gradient back to each
// input's shape. Shape mismatches throw std::invalid_argument naming the op
// and both shapes.

#include <type_traits>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

template <class T>
BasicTensor<T> add(const BasicTensor<T>& a, const BasicTensor<T>& b);
template <class T>
BasicTensor<T> sub(const BasicTensor<T>& a, const BasicTensor<T>& b);
template <class T>
BasicTensor<T> mul(const BasicTensor<T>& a, const BasicTensor<T>& b);
template <class T>
BasicTensor<T> div(const BasicTensor<T>& a, const BasicTensor<T>& b);

// Scalar forms: a + s, a - s, s - a, a * s, a / s, s / a.
template <class T>
BasicTensor<T> add_scalar(const BasicTensor<T>& a, T s);
template <class T>
BasicTensor<T> rsub_scalar(T s, const BasicTensor<T>& a);
template <class T>
BasicTensor<T> mul_scalar(const BasicTensor<T>& a, T s);
template <class T>
BasicTensor<T> rdiv_scalar(T s, const BasicTensor<T>& a);

template <class T>
BasicTensor<T> neg(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> exp(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> log(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> sqrt(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> pow(const BasicTensor<T>& a, T exponent);
template <class T>
BasicTensor<T> abs(const BasicTensor<T>& a);  // d|x|/dx = sign(x), 0 at 0
template <class T>
BasicTensor<T> sigmoid(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> tanh(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> relu(const BasicTensor<T>& a);
// log(1 + exp(x)), computed stably; derivative sigmoid(x).
template <class T>
BasicTensor<T> softplus(const BasicTensor<T>& a);
// Gradient passes where low <= x <= high (as torch.clamp).
template <class T>
BasicTensor<T> clamp(const BasicTensor<T>& a, T low, T high);
template <class T>
BasicTensor<T> sin(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> cos(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> erf(const BasicTensor<T>& a);  // the Gauss error function
// Activations with PyTorch's definitions: gelu is the exact a * Phi(a)
// (approximate='none'); silu is a * sigmoid(a); leaky_relu and elu take
// their slope and alpha (PyTorch's defaults 0.01 and 1). At a = 0 the
// derivative of leaky_relu is negative_slope and elu's is alpha, as PyTorch's.
template <class T>
BasicTensor<T> gelu(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> silu(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> leaky_relu(const BasicTensor<T>& a, T negative_slope = T(0.01));
template <class T>
BasicTensor<T> elu(const BasicTensor<T>& a, T alpha = T(1));
// Elementwise larger/smaller of a and b, broadcast; where they are equal
// each gets half the gradient (torch.maximum/minimum).
template <class T>
BasicTensor<T> maximum(const BasicTensor<T>& a, const BasicTensor<T>& b);
template <class T>
BasicTensor<T> minimum(const BasicTensor<T>& a, const BasicTensor<T>& b);
// condition != 0 picks a, else b; all three broadcast together. The
// condition gets no gradient.
template <class T>
BasicTensor<T> where(const BasicTensor<T>& condition, const BasicTensor<T>& a, const BasicTensor<T>& b);
// a where mask is false, `value` where it is true (torch.masked_fill); the
// mask broadcasts to a's shape. Filled elements pass no gradient to a.
template <class T>
BasicTensor<T> masked_fill(const BasicTensor<T>& a, const xt::xarray<bool>& mask, T value);
// a * mask for a constant mask (e.g. dropout): the mask gets no gradient.
template <class T>
BasicTensor<T> mask(const BasicTensor<T>& a, const BasicTensor<T>& mask_values);
// The same, consuming `a`: if nothing else can reach a's value (a
// temporary, such as a block of a sequence cut out to be masked), the mask
// is applied in a's buffer, which becomes the result, instead of a copy
// that would live beside it until backward.
template <class T>
BasicTensor<T> mask(BasicTensor<T>&& a, const BasicTensor<T>& mask_values);

// Operators.
template <class T>
BasicTensor<T> operator+(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return add(a, b);
}
template <class T>
BasicTensor<T> operator-(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return sub(a, b);
}
template <class T>
BasicTensor<T> operator*(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return mul(a, b);
}
template <class T>
BasicTensor<T> operator/(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return div(a, b);
}
template <class T>
BasicTensor<T> operator-(const BasicTensor<T>& a) {
  return neg(a);
}

template <class S>
using if_arithmetic = std::enable_if_t<std::is_arithmetic_v<S>, int>;

template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator+(const BasicTensor<T>& a, S s) {
  return add_scalar(a, static_cast<T>(s));
}
template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator+(S s, const BasicTensor<T>& a) {
  return add_scalar(a, static_cast<T>(s));
}
template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator-(const BasicTensor<T>& a, S s) {
  return add_scalar(a, static_cast<T>(-s));
}
template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator-(S s, const BasicTensor<T>& a) {
  return rsub_scalar(static_cast<T>(s), a);
}
template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator*(const BasicTensor<T>& a, S s) {
  return mul_scalar(a, static_cast<T>(s));
}
template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator*(S s, const BasicTensor<T>& a) {
  return mul_scalar(a, static_cast<T>(s));
}
template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator/(const BasicTensor<T>& a, S s) {
  return mul_scalar(a, static_cast<T>(1) / static_cast<T>(s));
}
template <class T, class S, if_arithmetic<S> = 0>
BasicTensor<T> operator/(S s, const BasicTensor<T>& a) {
  return rdiv_scalar(static_cast<T>(s), a);
}

}  // namespace xgrad
