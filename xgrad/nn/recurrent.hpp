#pragma once
// Recurrent layers RNN (tanh), LSTM and GRU, and the single-step cells,
// written with generic autograd ops only: BPTT is the tape replaying the
// unrolled steps. Parameter names, shapes, gate order (LSTM i, f, g, o; GRU
// r, z, n) and default initialization (uniform +-1/sqrt(hidden_size)) match
// PyTorch, so a PyTorch state_dict maps one-to-one.
//
// Shapes (PyTorch's): input (T, B, F), or (B, T, F) with batch_first;
// h0/c0 and h_n/c_n (num_layers * num_directions, B, H); output (T, B, D*H)
// or (B, T, D*H), D = 2 if bidirectional. Layer l direction d's parameters:
// weight_ih_l{l}[_reverse] (G*H, in), weight_hh_l{l} (G*H, H), bias_ih_l{l},
// bias_hh_l{l} (G*H), with G = 1 (RNN), 4 (LSTM), 3 (GRU).

#include <cstddef>
#include <vector>

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

// The RNN's activation (torch.nn.RNN's nonlinearity).
enum class Nonlinearity { tanh, relu };

struct RecurrentOptions {
  std::size_t input_size = 0;
  std::size_t hidden_size = 0;
  std::size_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;  // PyTorch: on each layer's output except the last, in training
  bool bidirectional = false;
  // Keras: one dropout mask per sequence on the recurrent input h (and on
  // the input x for input_dropout, Keras's `dropout`), in training.
  double recurrent_dropout = 0.0;
  double input_dropout = 0.0;
  // Time steps whose input projections (x W_ih^T + b) are computed in one
  // GEMM, just before those steps run. 0 (the default): about 1 MiB of
  // projection per block, which keeps it in cache (see recurrent.cpp).
  // Results do not depend on it beyond float rounding of dW_ih and db.
  std::size_t projection_block = 0;
  Nonlinearity nonlinearity = Nonlinearity::tanh;  // RNN only
};
using RNNOptions = RecurrentOptions;
using LSTMOptions = RecurrentOptions;
using GRUOptions = RecurrentOptions;

enum class CellKind { RNNTanh, RNNReLU, LSTM, GRU };

template <class T>
struct RecurrentOutput {
  BasicTensor<T> output{};  // every step's top-layer h (zero at padded steps)
  BasicTensor<T> h_n{};     // final hidden state of each layer and direction
  BasicTensor<T> c_n{};     // final cell state (LSTM only; undefined otherwise)
};

// The shared implementation of RNN, LSTM and GRU.
template <class T = float>
class Recurrent : public Module<T> {
 public:
  Recurrent(CellKind kind, RecurrentOptions options);
  // h0, c0 may be undefined (zeros). lengths (one per sequence, 1..T), if
  // given, make each sequence's states stop at its own last real step: h_n
  // holds that step's state (for the reverse direction, the state after
  // reading back to step 0 from the sequence's last real step), and output
  // is zero at padded steps, as PyTorch's packed sequences.
  RecurrentOutput<T> forward_states(const BasicTensor<T>& input, const BasicTensor<T>& h0, const BasicTensor<T>& c0,
                                    const std::vector<std::size_t>& lengths);
  BasicTensor<T> forward(const BasicTensor<T>& input) override { return forward_states(input, {}, {}, {}).output; }
  std::string type_name() const override;
  const RecurrentOptions& options() const { return options_; }
  CellKind kind() const { return kind_; }
  std::size_t num_directions() const { return options_.bidirectional ? 2 : 1; }
  // Layer l, direction d's parameters (bias_ih/bias_hh undefined without bias).
  struct LayerParameters {
    BasicTensor<T> weight_ih{}, weight_hh{}, bias_ih{}, bias_hh{};
  };
  const LayerParameters& layer_parameters(std::size_t layer, std::size_t direction) const;

 private:
  // Inference runs a batch of at least twice this many sequences as two
  // parts (Note [batch parts] in recurrent.cpp).
  static constexpr std::size_t kMinPartRows = 8;
  RecurrentOutput<T> run_in_batch_parts(const BasicTensor<T>& x, const BasicTensor<T>& h0, const BasicTensor<T>& c0,
                                        const std::vector<std::size_t>& lengths);
  // last_steps: if given and the last layer has one direction, its (B, H)
  // step outputs are moved there and the returned output is undefined.
  RecurrentOutput<T> run_time_major(const BasicTensor<T>& x, const BasicTensor<T>& h0, const BasicTensor<T>& c0,
                                    const std::vector<std::size_t>& lengths,
                                    std::vector<BasicTensor<T>>* last_steps = nullptr);
  CellKind kind_;
  RecurrentOptions options_;
  std::vector<LayerParameters> layers_;  // index layer * D + direction
};

template <class T = float>
class RNN : public Recurrent<T> {
 public:
  explicit RNN(RecurrentOptions options)
      : Recurrent<T>(options.nonlinearity == Nonlinearity::relu ? CellKind::RNNReLU : CellKind::RNNTanh, options) {}
  RecurrentOutput<T> forward(const BasicTensor<T>& input, const BasicTensor<T>& h0,
                             const std::vector<std::size_t>& lengths = {}) {
    return this->forward_states(input, h0, {}, lengths);
  }
  using Recurrent<T>::forward;
};

template <class T = float>
class LSTM : public Recurrent<T> {
 public:
  explicit LSTM(RecurrentOptions options) : Recurrent<T>(CellKind::LSTM, options) {}
  RecurrentOutput<T> forward(const BasicTensor<T>& input, const BasicTensor<T>& h0, const BasicTensor<T>& c0,
                             const std::vector<std::size_t>& lengths = {}) {
    return this->forward_states(input, h0, c0, lengths);
  }
  using Recurrent<T>::forward;
};

template <class T = float>
class GRU : public Recurrent<T> {
 public:
  explicit GRU(RecurrentOptions options) : Recurrent<T>(CellKind::GRU, options) {}
  RecurrentOutput<T> forward(const BasicTensor<T>& input, const BasicTensor<T>& h0,
                             const std::vector<std::size_t>& lengths = {}) {
    return this->forward_states(input, h0, {}, lengths);
  }
  using Recurrent<T>::forward;
};

// Single-step cells: x (B, input_size), h and c (B, hidden_size) or
// undefined (zeros). Parameters weight_ih, weight_hh, bias_ih, bias_hh.
template <class T = float>
class RecurrentCell : public Module<T> {
 public:
  RecurrentCell(CellKind kind, std::size_t input_size, std::size_t hidden_size, bool bias = true);
  // Returns (h', c'); c' is undefined except for LSTM cells.
  std::pair<BasicTensor<T>, BasicTensor<T>> step(const BasicTensor<T>& x, const BasicTensor<T>& h,
                                                 const BasicTensor<T>& c = {});
  BasicTensor<T> forward(const BasicTensor<T>& x) override { return step(x, {}, {}).first; }
  std::string type_name() const override;
  BasicTensor<T> weight_ih, weight_hh, bias_ih, bias_hh;

 private:
  CellKind kind_;
  std::size_t input_size_, hidden_size_;
};

template <class T = float>
class RNNCell : public RecurrentCell<T> {
 public:
  RNNCell(std::size_t input_size, std::size_t hidden_size, bool bias = true,
          Nonlinearity nonlinearity = Nonlinearity::tanh)
      : RecurrentCell<T>(nonlinearity == Nonlinearity::relu ? CellKind::RNNReLU : CellKind::RNNTanh, input_size,
                         hidden_size, bias) {}
};
template <class T = float>
class LSTMCell : public RecurrentCell<T> {
 public:
  LSTMCell(std::size_t input_size, std::size_t hidden_size, bool bias = true)
      : RecurrentCell<T>(CellKind::LSTM, input_size, hidden_size, bias) {}
};
template <class T = float>
class GRUCell : public RecurrentCell<T> {
 public:
  GRUCell(std::size_t input_size, std::size_t hidden_size, bool bias = true)
      : RecurrentCell<T>(CellKind::GRU, input_size, hidden_size, bias) {}
};

extern template class Recurrent<float>;
extern template class Recurrent<double>;
extern template class RecurrentCell<float>;
extern template class RecurrentCell<double>;

}  // namespace xgrad::nn
