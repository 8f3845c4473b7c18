#pragma once
// Loss functions with PyTorch's definitions and reductions. Inputs and
// targets must have the same shape (no silent broadcasting). A loss that
// comes out NaN throws std::domain_error naming the loss, so a diverging
// run stops with a message instead of training on garbage.

#include <cstdint>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn {

enum class Reduction { Mean, Sum, None };

// (input - target)^2
template <class T>
BasicTensor<T> mse_loss(const BasicTensor<T>& input, const BasicTensor<T>& target, Reduction r = Reduction::Mean);
// |input - target|
template <class T>
BasicTensor<T> l1_loss(const BasicTensor<T>& input, const BasicTensor<T>& target, Reduction r = Reduction::Mean);
// -(y log p + (1 - y) log(1 - p)) on probabilities p in [0, 1]; each log is
// clamped at -100 as PyTorch does, so p = 0 or 1 gives a finite loss.
template <class T>
BasicTensor<T> binary_cross_entropy(const BasicTensor<T>& probabilities, const BasicTensor<T>& target,
                                    Reduction r = Reduction::Mean);
// The same on logits, computed stably: softplus(x) - x y.
template <class T>
BasicTensor<T> binary_cross_entropy_with_logits(const BasicTensor<T>& logits, const BasicTensor<T>& target,
                                                Reduction r = Reduction::Mean);
// Negative log-likelihood: log_probs (N, C), targets N class indices in
// [0, C); -log_probs[i, target_i], averaged over N for Mean.
template <class T>
BasicTensor<T> nll_loss(const BasicTensor<T>& log_probs, const xt::xarray<std::int64_t>& targets,
                        Reduction r = Reduction::Mean);
// nll_loss(log_softmax(logits, 1), targets): logits (N, C).
template <class T>
BasicTensor<T> cross_entropy(const BasicTensor<T>& logits, const xt::xarray<std::int64_t>& targets,
                             Reduction r = Reduction::Mean);

}  // namespace xgrad::nn
