#pragma once
// Seeded random numbers, bit-compatible with NumPy's legacy RandomState:
// Generator(seed) draws the same doubles as np.random.seed(seed);
// np.random.rand(...) (MT19937 seeded by init_genrand, each double built from
// two 32-bit draws), and normal() the same values as np.random.randn (the
// polar method with its cached second value). Reproducible across platforms,
// unlike std:: distributions.

#include <cstdint>
#include <random>
#include <string>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

class Generator {
 public:
  explicit Generator(std::uint32_t seed = 0) { reseed(seed); }
  void reseed(std::uint32_t seed);

  std::uint32_t next_u32() { return static_cast<std::uint32_t>(engine_()); }
  // Uniform in [0, 1) with 53 random bits (np.random.rand).
  double uniform();
  // Standard normal (np.random.randn).
  double normal();
  // Uniform integer in [0, n) (n > 0), unbiased by rejection.
  std::uint64_t below(std::uint64_t n);

  // The complete state as text (engine and cached normal), for checkpoints.
  std::string state() const;
  void set_state(const std::string& state);  // throws std::invalid_argument on malformed text

 private:
  std::mt19937 engine_;
  bool has_cached_normal_ = false;
  double cached_normal_ = 0.0;
};

// The calling thread's default generator (torch's global RNG): dropout,
// initializers and shuffling draw from it unless given a generator.
// manual_seed reseeds it.
Generator& default_generator();
void manual_seed(std::uint32_t seed);

// Tensors of random values (leaves). Float values are the doubles rounded,
// kept strictly below `high` for uniform draws.
template <class T>
BasicTensor<T> rand(const Shape& shape, Generator& gen, bool requires_grad = false);
template <class T>
BasicTensor<T> uniform(const Shape& shape, T low, T high, Generator& gen, bool requires_grad = false);
template <class T>
BasicTensor<T> randn(const Shape& shape, Generator& gen, bool requires_grad = false);
template <class T>
BasicTensor<T> normal(const Shape& shape, T mean, T stddev, Generator& gen, bool requires_grad = false);

// torch.multinomial: for each row of `weights` ((C) or (N, C), non-negative,
// not necessarily normalized), num_samples class indices drawn with
// probability proportional to the weights, with or without replacement.
// Result (num_samples) or (N, num_samples). Throws std::invalid_argument for
// a negative or non-finite weight, an all-zero row, or more samples without
// replacement than the row has non-zero weights.
template <class T>
xt::xarray<std::int64_t> multinomial(const BasicTensor<T>& weights, std::size_t num_samples, bool replacement = false,
                                     Generator& gen = default_generator());

}  // namespace xgrad
