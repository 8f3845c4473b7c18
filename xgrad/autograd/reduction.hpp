#pragma once
// Reductions, all differentiable. Axes may be negative (counted from the
// end). Without keepdims the reduced axes are removed; a full reduction
// gives a 0-d tensor (shape {}).

#include <cstddef>
#include <cstdint>
#include <utility>
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

// Running sum along an axis (torch.cumsum); the output keeps a's shape.
template <class T>
BasicTensor<T> cumsum(const BasicTensor<T>& a, std::ptrdiff_t axis);
// Variance and standard deviation over `axes`, with Bessel's correction
// (divide by n - 1) when unbiased, as torch.var/torch.std. (stddev, not
// std: a function named std would hide the namespace.)
template <class T>
BasicTensor<T> var(const BasicTensor<T>& a, const Axes& axes, bool unbiased = true, bool keepdims = false);
template <class T>
BasicTensor<T> stddev(const BasicTensor<T>& a, const Axes& axes, bool unbiased = true, bool keepdims = false);
// The 2-norm over `axes` (all axes when empty), as torch.linalg.vector_norm;
// the gradient at a zero norm is 0.
template <class T>
BasicTensor<T> norm(const BasicTensor<T>& a, const Axes& axes = {}, bool keepdims = false);

// The k largest (or smallest) elements along an axis, sorted, and their
// indices (torch.topk; ties keep their order). values: a's shape with k
// along `axis`, differentiable (a gather); indices: the same shape, int64.
template <class T>
std::pair<BasicTensor<T>, xt::xarray<std::int64_t>> topk(const BasicTensor<T>& a, std::size_t k,
                                                         std::ptrdiff_t axis = -1, bool largest = true);

// Index of the first largest / smallest element along an axis (NaN counts
// as largest and smallest, as in torch.argmax/argmin). Not differentiable.
template <class T>
xt::xarray<std::int64_t> argmax(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims = false);
template <class T>
xt::xarray<std::int64_t> argmin(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims = false);

}  // namespace xgrad
