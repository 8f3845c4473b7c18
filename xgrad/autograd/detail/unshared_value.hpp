#pragma once
// Taking over the value of a tensor that nothing else can reach: an op
// given the caller's last handle (addmm(BasicTensor&&) writes its result
// into the bias's buffer; unbind(BasicTensor&&) frees its input once the
// pieces are copied) need not keep, or copy, a value no one can read again.

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::detail {

// If nothing but `t` (the op's own handle) and, for a non-leaf, its record
// (one whose rule never reads its output value: NodeSpeedState::
// record_reads_value) can reach t's value, moves the value into `into` and
// returns true; the node keeps only its shape, which is all its gradient
// needs (NodeSpeedState::value_taken). False otherwise, `into` untouched.
template <class T>
bool take_unshared_value(const BasicTensor<T>& t, xt::xarray<T>& into);

}  // namespace xgrad::detail
