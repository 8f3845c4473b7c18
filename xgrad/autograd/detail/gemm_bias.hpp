#pragma once
// The bias of addmm/linear, C(M, N) = bias + op(A) op(B), as raw kernels:
// filling C with the broadcast bias before the GEMM adds into it, summing
// dC into the bias's gradient, and taking over the buffer of a full (M, N)
// bias that nothing else can reach (addmm(BasicTensor&&)).

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

// If nothing but `bias` (the op's own handle) and, for a split/unbind piece,
// its record (which reads no values) can reach bias's value, moves the value
// into `into` and returns true; the node keeps only its shape, which is all
// its gradient needs (NodeSpeedState::value_taken). False otherwise.
template <class T>
bool take_unshared_value(const BasicTensor<T>& bias, xt::xarray<T>& into);

}  // namespace xgrad::detail
