#pragma once
// Reductions, all differentiable. Axes may be negative (counted from the
// end). Without keepdims the reduced axes are removed; a full reduction
// gives a 0-d tensor (shape {}).

#include <cstddef>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

using Axes = std::vector<std::ptrdiff_t>;

template <class T>
BasicTensor<T> sum(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> sum(const BasicTensor<T>& a, const Axes& axes, bool keepdims = false);
template <class T>
BasicTensor<T> mean(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> mean(const BasicTensor<T>& a, const Axes& axes, bool keepdims = false);
// Maximum along one axis; the gradient goes to the first maximal element
// of each reduced line (as torch.max(dim)).
template <class T>
BasicTensor<T> max(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims = false);
// log(sum(exp(a))) along an axis, computed stably (max subtracted).
template <class T>
BasicTensor<T> logsumexp(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims = false);
// softmax and log_softmax along an axis; the output keeps a's shape.
template <class T>
BasicTensor<T> softmax(const BasicTensor<T>& a, std::ptrdiff_t axis);
template <class T>
BasicTensor<T> log_softmax(const BasicTensor<T>& a, std::ptrdiff_t axis);

}  // namespace xgrad
