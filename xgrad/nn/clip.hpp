#pragma once
// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn {

// Scales all gradients by min(1, max_norm / (total_norm + 1e-6)), where
// total_norm is the 2-norm of all gradients together; returns total_norm
// (before clipping). Parameters without a gradient are skipped. A NaN or
// infinite norm throws std::domain_error.
template <class T>
double clip_grad_norm(const std::vector<BasicTensor<T>>& parameters, double max_norm);

// Clamps every gradient element to [-clip_value, clip_value].
template <class T>
void clip_grad_value(const std::vector<BasicTensor<T>>& parameters, double clip_value);

}  // namespace xgrad::nn
