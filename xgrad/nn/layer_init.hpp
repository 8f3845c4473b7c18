#pragma once
// Initialization presets for whole layers.
//
// keras_: Keras's default initializations for xgrad's layers, to reproduce a Keras
// model's training (what keras.layers.Dense, Embedding, SimpleRNN, LSTM and
// GRU draw when built with their defaults):
//
//   Linear     weight glorot_uniform, bias zeros
//   Embedding  weight uniform(-0.05, 0.05)
//   recurrent  weight_ih glorot_uniform, weight_hh orthogonal, biases zeros;
//              an LSTM with unit_forget_bias (Keras's default) starts its
//              forget gate open: bias_ih's forget block is 1 (Keras has one
//              bias per layer; bias_hh stays 0, so the sums agree)
//
// Weights have PyTorch's (out, in) layout, the transpose of a Keras kernel;
// glorot's limit sqrt(6 / (in + out)) and orthogonality do not depend on
// the orientation, and the gate order (input, forget, cell, output) is the
// same in both. PyTorch's defaults (uniform(-1/sqrt(H), 1/sqrt(H)) for
// every recurrent weight, N(0, 1) embeddings) are what the layers start with.

#include "xgrad/autograd/random.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace xgrad::nn::init {

template <class T>
void keras_(Linear<T>& layer, Generator& gen = default_generator());
template <class T>
void keras_(Embedding<T>& layer, Generator& gen = default_generator());
// Every layer and direction of an RNN, LSTM or GRU.
template <class T>
void keras_(Recurrent<T>& layer, bool unit_forget_bias = true, Generator& gen = default_generator());

// chrono_: the chrono initialization of an LSTM's gate biases (Tallec &
// Ollivier, "Can recurrent neural networks warp time?", ICLR 2018), for
// dependencies up to `max_lag` steps: each unit's forget bias is log(u),
// u ~ U(1, max_lag - 1), and its input bias the negative of that, so units
// start out remembering over 1 to max_lag steps (a forget bias of 1 makes
// every unit forget within a few steps: 0.73^100 ~ 2e-14). Sets bias_ih's
// input and forget blocks and zeroes bias_hh's; the weights are left as
// they are. Throws std::invalid_argument unless the layer is an LSTM with
// biases and max_lag >= 3.
template <class T>
void chrono_(Recurrent<T>& layer, double max_lag, Generator& gen = default_generator());

}  // namespace xgrad::nn::init
