#pragma once
// The bias of addmm/linear, C(M, N) = bias + op(A) op(B), as raw kernels:
// filling C with the broadcast bias before the GEMM adds into it, summing
// dC into the bias's gradient. (Taking over the buffer of a full (M, N)
// bias nothing else can reach is detail/unshared_value.hpp.)

#include <cstddef>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::detail {

// How a bias of at most 2 dimensions broadcasts over the (M, N) result.
struct BiasLayout {
  bool per_row = false;     // varies along M
  bool per_column = false;  // varies along N
};
template <class S>
BiasLayout bias_layout(const S& bias_shape, std::size_t m, std::size_t n) {
  BiasLayout l;
  l.per_column = !bias_shape.empty() && bias_shape.back() == n && n != 1;
  l.per_row = bias_shape.size() == 2 && bias_shape[0] == m && m != 1;
  return l;
}

// C(M, N) = the bias broadcast (bv: the bias's elements, laid out as `l`).
template <class T>
void fill_with_bias(T* c, const T* bv, BiasLayout l, std::size_t m, std::size_t n);

// db += (beta = 1) or = (beta = 0) dC(M, N) summed over the axes the bias
// was broadcast along. The same arithmetic with one thread or two.
template <class T>
void sum_into_bias(T* db, T beta, BiasLayout l, const T* dc, std::size_t m, std::size_t n);

}  // namespace xgrad::detail
