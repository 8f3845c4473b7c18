#pragma once
// Writing gradients without extra buffers, for the kernel files whose rules
// are hot (elementwise, linalg, shape ops). A plain op needs none of this:
// accumulate_grad (xgrad/autograd/function.hpp) is always correct.
//
// Note [gradient buffers]
// A rule may write an input's gradient straight into its buffer, as BLAS
// does: gradient_buffer hands out the buffer and a beta, 0 when the buffer
// is fresh (overwrite it) and 1 when a gradient is already there (add to
// it). A rule whose output gradient is dropped after it runs (every non-
// leaf without retain_grad) may take that buffer over instead of asking
// for a new one: it declares its first parameter as OutputGradient<T>&
// rather than const xt::xarray<T>&, and record_op passes it so. Taking is
// then visible in the rule's signature, and only record_op, which owns the
// gradient, decides whether it may be taken.
// Any access to a node's gradient first waits for the asynchronous job
// (detail/parallel.hpp) that may still be adding into it or reading it.

#include <cstdint>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/node.hpp"

namespace xgrad::detail {

// t's node, once it may receive a gradient: its record is alive and no job
// is using its gradient. Notes it for anomaly mode. Throws if the record
// was freed by an earlier backward.
template <class T>
TensorNode<T>& node_for_gradient(const BasicTensor<T>& t);
// Waits for the asynchronous job (if any) that reads or adds into node's
// gradient, so the caller may read, change or free it.
template <class T>
void wait_grad_job(TensorNode<T>& node);
// Throws std::logic_error naming the running op if a gradient of `shape`
// does not fit the node.
template <class T>
void check_grad_shape(const TensorNode<T>& node, const xt::svector<std::size_t>& shape);

// The gradient buffer of t (allocated, not zeroed, if t had none) and the
// beta to use: 0 when the buffer is fresh and must be overwritten, 1 when
// the new gradient must be added. nullptr if t needs no grad.
template <class T>
T* gradient_buffer(const BasicTensor<T>& t, T& beta);
// For scatter-style rules that add into part of the gradient: t's gradient
// buffer, zero-filled if t had none. nullptr if t needs no grad.
template <class T>
T* zeroed_gradient_buffer(const BasicTensor<T>& t);

// For a gradient computed by an asynchronous job that adds into a leaf's
// gradient buffer: the buffer and beta (as gradient_buffer), without waiting
// for the leaf's earlier jobs, which run first in submission order. nullptr
// if t needs no grad. Call set_gradient_job(t, ticket) with the job's
// ticket after submitting it.
template <class T>
T* async_gradient_buffer(const BasicTensor<T>& t, T& beta);
template <class T>
void set_gradient_job(const BasicTensor<T>& t, std::uint64_t ticket);
// For a job that only reads t's gradient (a deferred GEMM's dC).
template <class T>
void set_gradient_read_job(const BasicTensor<T>& t, std::uint64_t ticket);
// Waits for a job that writes node's gradient; one that only reads it may go on.
template <class T>
void wait_grad_writer(TensorNode<T>& node);
// Gives a consumed gradient buffer back (buffer pool): at once, or, while
// the job with `ticket` may still read it, once that job is done.
template <class T>
void release_after_job(std::uint64_t ticket, xt::xarray<T>&& buffer);

// The output gradient of the record whose rule is running (shape: the op's
// output), for a rule that may take over its buffer (Note [gradient
// buffers]). After take() or a successful adopt_into(), get() is empty:
// read what the rule needs (sizes, data pointers) first.
template <class T>
class OutputGradient {
 public:
  // `disposable`: record_op drops the gradient after the rule anyway.
  OutputGradient(xt::xarray<T>& grad, bool disposable) : grad_(&grad), disposable_(disposable) {}

  const xt::xarray<T>& get() const { return *grad_; }

  // The gradient as an array the caller owns: the buffer itself when
  // disposable, a copy otherwise (retain_grad keeps it).
  xt::xarray<T> take() {
    if (!disposable_) return *grad_;
    disposable_ = false;
    return std::move(*grad_);
  }

  // For same-shape rules that then overwrite the buffer element by element
  // (reading g[i] before writing element i): if disposable and t has no
  // gradient yet, the buffer (same data pointer) becomes t's gradient and is
  // returned. nullptr otherwise (t needs no grad, t has a gradient, or the
  // gradient is retained): use gradient_buffer.
  T* adopt_into(const BasicTensor<T>& t);

 private:
  xt::xarray<T>* grad_;
  bool disposable_;
};

}  // namespace xgrad::detail
