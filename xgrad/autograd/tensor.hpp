#pragma once
// BasicTensor<T>: a cheap-to-copy handle to a value, an optional gradient and a
// requires_grad flag. Copies share the same node (like torch.Tensor handles).
//
// This header stays light on purpose: it includes only xtensor's forward
// declarations. Code that reads or writes values includes
// <xtensor/xarray.hpp> itself (or xgrad/autograd/function.hpp when writing ops).
//
// Layout: every value is a contiguous row-major xt::xarray<T>. Shapes are
// std::vector<std::size_t>; a 0-d tensor (shape {}) holds one scalar.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/xtensor_config.hpp"  // before any xtensor header

#include <xtensor/xstorage.hpp>  // completes uvector, which the xarray alias needs
#include <xtensor/xtensor_forward.hpp>

namespace xgrad {

using Shape = std::vector<std::size_t>;

template <class T>
struct TensorNode;  // xgrad/autograd/node.hpp

template <class T>
class BasicTensor {
 public:
  using value_type = T;
  using array_type = xt::xarray<T>;

  // An undefined tensor (no node): defined() is false. Useful as "no value",
  // e.g. an optional initial state.
  BasicTensor();
  BasicTensor(const BasicTensor&) = default;
  BasicTensor(BasicTensor&&) noexcept = default;
  // Copy and move assignment alike: the handle given up is destroyed, as
  // by the destructor.
  BasicTensor& operator=(BasicTensor other) noexcept {
    node_.swap(other.node_);
    return *this;
  }
  // Frees the value of a recorded tensor that only gradient targets can
  // still reach (Note [gradient targets] in detail/gradient_target.hpp).
  ~BasicTensor();
  // Wraps a value (moved in). A tensor made this way is a leaf.
  explicit BasicTensor(array_type value, bool requires_grad = false);

  // Factories. Shapes are row-major; `values` fill in row-major order.
  static BasicTensor zeros(const Shape& shape, bool requires_grad = false);
  static BasicTensor ones(const Shape& shape, bool requires_grad = false);
  static BasicTensor full(const Shape& shape, T fill, bool requires_grad = false);
  static BasicTensor scalar(T v, bool requires_grad = false);  // shape {}
  static BasicTensor from_vector(const Shape& shape, std::vector<T> values, bool requires_grad = false);
  // 1-D, 2-D and 3-D literals: of({1, 2}), of({{1, 2}, {3, 4}}).
  // Ragged nested lists throw std::invalid_argument. Rows of one element
  // ({{1}, {2}}) are ambiguous in C++; use from_vector({2, 1}, {1, 2}).
  static BasicTensor of(std::initializer_list<T> values, bool requires_grad = false);
  static BasicTensor of(std::initializer_list<std::initializer_list<T>> rows, bool requires_grad = false);
  static BasicTensor of(std::initializer_list<std::initializer_list<std::initializer_list<T>>> planes,
                        bool requires_grad = false);

  bool defined() const { return node_ != nullptr; }
  Shape shape() const;
  std::size_t dim() const;
  std::size_t size() const;                     // number of elements
  std::size_t size(std::ptrdiff_t axis) const;  // negative axes count from the end

  const array_type& value() const;
  // Mutable access to the value, outside the tape: for optimizers and
  // initializers updating leaves. Changing a value that a recorded op saved
  // makes that op's gradient wrong, as in PyTorch's in-place rules.
  array_type& mutable_value();
  const T* data() const;
  T* mutable_data();
  // Overwrites the value with `values`, which must have the same shape
  // (throws std::invalid_argument naming both otherwise), outside the tape:
  // torch's `with no_grad(): p.copy_(values)`. Unlike assigning to
  // mutable_value(), it never reshapes.
  BasicTensor& copy_(const array_type& values);
  T item() const;  // the single element; throws unless size() == 1

  bool requires_grad() const;
  // Turns gradient tracking on or off for a leaf (throws on non-leaves).
  BasicTensor& requires_grad_(bool enabled = true);
  bool is_leaf() const;

  bool has_grad() const;
  const array_type& grad() const;  // throws if there is no gradient
  array_type& mutable_grad();      // throws if there is no gradient
  // Drops the gradient (PyTorch's zero_grad(set_to_none=True)): the next
  // backward writes a fresh one instead of accumulating.
  void zero_grad();
  // Keeps this non-leaf tensor's gradient after backward (torch retain_grad).
  BasicTensor& retain_grad();
  // Calls hook(leaf) during backward as soon as this leaf's gradient is
  // final for that backward: after the last rule that adds to it, while
  // the rest of backward still runs (torch's
  // register_post_accumulate_grad_hook; DistributedDataParallel starts its
  // all-reduces from it). Not called when backward gives the leaf no
  // gradient. Throws std::logic_error on a non-leaf or a leaf that does not
  // require grad.
  void register_post_accumulate_grad_hook(std::function<void(const BasicTensor&)> hook);

  // A new leaf with a copy of the value and requires_grad false. An
  // undefined tensor detaches to an undefined tensor (a recurrent state that
  // starts undefined can be carried with detach() from the first batch).
  BasicTensor detach() const;
  // A deep copy of the value as a new leaf with the same requires_grad.
  BasicTensor clone_leaf() const;
  // Converts the value to another scalar type, as a new leaf.
  template <class U>
  BasicTensor<U> cast(bool requires_grad = false) const;

  // Reverse-mode differentiation from this tensor. A scalar root (size 1)
  // is seeded with 1; a larger one needs an explicit seed of its shape.
  // retain_graph keeps the tape's records so backward can run again.
  void backward(bool retain_graph = false) const;
  void backward(const BasicTensor& seed, bool retain_graph = false) const;

  std::string to_string() const;

  // For op implementations (xgrad/autograd/function.hpp).
  TensorNode<T>* node() const { return node_.get(); }
  const std::shared_ptr<TensorNode<T>>& node_ptr() const { return node_; }

 private:
  explicit BasicTensor(std::shared_ptr<TensorNode<T>> node) : node_(std::move(node)) {}
  const TensorNode<T>& checked_node(const char* what) const;
  std::shared_ptr<TensorNode<T>> node_;
  template <class U>
  friend class BasicTensor;
};

// float32 is the training type; float64 exists for gradient checks.
using Tensor = BasicTensor<float>;
using TensorD = BasicTensor<double>;

template <class T>
std::ostream& operator<<(std::ostream& os, const BasicTensor<T>& t);

// "(2, 3, 4)", for error messages.
std::string shape_to_string(const Shape& shape);

extern template class BasicTensor<float>;
extern template class BasicTensor<double>;

}  // namespace xgrad
