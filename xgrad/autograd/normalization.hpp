#pragma once
// Normalization ops, differentiable (composed from reductions and
// elementwise ops, so the tape derives their gradients).

#include <cstddef>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// torch.nn.functional.layer_norm over the last `normalized_axes` axes of a:
// (a - mean) / sqrt(var + eps) * weight + bias, with the biased variance.
// weight and bias (optional: undefined tensors) have the shape of those
// last axes.
template <class T>
BasicTensor<T> layer_norm(const BasicTensor<T>& a, std::size_t normalized_axes, const BasicTensor<T>& weight,
                          const BasicTensor<T>& bias, T eps = T(1e-5));

}  // namespace xgrad
