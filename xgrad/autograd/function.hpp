#pragma once
// The op-authoring API: how an op declares its derivative next to its
// forward. An op computes its value, then calls record_op with a rule that
// maps the output gradient `g` to its inputs' gradients:
//
//   Tensor sin(const Tensor& a) {
//     xt::xarray<float> out = xt::sin(a.value());
//     return record_op<float>("sin", std::move(out), requires_grad_any(a),
//         [a](const xt::xarray<float>& g) { accumulate_grad(a, g * xt::cos(a.value())); });
//   }
//
// A rule is written (g) or (g, out), where `out` is the op's output value
// (sigmoid's derivative reads it). It captures the input handles and values
// it needs; they live until backward frees the record. It runs only if the
// output received a gradient, and adds (accumulate_grad) into its inputs'
// gradients, never overwrites them. The names are fixed across the code
// base: g the output gradient, a and b the inputs, out the output.
//
// That is the whole model. The kernel files whose rules are hot write
// gradients in place instead (xgrad/autograd/detail/gradient_buffers.hpp).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xnoalias.hpp>

#include "xgrad/autograd/detail/gradient_buffers.hpp"
#include "xgrad/autograd/detail/record.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tape.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// Throws std::invalid_argument("<op>: <message>").
[[noreturn]] void throw_op_error(const char* op, const std::string& message);

// True (as a bool) if grad mode is on and any of the tensors requires
// grad. Passed to record_op, it also tells the tape which inputs the op
// reads, so that gradient-ready hooks run as early as they can.
template <class T>
void note_input(detail::RecordInputs& inputs, const BasicTensor<T>& t) {
  if (!t.requires_grad()) return;
  inputs.record = true;
  if (const auto& hooks = t.node()->hooks) inputs.add_hooked(hooks.get());
}
template <class... Ts>
detail::RecordInputs requires_grad_any(const Ts&... tensors) {
  detail::RecordInputs inputs;
  if (GradMode::enabled()) (note_input(inputs, tensors), ...);
  return inputs;
}
template <class T>
detail::RecordInputs requires_grad_any_of(const std::vector<BasicTensor<T>>& tensors) {
  detail::RecordInputs inputs;
  if (GradMode::enabled())
    for (const auto& t : tensors) note_input(inputs, t);
  return inputs;
}

// Wraps `value` as the op's output. When `inputs` (requires_grad_any of
// the op's inputs) is true the output requires grad and `rule` is appended
// to the tape.
template <class T, class Rule>
BasicTensor<T> record_op(const char* op, xt::xarray<T>&& value, const detail::RecordInputs& inputs, Rule&& rule) {
  if (detail::anomaly_mode) detail::check_forward_anomaly(op, value);
  BasicTensor<T> out(std::move(value));
  if (inputs) detail::append_record<T>(op, out, inputs, std::forward<Rule>(rule));
  return out;
}
// The same with a plain flag: the tape then does not know which inputs the
// op reads (still correct; gradient-ready hooks may run later).
template <class T, class Rule>
BasicTensor<T> record_op(const char* op, xt::xarray<T>&& value, bool record, Rule&& rule) {
  detail::RecordInputs inputs;
  inputs.record = record;
  inputs.declared = false;
  return record_op<T>(op, std::move(value), inputs, std::forward<Rule>(rule));
}

// For an op with several outputs (split, unbind): marks them as outputs of
// one record whose `rule(grads)` gets one pointer per output, nullptr for
// outputs that received no gradient; it runs if any did. Call only when
// the op must record: `inputs` is requires_grad_any of its inputs.
template <class T, class Rule>
void record_multi_output_op(const char* op, const std::vector<BasicTensor<T>>& outputs,
                            const detail::RecordInputs& inputs, Rule&& rule) {
  if (detail::anomaly_mode)
    for (const auto& o : outputs) detail::check_forward_anomaly(op, o.value());
  detail::append_multi_output_record<T>(op, outputs, inputs, std::forward<Rule>(rule));
}

// grad(t) += g, where g has t's shape. Nothing happens if t needs no grad.
template <class T>
void accumulate_grad(const BasicTensor<T>& t, xt::xarray<T>&& g) {
  if (!t.requires_grad()) return;
  auto& node = detail::node_for_gradient(t);
  detail::check_grad_shape(node, g.shape());
  if (node.has_grad) {
    xt::noalias(node.grad) += g;
  } else {
    node.grad = std::move(g);
    node.has_grad = true;
  }
}

// grad(t) += expr, for an xtensor expression of t's shape (evaluated once,
// straight into the gradient buffer when one exists).
template <class T, class E>
void accumulate_grad(const BasicTensor<T>& t, const xt::xexpression<E>& expr) {
  if (!t.requires_grad()) return;
  auto& node = detail::node_for_gradient(t);
  const auto& e = expr.derived_cast();
  detail::check_grad_shape(node, e.shape());
  if (node.has_grad) {
    xt::noalias(node.grad) += e;
  } else {
    node.grad = e;
    node.has_grad = true;
  }
}

// grad(t) += g summed over the axes along which t was broadcast to g's shape
// (NumPy rules: leading axes added, size-1 axes stretched).
template <class T>
void accumulate_grad_unbroadcast(const BasicTensor<T>& t, const xt::xarray<T>& g);
// The same for a temporary: moved into t's gradient when nothing was broadcast.
template <class T>
void accumulate_grad_unbroadcast(const BasicTensor<T>& t, xt::xarray<T>&& g);

// Sums g over broadcast axes so that the result has `shape`.
template <class T>
xt::xarray<T> sum_to_shape(const xt::xarray<T>& g, const Shape& shape);

// NumPy broadcast of two shapes; throws naming op and shapes if incompatible.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// A contiguous row-major tensor seen as (outer, n, inner) around one axis
// of length n: axis-wise ops (reductions, slicing, gathering) loop over it.
struct AxisSplit {
  std::size_t outer = 1, n = 1, inner = 1;
};
template <class S>  // Shape or xtensor's svector
AxisSplit split_at(const S& shape, std::size_t axis) {
  AxisSplit s;
  for (std::size_t i = 0; i < axis; ++i) s.outer *= shape[i];
  s.n = shape[axis];
  for (std::size_t i = axis + 1; i < shape.size(); ++i) s.inner *= shape[i];
  return s;
}

// Normalizes a possibly negative axis for a tensor of rank `rank`.
std::size_t normalize_axis(const char* op, std::ptrdiff_t axis, std::size_t rank);

// Shape conversions between xtensor's svector and Shape.
template <class S>
Shape to_shape(const S& s) {
  return Shape(s.begin(), s.end());
}

}  // namespace xgrad
