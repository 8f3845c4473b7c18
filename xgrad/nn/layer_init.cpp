#include "xgrad/nn/layer_init.hpp"

#include <xtensor/xview.hpp>

#include "xgrad/nn/init.hpp"

namespace xgrad::nn::init {

template <class T>
void keras_(Linear<T>& layer, Generator& gen) {
  xavier_uniform_(layer.weight, 1.0, gen);
  if (layer.bias.defined()) zeros_(layer.bias);
}

template <class T>
void keras_(Embedding<T>& layer, Generator& gen) {
  uniform_(layer.weight, -0.05, 0.05, gen);
}

template <class T>
void keras_(Recurrent<T>& layer, bool unit_forget_bias, Generator& gen) {
  const std::size_t hidden = layer.options().hidden_size;
  for (std::size_t l = 0; l < layer.options().num_layers; ++l) {
    for (std::size_t d = 0; d < layer.num_directions(); ++d) {
      // Handles share the parameters' storage: initializing a copy of the
      // handle initializes the parameter.
      auto p = layer.layer_parameters(l, d);
      xavier_uniform_(p.weight_ih, 1.0, gen);
      orthogonal_(p.weight_hh, 1.0, gen);
      if (!p.bias_ih.defined()) continue;
      zeros_(p.bias_ih);
      zeros_(p.bias_hh);
      if (unit_forget_bias && layer.kind() == CellKind::LSTM)
        xt::view(p.bias_ih.mutable_value(), xt::range(hidden, 2 * hidden)) = T(1);
    }
  }
}

template <class T>
void chrono_(Recurrent<T>& layer, double max_lag, Generator& gen) {
  if (layer.kind() != CellKind::LSTM || !layer.options().bias)
    throw std::invalid_argument("chrono_: needs an LSTM with biases, got " + layer.type_name());
  if (!(max_lag >= 3)) throw std::invalid_argument("chrono_: max_lag must be at least 3");
  const std::size_t hidden = layer.options().hidden_size;
  for (std::size_t l = 0; l < layer.options().num_layers; ++l) {
    for (std::size_t d = 0; d < layer.num_directions(); ++d) {
      auto p = layer.layer_parameters(l, d);  // handles: writes reach the parameters
      T* b_ih = p.bias_ih.mutable_data();
      T* b_hh = p.bias_hh.mutable_data();
      for (std::size_t j = 0; j < hidden; ++j) {
        const double forget = std::log(1.0 + (max_lag - 2.0) * gen.uniform());  // log U(1, max_lag - 1)
        b_ih[hidden + j] = static_cast<T>(forget);                              // gates i, f, g, o
        b_ih[j] = static_cast<T>(-forget);
        b_hh[j] = b_hh[hidden + j] = T(0);
      }
    }
  }
}

#define XGRAD_INSTANTIATE(T)                             \
  template void keras_(Linear<T>&, Generator&);          \
  template void keras_(Embedding<T>&, Generator&);       \
  template void keras_(Recurrent<T>&, bool, Generator&); \
  template void chrono_(Recurrent<T>&, double, Generator&);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad::nn::init
