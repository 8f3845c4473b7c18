#pragma once
// Lab L1's LSTM, written as user code from its gate equations on autograd
// primitives (no nn::LSTM inside): for t = 1..T, with [h, x] the
// concatenation of the previous hidden state and the input,
//   f = sigmoid(W_f [h, x] + b_f)   i = sigmoid(W_i [h, x] + b_i)
//   g = tanh(W_c [h, x] + b_c)      o = sigmoid(W_o [h, x] + b_o)
//   c = f * c + i * g               h = o * tanh(c)
// BPTT and every gradient come from the tape. from_lstm() copies an
// nn::LSTM's weights into this layout, so the two can be compared.

#include <memory>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace xgrad::models {

template <class T = float>
class ScratchLSTMCell : public nn::Module<T> {
 public:
  ScratchLSTMCell(std::size_t input_size, std::size_t hidden_size);
  // x (B, F), h and c (B, H) -> (h', c').
  std::pair<BasicTensor<T>, BasicTensor<T>> step(const BasicTensor<T>& x, const BasicTensor<T>& h,
                                                 const BasicTensor<T>& c) const;
  // Unrolls over a batch-first sequence x (B, T, F) from zero states;
  // returns every step's h stacked as (B, T, H) and the final (h, c).
  struct Sequence {
    BasicTensor<T> outputs, h, c;
  };
  Sequence run(const BasicTensor<T>& x) const;
  // Copies layer 0 (forward direction) of a PyTorch-layout LSTM:
  // W_gate = [W_hh_gate, W_ih_gate] (columns for h, then x), b_gate = b_ih + b_hh.
  void copy_from(const nn::Recurrent<T>& lstm);
  std::string type_name() const override { return "ScratchLSTMCell"; }

  BasicTensor<T> W_f, W_i, W_c, W_o;  // (H, H + F)
  BasicTensor<T> b_f, b_i, b_c, b_o;  // (H)
  std::size_t input_size, hidden_size;
};

extern template class ScratchLSTMCell<float>;
extern template class ScratchLSTMCell<double>;

}  // namespace xgrad::models
