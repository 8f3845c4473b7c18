#pragma once
// The op-authoring API: how an op declares its derivative next to its
// forward. An op computes its value, then calls record_op with a rule that
// maps the output gradient to its inputs' gradients:
//
//   Tensor sin(const Tensor& x) {
//     xt::xarray<float> y = xt::sin(x.value());
//     return record_op<float>("sin", std::move(y), requires_grad_any(x),
//         [x](const xt::xarray<float>& grad_out, const xt::xarray<float>&) {
//           accumulate_grad(x, grad_out * xt::cos(x.value()));
//         });
//   }
//
// The rule captures the tensors (handles) and values it needs; they live
// until backward frees the record. It runs only if the output received a
// gradient, and must accumulate (+=) into its inputs, never overwrite.

#include <cstring>
#include <stdexcept>
#include <string>
#include <memory>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xnoalias.hpp>

#include "xgrad/autograd/buffer_pool.hpp"
#include "xgrad/autograd/function_ref.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tape.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// Throws std::invalid_argument("<op>: <message>").
[[noreturn]] void throw_op_error(const char* op, const std::string& message);

// True if grad mode is on and any of the tensors requires grad.
template <class... Ts>
bool requires_grad_any(const Ts&... tensors) {
  return GradMode::enabled() && (tensors.requires_grad() || ...);
}
template <class T>
bool requires_grad_any_of(const std::vector<BasicTensor<T>>& tensors) {
  if (!GradMode::enabled()) return false;
  for (const auto& t : tensors)
    if (t.requires_grad()) return true;
  return false;
}

namespace detail {
template <class T>
TensorNode<T>& node_for_gradient(const BasicTensor<T>& t);  // checks the record is alive, waits for async jobs
// Waits for the asynchronous job (if any) that reads or adds into node's
// gradient, so the caller may read, change or free it.
template <class T>
void wait_grad_job(TensorNode<T>& node);
// The gradient buffer of the output whose rule is running, if it is dropped
// after the rule (see take_output_gradient); set by record_op.
// Note [inline thread_local]: defined here with its constant initializer, not
// `extern`: for an extern thread_local GCC calls a TLS wrapper that UBSan
// (GCC 12) reports as a store through a null pointer, a false positive the
// sanitizer CI build would fail on. Seeing the initializer, no wrapper is used.
inline thread_local const void* disposable_output_grad = nullptr;
template <class T>
void check_grad_shape(const TensorNode<T>& node, const xt::svector<std::size_t>& shape);
// Anomaly mode (xgrad/autograd/anomaly.hpp): whether it is on for this thread, the
// check of an op's output value, and the check of the gradients the running
// rule wrote (node_for_gradient notes each target while the mode is on).
inline thread_local bool anomaly_mode = false;  // Note [inline thread_local]
template <class T>
void check_forward_anomaly(const char* op, const xt::xarray<T>& value);
template <class T>
void check_backward_anomaly(const char* op, const TensorNode<T>& output);
void forget_noted_gradients();
}  // namespace detail

// Wraps `value` as the op's output. When `record` is true the output
// requires grad and `rule(grad_out, out_value)` is appended to the tape.
template <class T, class Rule>
BasicTensor<T> record_op(const char* op, xt::xarray<T>&& value, bool record, Rule&& rule) {
  if (detail::anomaly_mode) detail::check_forward_anomaly(op, value);
  BasicTensor<T> out(std::move(value));
  if (!record) return out;
  const auto& node = out.node_ptr();
  node->requires_grad = true;
  Tape& tape = Tape::current();
  TensorNode<T>* raw = node.get();  // the record keeps the node alive
  raw->tape = &tape;
  raw->record_id = tape.record(
      op,
      [raw, op, rule = std::forward<Rule>(rule)]() mutable {
        if (!raw->has_grad) return false;
        detail::wait_grad_job(*raw);  // a job may still read the gradient (gemm's dC)
        if (detail::anomaly_mode) detail::forget_noted_gradients();
        detail::disposable_output_grad = raw->retains_grad ? nullptr : &raw->grad;
        rule(static_cast<const xt::xarray<T>&>(raw->grad), static_cast<const xt::xarray<T>&>(raw->value));
        detail::disposable_output_grad = nullptr;
        if (detail::anomaly_mode) detail::check_backward_anomaly(op, *raw);
        if (!raw->retains_grad) {
          detail::release_buffer(std::move(raw->grad));  // for the next gradient of this shape
          raw->grad = empty_array<T>();
          raw->has_grad = false;
        }
        return true;
      },
      node, &raw->record_freed, nullptr, [](const std::shared_ptr<void>& p) {
        auto* n = static_cast<TensorNode<T>*>(p.get());
        if (!n->retains_grad) n->has_grad = false;
      });
  return out;
}

// For an op with several outputs (split, unbind): marks them as outputs of
// one record whose `rule(grads)` gets one pointer per output, nullptr for
// outputs that received no gradient; it runs if any did. Call only when
// the op must record (requires_grad_any).
template <class T, class Rule>
void record_multi_output_op(const char* op, const std::vector<BasicTensor<T>>& outputs, Rule&& rule) {
  // Owns the output nodes for the record; when the record is freed, every
  // output is marked freed (the tape's flag covers only the first).
  struct Outputs {
    std::vector<std::shared_ptr<TensorNode<T>>> nodes;
    ~Outputs() {
      for (auto& n : nodes) n->record_freed = true;
    }
  };
  if (detail::anomaly_mode)
    for (const auto& o : outputs) detail::check_forward_anomaly(op, o.value());
  Tape& tape = Tape::current();
  auto held = std::make_shared<Outputs>();
  held->nodes.reserve(outputs.size());
  for (const auto& o : outputs) {
    auto node = o.node_ptr();
    node->requires_grad = true;
    node->tape = &tape;
    node->record_reads_value = false;
    held->nodes.push_back(std::move(node));
  }
  Outputs* raw = held.get();  // the record keeps `held` alive
  bool* freed_flag = &raw->nodes.front()->record_freed;
  const std::uint64_t id = tape.record(
      op,
      [raw, op, rule = std::forward<Rule>(rule)]() mutable {
        // Reused across calls (rules do not nest): no allocation per step.
        thread_local std::vector<const xt::xarray<T>*> grads;
        grads.assign(raw->nodes.size(), nullptr);
        bool any = false;
        for (std::size_t i = 0; i < grads.size(); ++i) {
          detail::wait_grad_job(*raw->nodes[i]);  // the gradients are freed below
          if (raw->nodes[i]->has_grad) {
            grads[i] = &raw->nodes[i]->grad;
            any = true;
          }
        }
        if (!any) return false;
        if (detail::anomaly_mode) detail::forget_noted_gradients();
        rule(grads);
        if (detail::anomaly_mode) detail::check_backward_anomaly(op, *raw->nodes.front());
        for (auto& n : raw->nodes) {
          if (!n->retains_grad) {
            detail::release_buffer(std::move(n->grad));
            n->grad = empty_array<T>();
            n->has_grad = false;
          }
        }
        return true;
      },
      held, freed_flag,
      // Dead once no output is held outside the record.
      [](const std::shared_ptr<void>& p) {
        for (const auto& n : static_cast<const Outputs*>(p.get())->nodes)
          if (n.use_count() > 1) return false;
        return true;
      },
      [](const std::shared_ptr<void>& p) {
        for (const auto& n : static_cast<const Outputs*>(p.get())->nodes)
          if (!n->retains_grad) n->has_grad = false;
      });
  for (auto& n : held->nodes) n->record_id = id;
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

// For BLAS-style accumulation: the gradient buffer of t (allocated, not
// zeroed, if t had none) and the beta to use: 0 when the buffer is fresh and
// must be overwritten, 1 when the new gradient must be added. Returns
// nullptr if t needs no grad.
template <class T>
T* gradient_buffer(const BasicTensor<T>& t, T& beta);

// For a rule that hands its output gradient `g` to work that outlives the
// rule (an asynchronous job): moves it out when record_op drops it after the
// rule anyway, copies it otherwise (retain_grad). Call last in the rule.
template <class T>
xt::xarray<T> take_output_gradient(const xt::xarray<T>& g) {
  if (&g == detail::disposable_output_grad) {
    detail::disposable_output_grad = nullptr;
    return std::move(const_cast<xt::xarray<T>&>(g));
  }
  return g;
}

// For same-shape elementwise rules, to write an input's gradient without a
// new buffer: if `g` (the running rule's output gradient) is dropped after
// the rule anyway and t has no gradient yet, g's buffer becomes t's
// gradient and is returned; the rule then overwrites it element by element
// (reading g[i] before writing element i). nullptr otherwise (t needs no
// grad, t has a gradient, or g is kept by retain_grad): use gradient_buffer.
// Call it for the last input the rule writes: g is gone afterwards.
template <class T>
T* adopt_output_gradient(const BasicTensor<T>& t, const xt::xarray<T>& g);

// For a gradient computed by an asynchronous job that adds into a leaf's
// gradient buffer (xgrad/autograd/parallel.hpp): the buffer and beta (as
// gradient_buffer), without waiting for the leaf's earlier jobs, which run
// first in submission order. nullptr if t needs no grad. Call
// set_gradient_job(t, ticket) with the job's ticket after submitting it.
template <class T>
T* async_gradient_buffer(const BasicTensor<T>& t, T& beta);
template <class T>
void set_gradient_job(const BasicTensor<T>& t, std::uint64_t ticket);

// For scatter-style rules that add into part of the gradient: t's gradient
// buffer, zero-filled if t had none. nullptr if t needs no grad.
template <class T>
T* zeroed_gradient_buffer(const BasicTensor<T>& t);

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

// Copies (or adds) rows [src_start, src_start+len) of each outer block of a
// (outer, src_n, inner) buffer into rows [dst_start, ...) of a
// (outer, dst_n, inner) buffer.
template <class T, bool Add>
inline void move_rows(const T* src, std::size_t src_n, std::size_t src_start, T* dst, std::size_t dst_n,
               std::size_t dst_start, std::size_t len, std::size_t outer, std::size_t inner) {
  const std::size_t count = len * inner;
  for (std::size_t o = 0; o < outer; ++o) {
    const T* s = src + (o * src_n + src_start) * inner;
    T* d = dst + (o * dst_n + dst_start) * inner;
    if constexpr (Add) {
      for (std::size_t i = 0; i < count; ++i) d[i] += s[i];
    } else {
      std::memcpy(d, s, count * sizeof(T));
    }
  }
}

// Runs fn(i) for every i in [0, n): spread over the caller and idle worker
// threads when the pieces together touch at least 64K elements (memory-
// bound copies of that size take longer than the hand-off), serially
// otherwise. Pieces must write disjoint memory.
void for_each_piece(std::size_t n, std::size_t total_elements, FunctionRef<void(std::size_t)> fn);

// Normalizes a possibly negative axis for a tensor of rank `rank`.
std::size_t normalize_axis(const char* op, std::ptrdiff_t axis, std::size_t rank);

// Shape conversions between xtensor's svector and Shape.
template <class S>
Shape to_shape(const S& s) {
  return Shape(s.begin(), s.end());
}

}  // namespace xgrad
