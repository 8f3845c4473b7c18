#include "xgrad/autograd/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>

#include "xgrad/autograd/detail/buffer_pool.hpp"
#include "xgrad/autograd/detail/gradient_target.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tape.hpp"

namespace xgrad {

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ',';
  os << ')';
  return os.str();
}

template <class T>
BasicTensor<T>::BasicTensor() = default;

template <class T>
BasicTensor<T>::~BasicTensor() {
  // Most nodes have no gradient targets: one relaxed load.
  if (node_ && node_->speed.target_refs.load(std::memory_order_relaxed) != 0) detail::free_value_if_only_targets(node_);
}

namespace detail {
template <class T>
void free_value_if_only_targets(const std::shared_ptr<TensorNode<T>>& node) {
  if (node->is_leaf() || node->record_freed || node->speed.record_reads_value || node->speed.value_taken) return;
  // This handle, the record's own reference, and the targets: nothing else.
  const long targets = long(node->speed.target_refs.load(std::memory_order_acquire));
  if (node.use_count() != 2 + targets) return;
  node->speed.taken_shape = node->value.shape();
  node->speed.value_taken = true;
  node->value = empty_array<T>();
}
template void free_value_if_only_targets(const std::shared_ptr<TensorNode<float>>&);
template void free_value_if_only_targets(const std::shared_ptr<TensorNode<double>>&);
}  // namespace detail

template <class T>
BasicTensor<T>::BasicTensor(array_type value, bool requires_grad)
    : node_(std::make_shared<TensorNode<T>>(std::move(value))) {
  detail::keep_large_blocks_in_heap();  // once per process
  node_->requires_grad = requires_grad;
}

template <class T>
BasicTensor<T> BasicTensor<T>::zeros(const Shape& shape, bool requires_grad) {
  return BasicTensor(xt::zeros<T>(shape), requires_grad);
}
template <class T>
BasicTensor<T> BasicTensor<T>::ones(const Shape& shape, bool requires_grad) {
  return BasicTensor(xt::ones<T>(shape), requires_grad);
}
template <class T>
BasicTensor<T> BasicTensor<T>::full(const Shape& shape, T fill, bool requires_grad) {
  array_type a = xt::empty<T>(shape);
  a.fill(fill);
  return BasicTensor(std::move(a), requires_grad);
}
template <class T>
BasicTensor<T> BasicTensor<T>::scalar(T v, bool requires_grad) {
  array_type a = xt::empty<T>(Shape{});
  a() = v;
  return BasicTensor(std::move(a), requires_grad);
}
template <class T>
BasicTensor<T> BasicTensor<T>::from_vector(const Shape& shape, std::vector<T> values, bool requires_grad) {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  if (n != values.size()) {
    throw std::invalid_argument("from_vector: shape " + shape_to_string(shape) + " needs " + std::to_string(n) +
                                " values, got " + std::to_string(values.size()));
  }
  array_type a = xt::empty<T>(shape);
  std::copy(values.begin(), values.end(), a.data());
  return BasicTensor(std::move(a), requires_grad);
}
template <class T>
BasicTensor<T> BasicTensor<T>::of(std::initializer_list<T> values, bool requires_grad) {
  return from_vector(Shape{values.size()}, std::vector<T>(values), requires_grad);
}
template <class T>
BasicTensor<T> BasicTensor<T>::of(std::initializer_list<std::initializer_list<T>> rows, bool requires_grad) {
  std::vector<T> flat;
  const std::size_t cols = rows.size() ? rows.begin()->size() : 0;
  for (const auto& r : rows) {
    if (r.size() != cols) throw std::invalid_argument("Tensor::of: ragged rows in a 2-D literal");
    flat.insert(flat.end(), r.begin(), r.end());
  }
  return from_vector(Shape{rows.size(), cols}, std::move(flat), requires_grad);
}
template <class T>
BasicTensor<T> BasicTensor<T>::of(std::initializer_list<std::initializer_list<std::initializer_list<T>>> planes,
                                  bool requires_grad) {
  std::vector<T> flat;
  const std::size_t rows = planes.size() ? planes.begin()->size() : 0;
  const std::size_t cols = rows ? planes.begin()->begin()->size() : 0;
  for (const auto& p : planes) {
    if (p.size() != rows) throw std::invalid_argument("Tensor::of: ragged planes in a 3-D literal");
    for (const auto& r : p) {
      if (r.size() != cols) throw std::invalid_argument("Tensor::of: ragged rows in a 3-D literal");
      flat.insert(flat.end(), r.begin(), r.end());
    }
  }
  return from_vector(Shape{planes.size(), rows, cols}, std::move(flat), requires_grad);
}

template <class T>
const TensorNode<T>& BasicTensor<T>::checked_node(const char* what) const {
  if (!node_) throw std::logic_error(std::string(what) + ": tensor is undefined");
  return *node_;
}

namespace {
// The value of a node, unless an op took or freed its buffer (addmm, unbind
// and mask given an rvalue do so only when no handle outside the tape is
// left, so this is a guard).
template <class T>
const xt::xarray<T>& readable_value(const TensorNode<T>& n, const char* what) {
  if (n.speed.value_taken) {
    throw std::logic_error(std::string(what) + ": the tensor's buffer was taken by an op that consumed it");
  }
  return n.value;
}
}  // namespace

// Shapes come from gradient_shape(): the value's, or the one kept when an
// op took the value's buffer.
template <class T>
Shape BasicTensor<T>::shape() const {
  return to_shape(checked_node("shape").gradient_shape());
}
template <class T>
std::size_t BasicTensor<T>::dim() const {
  return checked_node("dim").gradient_shape().size();
}
template <class T>
std::size_t BasicTensor<T>::size() const {
  std::size_t n = 1;
  for (auto d : checked_node("size").gradient_shape()) n *= d;
  return n;
}
template <class T>
std::size_t BasicTensor<T>::size(std::ptrdiff_t axis) const {
  const auto& shape = checked_node("size").gradient_shape();
  return shape[normalize_axis("size", axis, shape.size())];
}
template <class T>
const typename BasicTensor<T>::array_type& BasicTensor<T>::value() const {
  return readable_value(checked_node("value"), "value");
}
template <class T>
typename BasicTensor<T>::array_type& BasicTensor<T>::mutable_value() {
  readable_value(checked_node("mutable_value"), "mutable_value");
  return node_->value;
}
template <class T>
const T* BasicTensor<T>::data() const {
  return readable_value(checked_node("data"), "data").data();
}
template <class T>
T* BasicTensor<T>::mutable_data() {
  readable_value(checked_node("mutable_data"), "mutable_data");
  return node_->value.data();
}
template <class T>
BasicTensor<T>& BasicTensor<T>::copy_(const array_type& values) {
  auto& value = mutable_value();
  const auto& want = value.shape();
  const auto& got = values.shape();
  if (got.size() != want.size() || !std::equal(got.begin(), got.end(), want.begin())) {
    throw std::invalid_argument("copy_: values of shape " + shape_to_string(to_shape(got)) +
                                " do not fit a tensor of shape " + shape_to_string(to_shape(want)));
  }
  std::copy(values.data(), values.data() + values.size(), value.data());
  return *this;
}
template <class T>
T BasicTensor<T>::item() const {
  const auto& v = readable_value(checked_node("item"), "item");
  if (v.size() != 1) {
    throw std::invalid_argument("item: tensor of shape " + shape_to_string(to_shape(v.shape())) + " has " +
                                std::to_string(v.size()) + " elements, not 1");
  }
  return *v.data();
}
template <class T>
bool BasicTensor<T>::requires_grad() const {
  return node_ && node_->requires_grad;
}
template <class T>
BasicTensor<T>& BasicTensor<T>::requires_grad_(bool enabled) {
  if (!checked_node("requires_grad_").is_leaf()) {
    throw std::logic_error(
        "requires_grad_: only leaf tensors can change requires_grad; use detach() on an op's output");
  }
  node_->requires_grad = enabled;
  return *this;
}
template <class T>
bool BasicTensor<T>::is_leaf() const {
  return checked_node("is_leaf").is_leaf();
}
template <class T>
bool BasicTensor<T>::has_grad() const {
  return node_ && node_->has_grad;
}
template <class T>
const typename BasicTensor<T>::array_type& BasicTensor<T>::grad() const {
  if (!checked_node("grad").has_grad) {
    throw std::logic_error("grad: tensor of shape " + shape_to_string(shape()) +
                           " has no gradient (no backward reached it, or it does not require grad)");
  }
  return node_->grad;
}
template <class T>
typename BasicTensor<T>::array_type& BasicTensor<T>::mutable_grad() {
  grad();
  return node_->grad;
}
template <class T>
void BasicTensor<T>::zero_grad() {
  if (!node_) return;
  node_->grad = empty_array<T>();
  node_->has_grad = false;
}
template <class T>
BasicTensor<T>& BasicTensor<T>::retain_grad() {
  checked_node("retain_grad");
  node_->retains_grad = true;
  return *this;
}
template <class T>
void BasicTensor<T>::register_post_accumulate_grad_hook(std::function<void(const BasicTensor&)> hook) {
  const auto& n = checked_node("register_post_accumulate_grad_hook");
  if (!n.is_leaf() || !n.requires_grad) {
    throw std::logic_error(
        "register_post_accumulate_grad_hook: the tensor must be a leaf that requires grad (a parameter)");
  }
  if (!hook) throw std::invalid_argument("register_post_accumulate_grad_hook: the hook is empty");
  if (!node_->hooks) node_->hooks = std::make_shared<detail::LeafHookState>();
  // A weak handle: the hook must not keep the leaf alive.
  node_->hooks->hooks.push_back([weak = std::weak_ptr<TensorNode<T>>(node_), hook = std::move(hook)] {
    const auto node = weak.lock();
    if (!node || !node->has_grad) return;
    detail::wait_grad_job(*node);  // a weight-gradient job may still be writing it
    hook(BasicTensor(node));
  });
}
template <class T>
BasicTensor<T> BasicTensor<T>::detach() const {
  if (!defined()) return {};  // carried state that starts undefined stays so
  return BasicTensor(array_type(readable_value(checked_node("detach"), "detach")), false);
}
template <class T>
BasicTensor<T> BasicTensor<T>::clone_leaf() const {
  return BasicTensor(array_type(readable_value(checked_node("clone_leaf"), "clone_leaf")), requires_grad());
}
template <class T>
template <class U>
BasicTensor<U> BasicTensor<T>::cast(bool requires_grad) const {
  xt::xarray<U> v = xt::cast<U>(readable_value(checked_node("cast"), "cast"));
  return BasicTensor<U>(std::move(v), requires_grad);
}

template <class T>
void BasicTensor<T>::backward(bool retain_graph) const {
  const auto& n = checked_node("backward");
  if (size() != 1) {
    throw std::invalid_argument("backward: the root has shape " + shape_to_string(shape()) +
                                "; a non-scalar root needs an explicit seed gradient of that shape");
  }
  backward(BasicTensor(xt::ones<T>(n.gradient_shape())), retain_graph);
}

template <class T>
void BasicTensor<T>::backward(const BasicTensor& seed, bool retain_graph) const {
  const auto& n = checked_node("backward");
  if (!n.requires_grad) {
    throw std::logic_error(
        "backward: the root does not require grad (no input of its graph requires grad, "
        "or it was computed under no_grad)");
  }
  if (seed.shape() != shape()) {
    throw std::invalid_argument("backward: seed shape " + shape_to_string(seed.shape()) + " differs from root shape " +
                                shape_to_string(shape()));
  }
  if (!n.is_leaf() && n.tape != &Tape::current()) {
    throw std::logic_error("backward: the root was recorded on another thread's tape");
  }
  accumulate_grad(*this, array_type(seed.value()));
  if (n.is_leaf()) return;
  Tape::current().replay(n.record_id, retain_graph);
}

template <class T>
std::string BasicTensor<T>::to_string() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

template <class T>
std::ostream& operator<<(std::ostream& os, const BasicTensor<T>& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(shape=" << shape_to_string(t.shape()) << (t.requires_grad() ? ", requires_grad" : "") << ")\n"
     << t.value();
  return os;
}

template class BasicTensor<float>;
template class BasicTensor<double>;
template BasicTensor<double> BasicTensor<float>::cast<double>(bool) const;
template BasicTensor<float> BasicTensor<double>::cast<float>(bool) const;
template BasicTensor<float> BasicTensor<float>::cast<float>(bool) const;
template BasicTensor<double> BasicTensor<double>::cast<double>(bool) const;
template std::ostream& operator<<(std::ostream&, const BasicTensor<float>&);
template std::ostream& operator<<(std::ostream&, const BasicTensor<double>&);

}  // namespace xgrad
