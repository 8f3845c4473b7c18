#include "xgrad/autograd/packed_weights.hpp"

#include <memory>
#include <type_traits>

#include "xgrad/autograd/detail/small_gemm.hpp"

namespace xgrad {

template <class T>
PackedWeightsGuard<T>::PackedWeightsGuard(const BasicTensor<T>& weight) {
  if constexpr (std::is_same_v<T, float>) {
    if (!weight.defined() || weight.dim() != 2 || weight.size() == 0 || !detail::small_gemm_enabled()) return;
    const std::size_t n = weight.size(0), k = weight.size(1);
    auto panels = std::make_shared<detail::PackedPanels>();
    detail::pack_transposed(weight.data(), n, k, k, *panels);
    detail::push_packed_weight(weight.data(), k, std::move(panels));
    registered_ = true;
  }
}

template <class T>
PackedWeightsGuard<T>::~PackedWeightsGuard() {
  if (registered_) detail::pop_packed_weight();
}

template class PackedWeightsGuard<float>;
template class PackedWeightsGuard<double>;

}  // namespace xgrad
