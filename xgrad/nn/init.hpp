#pragma once
// Parameter initializers. Each overwrites the tensor's value in place
// (outside the tape) and draws from `gen` (default: the thread's default
// generator, see manual_seed). Fan-in/fan-out follow PyTorch: for a weight
// of shape (out, in, ...), fan_in = in * receptive field, fan_out = out * it.

#include "xgrad/autograd/random.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn::init {

template <class T>
void uniform_(BasicTensor<T>& t, double low, double high, Generator& gen = default_generator());
template <class T>
void normal_(BasicTensor<T>& t, double mean, double stddev, Generator& gen = default_generator());
template <class T>
void zeros_(BasicTensor<T>& t);
template <class T>
void ones_(BasicTensor<T>& t);
template <class T>
void constant_(BasicTensor<T>& t, double value);
// Glorot: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)); normal std = gain * sqrt(2 / (fan_in + fan_out)).
template <class T>
void xavier_uniform_(BasicTensor<T>& t, double gain = 1.0, Generator& gen = default_generator());
template <class T>
void xavier_normal_(BasicTensor<T>& t, double gain = 1.0, Generator& gen = default_generator());
// Keras's names for the same two (its `glorot_uniform`, `glorot_normal`).
template <class T>
void glorot_uniform_(BasicTensor<T>& t, double gain = 1.0, Generator& gen = default_generator()) {
  xavier_uniform_(t, gain, gen);
}
template <class T>
void glorot_normal_(BasicTensor<T>& t, double gain = 1.0, Generator& gen = default_generator()) {
  xavier_normal_(t, gain, gen);
}
// He, for ReLU (gain sqrt(2)) on fan_in: U(-b, b), b = sqrt(6 / fan_in); normal std = sqrt(2 / fan_in).
template <class T>
void kaiming_uniform_(BasicTensor<T>& t, Generator& gen = default_generator());
template <class T>
void kaiming_normal_(BasicTensor<T>& t, Generator& gen = default_generator());
// A (semi-)orthogonal matrix (Keras's default recurrent kernel): QR of a
// normal matrix with the signs of R's diagonal folded in, times gain. A
// tensor of rank > 2 is flattened to (shape[0], rest).
template <class T>
void orthogonal_(BasicTensor<T>& t, double gain = 1.0, Generator& gen = default_generator());

}  // namespace xgrad::nn::init
