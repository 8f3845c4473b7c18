#include "xgrad/models/scratch_lstm.hpp"

#include <cmath>
#include <stdexcept>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/nn/init.hpp"

namespace xgrad::models {

template <class T>
ScratchLSTMCell<T>::ScratchLSTMCell(std::size_t in, std::size_t hidden) : input_size(in), hidden_size(hidden) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  const char* names[] = {"W_f", "W_i", "W_c", "W_o"};
  BasicTensor<T>* weights[] = {&W_f, &W_i, &W_c, &W_o};
  BasicTensor<T>* biases[] = {&b_f, &b_i, &b_c, &b_o};
  for (int k = 0; k < 4; ++k) {
    *weights[k] = this->register_parameter(names[k], BasicTensor<T>::zeros({hidden, hidden + in}));
    *biases[k] = this->register_parameter(std::string("b_") + names[k][2], BasicTensor<T>::zeros({hidden}));
    nn::init::uniform_(*weights[k], -bound, bound);
    nn::init::uniform_(*biases[k], -bound, bound);
  }
}

// The lab's equations, line for line.
template <class T>
std::pair<BasicTensor<T>, BasicTensor<T>> ScratchLSTMCell<T>::step(const BasicTensor<T>& x, const BasicTensor<T>& h,
                                                                   const BasicTensor<T>& c) const {
  const BasicTensor<T> hx = concat(std::vector<BasicTensor<T>>{h, x}, 1);  // [h_{t-1}, x_t]
  const BasicTensor<T> f = sigmoid(linear(hx, W_f, b_f));
  const BasicTensor<T> i = sigmoid(linear(hx, W_i, b_i));
  const BasicTensor<T> g = tanh(linear(hx, W_c, b_c));
  const BasicTensor<T> o = sigmoid(linear(hx, W_o, b_o));
  const BasicTensor<T> c_next = f * c + i * g;
  return {o * tanh(c_next), c_next};
}

template <class T>
typename ScratchLSTMCell<T>::Sequence ScratchLSTMCell<T>::run(const BasicTensor<T>& x) const {
  if (x.dim() != 3 || x.size(2) != input_size) {
    throw std::invalid_argument("ScratchLSTMCell: expected input (batch, time, " + std::to_string(input_size) +
                                "), got shape " + shape_to_string(x.shape()));
  }
  BasicTensor<T> h = BasicTensor<T>::zeros({x.size(0), hidden_size}), c = h;
  std::vector<BasicTensor<T>> outputs;
  for (std::size_t t = 0; t < x.size(1); ++t) {
    std::tie(h, c) = step(select(x, 1, t), h, c);
    outputs.push_back(h);
  }
  return {stack(outputs, 1), h, c};
}

template <class T>
void ScratchLSTMCell<T>::copy_from(const nn::Recurrent<T>& lstm) {
  if (lstm.kind() != nn::CellKind::LSTM || lstm.options().input_size != input_size ||
      lstm.options().hidden_size != hidden_size || !lstm.options().bias) {
    throw std::invalid_argument("ScratchLSTMCell::copy_from: needs an LSTM with bias of the same sizes");
  }
  const auto& p = lstm.layer_parameters(0, 0);
  const std::size_t H = hidden_size;
  // PyTorch's row blocks are i, f, g, o.
  BasicTensor<T>* weights[] = {&W_i, &W_f, &W_c, &W_o};
  BasicTensor<T>* biases[] = {&b_i, &b_f, &b_c, &b_o};
  for (std::size_t k = 0; k < 4; ++k) {
    auto rows = xt::range(k * H, (k + 1) * H);
    auto& w = weights[k]->mutable_value();
    xt::view(w, xt::all(), xt::range(0, H)) = xt::view(p.weight_hh.value(), rows, xt::all());
    xt::view(w, xt::all(), xt::range(H, H + input_size)) = xt::view(p.weight_ih.value(), rows, xt::all());
    biases[k]->mutable_value() = xt::view(p.bias_ih.value(), rows) + xt::view(p.bias_hh.value(), rows);
  }
}

template class ScratchLSTMCell<float>;
template class ScratchLSTMCell<double>;

}  // namespace xgrad::models
