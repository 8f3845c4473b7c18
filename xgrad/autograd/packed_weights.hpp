#pragma once
// PackedWeightsGuard: a promise that a weight keeps its value over a loop of
// products with it, so that they can share one rearranged copy of it.

#include <cstddef>
#include <cstdint>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// While the guard lives, products x W^T with `weight` W (N, K) as the
// transposed second operand (linear, addmm or matmul with transpose_b),
// computed on the thread that made the guard, read a copy of W rearranged
// once (at the first such product) for xgrad's GEMM kernel instead of in
// every call (Note [small GEMM kernel] in xgrad/autograd/detail/small_gemm.hpp;
// a recurrent layer's h W_hh^T over 200 steps). Products of two or more
// rows give the same bits with and without the guard; only the time
// differs. A one-row product (batch 1) reads the rearranged copy too, and
// then has the bits of that row in a larger batch; without the guard it is
// OpenBLAS's matrix-vector product (within float rounding of it).
//
// The promise: W's values do not change while the guard lives (no
// optimizer step, copy_ or write through mutable_value); products would
// otherwise read the values W had at the first product. The guard holds
// W's handle, so W's buffer cannot be freed and reused by another tensor
// while it lives. A guard no product uses costs nothing. A no-op for double, for a weight that
// is not 2-D or is over 512 KB, and where the kernel does not run (a CPU
// without AVX-512F, or XGRAD_SMALL_GEMM=0). Guards may overlap and end in
// any order.
template <class T>
class PackedWeightsGuard {
 public:
  explicit PackedWeightsGuard(const BasicTensor<T>& weight);
  ~PackedWeightsGuard();
  PackedWeightsGuard(const PackedWeightsGuard&) = delete;
  PackedWeightsGuard& operator=(const PackedWeightsGuard&) = delete;

 private:
  std::uint64_t id_ = 0;  // the registry entry, 0 if none
};

// Whether products x W^T of at most `rows` rows of x with `weight` W (N, K)
// run on xgrad's kernel, which sums each element's terms in order, so that
// a row has the same bits whichever rows it is computed with (a recurrent
// layer's projection in blocks, Note [projection ahead]): float, W 2-D,
// both operands within the kernel's limits, a CPU with AVX-512F.
template <class T>
bool kernel_rows_exact(std::size_t rows, const BasicTensor<T>& weight);

}  // namespace xgrad
