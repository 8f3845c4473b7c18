#pragma once
// Shape ops, all differentiable: reshape, narrow/slice, chunk/split,
// concat/stack, index_select (gathering rows by integer indices, what an
// embedding needs), unsqueeze/squeeze. Outputs are contiguous copies; the
// backward of a piece adds its gradient into the matching part of the
// input's gradient.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// New shape with the same element count; one entry may be -1 (inferred).
template <class T>
BasicTensor<T> reshape(const BasicTensor<T>& a, const std::vector<std::ptrdiff_t>& shape);
// The same, consuming `a`: if nothing else can reach a's value (a temporary,
// such as a concat made only to be reshaped), the result takes its buffer
// instead of copying it; gradients still flow to a.
template <class T>
BasicTensor<T> reshape(BasicTensor<T>&& a, const std::vector<std::ptrdiff_t>& shape);
// Indices along an axis follow PyTorch: a negative one counts from the end
// (-1 is the last).
//
// a[..., start:start+length, ...] along `axis` (torch.narrow); the range
// must lie inside the axis.
template <class T>
BasicTensor<T> narrow(const BasicTensor<T>& a, std::ptrdiff_t axis, std::ptrdiff_t start, std::size_t length);
// a[..., start:end:step, ...] along `axis` (Python slicing: start and end
// are clamped to the axis, so slice(a, 1, -3, slice_end) is a[:, -3:] and
// an empty range gives an empty axis); step >= 1.
inline constexpr std::ptrdiff_t slice_end = PTRDIFF_MAX;
template <class T>
BasicTensor<T> slice(const BasicTensor<T>& a, std::ptrdiff_t axis, std::ptrdiff_t start, std::ptrdiff_t end,
                     std::size_t step = 1);
// a[..., index, ...]: removes `axis` (torch.select), e.g. one time step
// (B, F) of a time-major (T, B, F) sequence, or select(x, 1, -1) the last.
template <class T>
BasicTensor<T> select(const BasicTensor<T>& a, std::ptrdiff_t axis, std::ptrdiff_t index);
// torch.unbind: every index along `axis`, as select would give them, from
// one op (one record, one pass over the gradient), e.g. all time steps
// (B, F) of a time-major (T, B, F) sequence.
template <class T>
std::vector<BasicTensor<T>> unbind(const BasicTensor<T>& a, std::ptrdiff_t axis = 0);
// The same, consuming `a`: if nothing else can reach a's value (a temporary,
// such as a block of input projections made only to be cut into steps), it
// is freed as soon as the pieces are copied, instead of living until
// backward; gradients still flow to a.
template <class T>
std::vector<BasicTensor<T>> unbind(BasicTensor<T>&& a, std::ptrdiff_t axis = 0);
// torch.chunk: `chunks` pieces of ceil(n / chunks) (the last may be smaller).
template <class T>
std::vector<BasicTensor<T>> chunk(const BasicTensor<T>& a, std::size_t chunks, std::ptrdiff_t axis);
// Pieces of the given sizes along `axis` (the sizes must add up to its length).
template <class T>
std::vector<BasicTensor<T>> split(const BasicTensor<T>& a, const std::vector<std::size_t>& sizes, std::ptrdiff_t axis);
// Joins tensors along an existing axis (their other axes must agree).
template <class T>
BasicTensor<T> concat(const std::vector<BasicTensor<T>>& tensors, std::ptrdiff_t axis);
// Joins same-shaped tensors along a new axis.
template <class T>
BasicTensor<T> stack(const std::vector<BasicTensor<T>>& tensors, std::ptrdiff_t axis);
// Gathers along `axis` by integer indices of any shape: the result has shape
// a.shape[:axis] + indices.shape + a.shape[axis+1:]. With axis 0 and a 2-D
// table this is an embedding lookup. Indices out of [0, n) throw. The
// backward scatter-adds (repeated indices accumulate).
template <class T>
BasicTensor<T> index_select(const BasicTensor<T>& a, const xt::xarray<std::int64_t>& indices, std::ptrdiff_t axis = 0);
template <class T>
BasicTensor<T> unsqueeze(const BasicTensor<T>& a, std::ptrdiff_t axis);
// Removes `axis`, which must have length 1.
template <class T>
BasicTensor<T> squeeze(const BasicTensor<T>& a, std::ptrdiff_t axis);
// Merges axes start..end (inclusive, negative from the end) into one
// (torch.flatten): (B, T, F) with (1, 2) -> (B, T*F).
template <class T>
BasicTensor<T> flatten(const BasicTensor<T>& a, std::ptrdiff_t start_axis = 0, std::ptrdiff_t end_axis = -1);
// Reorders the axes: output axis i is a's axis axes[i] (torch.permute),
// e.g. (T, B, F) with {1, 0, 2} -> (B, T, F).
template <class T>
BasicTensor<T> permute(const BasicTensor<T>& a, const std::vector<std::ptrdiff_t>& axes);
// torch.gather: out[..., j, ...] = a[..., index[..., j, ...], ...] along
// `axis`; index has a's rank and a's lengths on every other axis, and the
// output has index's shape. The backward scatter-adds.
template <class T>
BasicTensor<T> gather(const BasicTensor<T>& a, std::ptrdiff_t axis, const xt::xarray<std::int64_t>& index);
// torch.scatter_add: a copy of a with src[..., j, ...] added at
// [..., index[..., j, ...], ...] along `axis` (repeats accumulate); index and
// src share a shape, which matches a's on every other axis.
template <class T>
BasicTensor<T> scatter_add(const BasicTensor<T>& a, std::ptrdiff_t axis, const xt::xarray<std::int64_t>& index,
                           const BasicTensor<T>& src);
// a broadcast to `shape` (NumPy rules), materialized (torch.expand; here a
// copy). The gradient sums over the broadcast axes.
template <class T>
BasicTensor<T> expand(const BasicTensor<T>& a, const Shape& shape);
// a tiled repeats[i] times along each axis i (torch.Tensor.repeat with one
// count per axis): (2, 3) with {2, 1} -> (4, 3), rows [a; a].
template <class T>
BasicTensor<T> repeat(const BasicTensor<T>& a, const std::vector<std::size_t>& repeats);
// indices (...) -> (..., num_classes) with a 1 at each index (torch's
// one_hot, as T). A constant: it requires no grad.
template <class T = float>
BasicTensor<T> one_hot(const xt::xarray<std::int64_t>& indices, std::size_t num_classes);

}  // namespace xgrad
