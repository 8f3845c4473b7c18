#pragma once
// Linear algebra ops, all differentiable. They call BLAS gemm with transpose
// flags directly on the contiguous buffers: a transposed operand is never
// copied, and gradients are accumulated into their buffers with beta = 1.

#include <cstddef>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// op(a) @ op(b). a: (M, K), or (..., K) with leading axes flattened into M
// (batched 3-D x 2-D: (B, T, K) @ (K, N) -> (B, T, N)); b: (K, N).
// transpose_a (2-D a only) reads a stored as (K, M); transpose_b reads b
// stored as (N, K).
template <class T>
BasicTensor<T> matmul(const BasicTensor<T>& a, const BasicTensor<T>& b, bool transpose_a = false,
                      bool transpose_b = false);

// op(a) @ op(b) + bias, with bias broadcast to the (M, N) result: shape
// (N), (1, N), (M, 1), (M, N) or a scalar. Shapes of a and b as in matmul.
template <class T>
BasicTensor<T> addmm(const BasicTensor<T>& bias, const BasicTensor<T>& a, const BasicTensor<T>& b,
                     bool transpose_a = false, bool transpose_b = false);

// The same, consuming the bias: when the caller's handle was the last one
// that could read it (a step of unbind's output, a temporary), its buffer
// becomes the result's, so a full (M, N) bias is not copied; otherwise as
// above. Used by the recurrent layers for each step's input projection.
template <class T>
BasicTensor<T> addmm(BasicTensor<T>&& bias, const BasicTensor<T>& a, const BasicTensor<T>& b, bool transpose_a = false,
                     bool transpose_b = false);

// x @ weight^T + bias (torch.nn.functional.linear): x (..., in), weight
// (out, in), bias (out) or undefined -> (..., out).
template <class T>
BasicTensor<T> linear(const BasicTensor<T>& x, const BasicTensor<T>& weight,
                      const BasicTensor<T>& bias = BasicTensor<T>());

// Batched matrix product (torch.bmm): (B, M, K) x (B, K, N) -> (B, M, N),
// e.g. attention scores over a sequence's hidden states.
template <class T>
BasicTensor<T> bmm(const BasicTensor<T>& a, const BasicTensor<T>& b);

// 2-D transpose (a copy: (M, N) -> (N, M)), and swapping two axes of any rank.
template <class T>
BasicTensor<T> transpose(const BasicTensor<T>& a);
template <class T>
BasicTensor<T> transpose(const BasicTensor<T>& a, std::ptrdiff_t axis0, std::ptrdiff_t axis1);

}  // namespace xgrad
