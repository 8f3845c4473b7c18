#include "xgrad/autograd/detail/gradient_buffers.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/detail/buffer_pool.hpp"
#include "xgrad/autograd/detail/parallel.hpp"
#include "xgrad/autograd/detail/record.hpp"
#include "xgrad/autograd/tape.hpp"

namespace xgrad::detail {

template <class T>
void wait_grad_job(TensorNode<T>& node) {
  if (node.speed.grad_job) {
    parallel::wait(node.speed.grad_job);
    node.speed.grad_job = 0;
    node.speed.grad_job_only_reads = false;
  }
}

template <class T>
void wait_grad_writer(TensorNode<T>& node) {
  if (!node.speed.grad_job_only_reads) wait_grad_job(node);
}

namespace {
// Buffers still read by a job, with its ticket, oldest first (tickets
// complete in order). Per thread: the backward that consumed them frees
// them. A buffer stays here at most until this thread's next consumed
// gradient; the job itself is over by the end of the backward that
// submitted it (replay waits for every ticket its thread submitted), so
// nothing here is read after the backward returns.
template <class T>
thread_local std::vector<std::pair<std::uint64_t, xt::xarray<T>>> buffers_in_use;
}  // namespace

template <class T>
void release_after_job(std::uint64_t ticket, xt::xarray<T>&& buffer) {
  auto& pending = buffers_in_use<T>;
  std::size_t done = 0;
  while (done < pending.size() && parallel::done(pending[done].first))
    release_buffer(std::move(pending[done++].second));
  pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(done));
  if (ticket == 0 || parallel::done(ticket)) {
    release_buffer(std::move(buffer));
  } else {
    pending.emplace_back(ticket, std::move(buffer));
  }
}

template <class T>
TensorNode<T>& node_for_gradient(const BasicTensor<T>& t) {
  auto* node = t.node();
  wait_grad_job(*node);
  if (anomaly_mode) note_gradient_target(node);
  if (node->hooks) node->hooks->touched = true;  // Note [gradient-ready hooks]
  if (node->record_freed) {
    const char* op = Tape::current().running_op();
    throw std::logic_error(std::string("backward") + (op ? std::string(" (in ") + op + ")" : "") +
                           ": a gradient reached a tensor whose tape record was freed by an earlier "
                           "backward; pass retain_graph=true to that backward");
  }
  return *node;
}

template <class T>
void check_grad_shape(const TensorNode<T>& node, const xt::svector<std::size_t>& shape) {
  const auto& expected = node.gradient_shape();
  if (shape.size() != expected.size() || !std::equal(shape.begin(), shape.end(), expected.begin())) {
    const char* op = Tape::current().running_op();
    throw std::logic_error(std::string("gradient of ") + (op ? op : "a tensor") + " has shape " +
                           shape_to_string(Shape(shape.begin(), shape.end())) + " but its input has shape " +
                           shape_to_string(Shape(expected.begin(), expected.end())));
  }
}

template <class T>
T* gradient_buffer(const BasicTensor<T>& t, T& beta) {
  if (!t.requires_grad()) return nullptr;
  auto& node = node_for_gradient(t);
  if (node.has_grad) {
    beta = T(1);
  } else {
    node.grad = acquire_buffer<T>(node.gradient_shape());
    node.has_grad = true;
    beta = T(0);
  }
  return node.grad.data();
}

template <class T>
T* zeroed_gradient_buffer(const BasicTensor<T>& t) {
  T beta;
  T* buffer = gradient_buffer(t, beta);
  if (buffer && beta == T(0)) std::fill_n(buffer, t.size(), T(0));
  return buffer;
}

template <class T>
T* async_gradient_buffer(const BasicTensor<T>& t, T& beta) {
  if (!t.requires_grad()) return nullptr;
  auto* node = t.node();
  if (node->speed.grad_job && !parallel::done(node->speed.grad_job)) {
    beta = T(1);  // an earlier job of this leaf made the buffer
    return node->grad.data();
  }
  return gradient_buffer(t, beta);
}

template <class T>
void set_gradient_job(const BasicTensor<T>& t, std::uint64_t ticket) {
  t.node()->speed.grad_job = ticket;
  t.node()->speed.grad_job_only_reads = false;
}

template <class T>
void set_gradient_read_job(const BasicTensor<T>& t, std::uint64_t ticket) {
  t.node()->speed.grad_job = ticket;
  t.node()->speed.grad_job_only_reads = true;
}

template <class T>
T* OutputGradient<T>::adopt_into(const BasicTensor<T>& t) {
  if (!disposable_ || !t.requires_grad()) return nullptr;
  auto& node = node_for_gradient(t);
  if (node.has_grad) return nullptr;
  check_grad_shape(node, grad_->shape());
  node.grad = std::move(*grad_);  // the data pointer stays the same
  node.has_grad = true;
  disposable_ = false;
  return node.grad.data();
}

#define XGRAD_INSTANTIATE(T)                                                             \
  template void wait_grad_job(TensorNode<T>&);                                           \
  template TensorNode<T>& node_for_gradient(const BasicTensor<T>&);                      \
  template void check_grad_shape(const TensorNode<T>&, const xt::svector<std::size_t>&); \
  template T* gradient_buffer(const BasicTensor<T>&, T&);                                \
  template T* zeroed_gradient_buffer(const BasicTensor<T>&);                             \
  template T* async_gradient_buffer(const BasicTensor<T>&, T&);                          \
  template void set_gradient_job(const BasicTensor<T>&, std::uint64_t);                  \
  template void set_gradient_read_job(const BasicTensor<T>&, std::uint64_t);             \
  template void wait_grad_writer(TensorNode<T>&);                                        \
  template void release_after_job(std::uint64_t, xt::xarray<T>&&);                       \
  template class OutputGradient<T>;
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad::detail
