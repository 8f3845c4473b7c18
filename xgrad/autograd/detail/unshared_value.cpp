#include "xgrad/autograd/detail/unshared_value.hpp"

#include "xgrad/autograd/node.hpp"

namespace xgrad::detail {

template <class T>
bool take_unshared_value(const BasicTensor<T>& t, xt::xarray<T>& into) {
  const auto& node = t.node_ptr();
  // A non-leaf's second reference must be its record's: once the record is
  // freed (a backward without retain_graph), it may be a user's handle.
  // Gradient targets (Note [gradient targets]) never read the value.
  const long targets = long(node->speed.target_refs.load(std::memory_order_acquire));
  const bool unshared = t.is_leaf()
                            ? node.use_count() == 1 + targets
                            : !node->speed.record_reads_value && !node->record_freed && node.use_count() == 2 + targets;
  if (!unshared) return false;
  node->speed.taken_shape = node->value.shape();
  node->speed.value_taken = true;
  into = std::move(node->value);
  node->value = empty_array<T>();
  return true;
}

template bool take_unshared_value(const BasicTensor<float>&, xt::xarray<float>&);
template bool take_unshared_value(const BasicTensor<double>&, xt::xarray<double>&);

}  // namespace xgrad::detail
