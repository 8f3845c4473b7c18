#pragma once
// The state behind a tensor handle: its value, its gradient, and the tape
// record that produced it. Op implementations and the tape include this
// header (it pulls in xtensor's full xarray).

#include <atomic>
#include <cstdint>
#include <memory>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/detail/buffer_pool.hpp"
#include "xgrad/autograd/detail/leaf_hooks.hpp"
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

namespace detail {
// The part of a node that exists only for speed: gradient jobs running on
// a worker thread, and buffers taken over by an op. The simple model (value,
// gradient, record) never reads it; see docs/performance.md.
template <class T>
struct NodeSpeedState {
  // Ticket of the last asynchronous job (detail/parallel.hpp) that adds into
  // or reads the node's gradient; 0 if none. Anything else touching the
  // gradient waits for it first (detail/gradient_buffers.hpp does).
  std::uint64_t grad_job = 0;
  // The job only reads the gradient (a deferred GEMM's dC, Note [ownership
  // of dC]): a multi-output record that consumes the gradient (its rule only
  // reads) may read it at the same time, and hands the buffer back only once
  // the job is done (detail/record.hpp). Everything else waits as usual.
  bool grad_job_only_reads = false;
  // False when the record that produced the node never reads its value
  // (split, unbind, chunk, and any single-output rule written without
  // `out`: they see only gradients), so an op given the last outside handle
  // may take or free the value (detail/unshared_value.hpp).
  bool record_reads_value = true;
  // Set when an op took or freed the value's buffer (addmm, unbind, mask
  // given an rvalue): the value is then empty and `taken_shape` keeps its
  // shape for the gradient. No handle outside the tape can reach such a node.
  bool value_taken = false;
  typename xt::xarray<T>::shape_type taken_shape;
  // Handles held by rules only to write the node's gradient, never to read
  // its value (detail::GradientTarget; Note [gradient targets]).
  std::atomic<std::uint32_t> target_refs{0};
};
}  // namespace detail

template <class T>
struct TensorNode {
  TensorNode() = default;
  // Takes the value: an op's output is moved in once, not assigned over an
  // empty array built first.
  explicit TensorNode(xt::xarray<T>&& v) : value(std::move(v)) {}

  xt::xarray<T> value = empty_array<T>();
  xt::xarray<T> grad = empty_array<T>();  // meaningful only when has_grad
  bool has_grad = false;
  bool requires_grad = false;
  bool retains_grad = false;  // keep the gradient of a non-leaf (retain_grad)
  // Non-leaf tensors are outputs of a recorded op: `tape` is the recording
  // thread's tape and `record_id` the record's sequence number there.
  Tape* tape = nullptr;
  std::uint64_t record_id = 0;
  // Set when the record that produced this tensor was freed by a backward
  // pass; a later gradient flowing here could not go further, so it throws.
  bool record_freed = false;
  // A leaf's post-accumulate-grad hooks, null if it has none.
  std::shared_ptr<detail::LeafHookState> hooks;
  detail::NodeSpeedState<T> speed;

  // The shape a gradient of this tensor has.
  const typename xt::xarray<T>::shape_type& gradient_shape() const {
    return speed.value_taken ? speed.taken_shape : value.shape();
  }

  bool is_leaf() const { return tape == nullptr; }

  // The value goes to this thread's value pool (Note [value pool]).
  ~TensorNode() { detail::release_value(std::move(value)); }
};

}  // namespace xgrad
