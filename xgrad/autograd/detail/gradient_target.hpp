#pragma once
// Note [gradient targets]: a rule that only writes an input's gradient
// (stack, concat, mask: their derivatives never read the input's value)
// captures it as a GradientTarget instead of a handle. The node counts
// such captures (NodeSpeedState::target_refs). When a handle to a recorded
// tensor is destroyed and what remains is only its own record (one whose
// rule never reads its output value) and gradient targets, no one can read
// the value again: the destructor frees it and the node keeps its shape,
// which is all its gradient needs (value_taken, as
// detail::take_unshared_value). Without this, a tensor such as the raw h
// behind a recurrent dropout mask, whose consumers (the mask, the stack
// of outputs) only send gradients back to it, stays alive until backward:
// 6.4 MB of an imdb-keras step.
//
// Leaves are never freed (parameters and inputs are the user's), and a
// handle count that another thread is changing at the same moment can
// only make the test fail (the value then stays, as before).
//
// Internal to autograd/ (op implementations).

#include <utility>

#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::detail {

template <class T>
class GradientTarget {
 public:
  GradientTarget() = default;
  explicit GradientTarget(const BasicTensor<T>& t) : tensor_(t) { count(1); }
  GradientTarget(const GradientTarget& other) : tensor_(other.tensor_) { count(1); }
  GradientTarget& operator=(const GradientTarget&) = delete;
  // The count goes first: tensor_'s own destructor then sees the target
  // gone, and frees the value if it was the last one keeping it.
  ~GradientTarget() { count(-1); }

  // For accumulate_grad and the gradient-buffer helpers; not for reading
  // the value.
  const BasicTensor<T>& tensor() const { return tensor_; }

 private:
  void count(int delta) {
    if (TensorNode<T>* node = tensor_.node()) node->speed.target_refs.fetch_add(std::uint32_t(delta));
  }
  BasicTensor<T> tensor_;
};

// Called by ~BasicTensor for a node with gradient targets: frees its value
// if the handle being destroyed is the last one that could read it.
template <class T>
void free_value_if_only_targets(const std::shared_ptr<TensorNode<T>>& node);

}  // namespace xgrad::detail
