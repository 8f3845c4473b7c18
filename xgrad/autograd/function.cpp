#include "xgrad/autograd/function.hpp"

#include <cmath>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/anomaly.hpp"
#include "xgrad/autograd/parallel.hpp"

namespace xgrad {

void throw_op_error(const char* op, const std::string& message) {
  throw std::invalid_argument(std::string(op) + ": " + message);
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw_op_error(op, "shapes " + shape_to_string(a) + " and " + shape_to_string(b) +
                             " cannot be broadcast together");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::size_t normalize_axis(const char* op, std::ptrdiff_t axis, std::size_t rank) {
  const auto r = static_cast<std::ptrdiff_t>(rank);
  if (axis < -r || axis >= r) {
    throw_op_error(op, "axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                           std::to_string(rank));
  }
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

void for_each_piece(std::size_t n, std::size_t total_elements, FunctionRef<void(std::size_t)> fn) {
  constexpr std::size_t kMinParallelElements = std::size_t(1) << 16;
  if (n > 1 && total_elements >= kMinParallelElements && parallel::workers_idle()) {
    parallel::parallel_for(n, fn);
  } else {
    for (std::size_t i = 0; i < n; ++i) fn(i);
  }
}

namespace detail {

template <class T>
void wait_grad_job(TensorNode<T>& node) {
  if (node.grad_job) {
    parallel::wait(node.grad_job);
    node.grad_job = 0;
  }
}

namespace {
// The gradient targets the running rule wrote, while anomaly mode is on. The
// rule holds handles to them, so the nodes outlive the check after it.
struct NotedGradient {
  const void* node;
  bool is_double;
};
thread_local std::vector<NotedGradient> noted_gradients;

template <class T>
std::string non_finite_kind(const T* data, std::size_t n) {
  bool nan = false, inf = false;
  for (std::size_t i = 0; i < n; ++i) {
    nan |= std::isnan(data[i]);
    inf |= std::isinf(data[i]);
  }
  return nan && inf ? "NaN and inf" : nan ? "NaN" : "inf";
}

template <class T>
void check_noted(const char* op, const TensorNode<T>& output, const NotedGradient& noted) {
  auto* node = static_cast<TensorNode<T>*>(const_cast<void*>(noted.node));
  wait_grad_job(*node);  // an asynchronous job may still be adding into it
  if (!node->has_grad || all_finite(node->grad)) return;
  throw AnomalyError(std::string("detect_anomaly: the backward of '") + op + "' (output " +
                     shape_to_string(to_shape(output.gradient_shape())) + ") produced " +
                     non_finite_kind(node->grad.data(), node->grad.size()) + " in the gradient of its input of shape " +
                     shape_to_string(to_shape(node->gradient_shape())) +
                     (!output.has_grad || all_finite(output.grad)
                          ? " from a finite output gradient"
                          : ""));
}
}  // namespace

void forget_noted_gradients() { noted_gradients.clear(); }

template <class T>
void check_forward_anomaly(const char* op, const xt::xarray<T>& value) {
  if (all_finite(value)) return;
  throw AnomalyError(std::string("detect_anomaly: the forward of '") + op + "' produced " +
                     non_finite_kind(value.data(), value.size()) + " in its output of shape " +
                     shape_to_string(to_shape(value.shape())) +
                     " (the first recorded op to do so; check the range of its inputs)");
}

template <class T>
void check_backward_anomaly(const char* op, const TensorNode<T>& output) {
  // Copied first: checking may wait for jobs, and a throw must leave the list clean.
  std::vector<NotedGradient> noted;
  noted.swap(noted_gradients);
  for (const auto& n : noted) {
    if (n.is_double != std::is_same_v<T, double>) continue;
    check_noted(op, output, n);
  }
}

template void check_forward_anomaly(const char*, const xt::xarray<float>&);
template void check_forward_anomaly(const char*, const xt::xarray<double>&);
template void check_backward_anomaly(const char*, const TensorNode<float>&);
template void check_backward_anomaly(const char*, const TensorNode<double>&);

template <class T>
TensorNode<T>& node_for_gradient(const BasicTensor<T>& t) {
  auto* node = t.node();
  wait_grad_job(*node);
  if (anomaly_mode) noted_gradients.push_back({node, std::is_same_v<T, double>});
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
                           shape_to_string(to_shape(shape)) + " but its input has shape " +
                           shape_to_string(to_shape(expected)));
  }
}

template void wait_grad_job(TensorNode<float>&);
template void wait_grad_job(TensorNode<double>&);
template TensorNode<float>& node_for_gradient(const BasicTensor<float>&);
template TensorNode<double>& node_for_gradient(const BasicTensor<double>&);
template void check_grad_shape(const TensorNode<float>&, const xt::svector<std::size_t>&);
template void check_grad_shape(const TensorNode<double>&, const xt::svector<std::size_t>&);

}  // namespace detail

template <class T>
xt::xarray<T> sum_to_shape(const xt::xarray<T>& g, const Shape& shape) {
  const std::size_t rank = g.dimension();
  if (rank == shape.size() && std::equal(shape.begin(), shape.end(), g.shape().begin())) return g;
  if (shape.size() > rank) throw std::logic_error("sum_to_shape: target rank exceeds gradient rank");
  // Walk g in row-major order, adding each element into the target element
  // it was broadcast from (stride 0 along broadcast axes).
  const std::size_t lead = rank - shape.size();
  std::vector<std::size_t> target_stride(rank, 0);
  std::size_t stride = 1;
  for (std::size_t i = rank; i-- > lead;) {
    const std::size_t d = shape[i - lead];
    if (d != 1 && d != g.shape()[i]) throw std::logic_error("sum_to_shape: shapes do not broadcast");
    target_stride[i] = d == 1 ? 0 : stride;
    stride *= d;
  }
  xt::xarray<T> out = xt::zeros<T>(shape);
  T* o = out.data();
  const T* src = g.data();
  const std::size_t inner = rank ? g.shape()[rank - 1] : 1;
  const std::size_t inner_stride = rank ? target_stride[rank - 1] : 0;
  std::vector<std::size_t> index(rank, 0);
  std::size_t offset = 0;
  for (std::size_t done = 0; done < g.size(); done += inner) {
    for (std::size_t j = 0; j < inner; ++j) o[offset + j * inner_stride] += src[done + j];
    for (std::size_t d = rank - 1; d-- > 0;) {  // advance the outer multi-index
      offset += target_stride[d];
      if (++index[d] < g.shape()[d]) break;
      offset -= target_stride[d] * index[d];
      index[d] = 0;
    }
  }
  return out;
}

template <class T>
void accumulate_grad_unbroadcast(const BasicTensor<T>& t, const xt::xarray<T>& g) {
  if (!t.requires_grad()) return;
  accumulate_grad(t, sum_to_shape(g, t.shape()));
}

template <class T>
T* gradient_buffer(const BasicTensor<T>& t, T& beta) {
  if (!t.requires_grad()) return nullptr;
  auto& node = detail::node_for_gradient(t);
  if (node.has_grad) {
    beta = T(1);
  } else {
    node.grad = detail::acquire_buffer<T>(node.gradient_shape());
    node.has_grad = true;
    beta = T(0);
  }
  return node.grad.data();
}

template <class T>
T* adopt_output_gradient(const BasicTensor<T>& t, const xt::xarray<T>& g) {
  if (!t.requires_grad() || &g != detail::disposable_output_grad) return nullptr;
  auto& node = detail::node_for_gradient(t);
  if (node.has_grad) return nullptr;
  detail::check_grad_shape(node, g.shape());
  node.grad = std::move(const_cast<xt::xarray<T>&>(g));  // the data pointer stays the same
  node.has_grad = true;
  detail::disposable_output_grad = nullptr;
  return node.grad.data();
}

template float* adopt_output_gradient(const BasicTensor<float>&, const xt::xarray<float>&);
template double* adopt_output_gradient(const BasicTensor<double>&, const xt::xarray<double>&);

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
  if (node->grad_job && !parallel::done(node->grad_job)) {
    beta = T(1);  // an earlier job of this leaf made the buffer
    return node->grad.data();
  }
  return gradient_buffer(t, beta);
}

template <class T>
void set_gradient_job(const BasicTensor<T>& t, std::uint64_t ticket) {
  t.node()->grad_job = ticket;
}

template float* async_gradient_buffer(const BasicTensor<float>&, float&);
template double* async_gradient_buffer(const BasicTensor<double>&, double&);
template void set_gradient_job(const BasicTensor<float>&, std::uint64_t);
template void set_gradient_job(const BasicTensor<double>&, std::uint64_t);
template float* zeroed_gradient_buffer(const BasicTensor<float>&);
template double* zeroed_gradient_buffer(const BasicTensor<double>&);
template xt::xarray<float> sum_to_shape(const xt::xarray<float>&, const Shape&);
template xt::xarray<double> sum_to_shape(const xt::xarray<double>&, const Shape&);
template <class T>
void accumulate_grad_unbroadcast(const BasicTensor<T>& t, xt::xarray<T>&& g) {
  if (!t.requires_grad()) return;
  const auto& ts = t.node()->gradient_shape();
  if (g.dimension() == ts.size() && std::equal(ts.begin(), ts.end(), g.shape().begin())) {
    accumulate_grad(t, std::move(g));
  } else {
    accumulate_grad(t, sum_to_shape(g, t.shape()));
  }
}

template void accumulate_grad_unbroadcast(const BasicTensor<float>&, xt::xarray<float>&&);
template void accumulate_grad_unbroadcast(const BasicTensor<double>&, xt::xarray<double>&&);
template void accumulate_grad_unbroadcast(const BasicTensor<float>&, const xt::xarray<float>&);
template void accumulate_grad_unbroadcast(const BasicTensor<double>&, const xt::xarray<double>&);
template float* gradient_buffer(const BasicTensor<float>&, float&);
template double* gradient_buffer(const BasicTensor<double>&, double&);

}  // namespace xgrad
