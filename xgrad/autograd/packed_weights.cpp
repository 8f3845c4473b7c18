#include "xgrad/autograd/packed_weights.hpp"

#include <type_traits>

#include "xgrad/autograd/detail/small_gemm.hpp"

namespace xgrad {

template <class T>
PackedWeightsGuard<T>::PackedWeightsGuard(const BasicTensor<T>& weight) {
  if constexpr (std::is_same_v<T, float>) {
    if (!weight.defined() || weight.dim() != 2) return;
    // The closure holds the handle: the value's buffer outlives the guard
    // (Note [packed weight registry]).
    id_ = detail::register_packed_weight([weight] { return weight.data(); }, weight.size(0), weight.size(1));
  }
}

template <class T>
PackedWeightsGuard<T>::~PackedWeightsGuard() {
  if (id_) detail::unregister_packed_weight(id_);
}

template class PackedWeightsGuard<float>;
template class PackedWeightsGuard<double>;

}  // namespace xgrad
