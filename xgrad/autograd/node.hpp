#pragma once
// The state behind a tensor handle. Only op implementations and the tape
// include this header (it pulls in xtensor's full xarray).

#include <cstdint>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

class Tape;

// An array with no elements and no buffer. A default-constructed xarray is
// 0-d with one element, so it allocates: two per node and one per dropped
// gradient, measured as a fifth of a training step's heap allocations.
template <class T>
xt::xarray<T> empty_array() {
  return xt::xarray<T>::from_shape({0});
}

template <class T>
struct TensorNode {
  xt::xarray<T> value = empty_array<T>();
  xt::xarray<T> grad = empty_array<T>();  // meaningful only when has_grad
  bool has_grad = false;
  bool requires_grad = false;
  // Non-leaf tensors are outputs of a recorded op: `tape` is the recording
  // thread's tape and `record_id` the record's sequence number there.
  Tape* tape = nullptr;
  std::uint64_t record_id = 0;
  bool retains_grad = false;
  // Set when the record that produced this tensor was freed by a backward
  // pass; a later gradient flowing here could not go further, so it throws.
  bool record_freed = false;
  // Ticket of the last asynchronous job (xgrad/autograd/parallel.hpp) that adds
  // into or reads `grad`; 0 if none. Anything else touching `grad` waits
  // for it.
  std::uint64_t grad_job = 0;

  // False when the record that produced this tensor never reads its value
  // (split, unbind, chunk: their rules see only gradients), so an op given
  // the last outside handle may take the value's buffer (addmm's rvalue bias).
  bool record_reads_value = true;
  // Set when an op took the value's buffer (addmm(BasicTensor&&)): the value
  // is then empty and `taken_shape` keeps its shape for the gradient. No
  // handle outside the tape can reach such a node.
  bool value_taken = false;
  typename xt::xarray<T>::shape_type taken_shape;

  // The shape a gradient of this tensor has.
  const typename xt::xarray<T>::shape_type& gradient_shape() const {
    return value_taken ? taken_shape : value.shape();
  }

  bool is_leaf() const { return tape == nullptr; }
};

}  // namespace xgrad
