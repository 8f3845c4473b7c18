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

template <class T>
bool kernel_rows_exact(std::size_t rows, const BasicTensor<T>& weight) {
  if constexpr (std::is_same_v<T, float>) {
    return weight.defined() && weight.dim() == 2 &&
           detail::small_gemm_suits(rows, weight.size(0), weight.size(1), 1.f, 0.f);
  } else {
    return false;
  }
}

template bool kernel_rows_exact(std::size_t, const BasicTensor<float>&);
template bool kernel_rows_exact(std::size_t, const BasicTensor<double>&);

}  // namespace xgrad
