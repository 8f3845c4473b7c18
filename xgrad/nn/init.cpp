#include "xgrad/nn/init.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

#include <xtensor/xarray.hpp>

namespace xgrad::nn::init {

namespace {

struct Fans {
  double in = 1, out = 1;
};

template <class T>
Fans fans_of(const BasicTensor<T>& t, const char* who) {
  const Shape s = t.shape();
  if (s.size() < 2) {
    throw std::invalid_argument(std::string(who) + ": needs a tensor of rank >= 2 for fan in/out, got shape " +
                                shape_to_string(s));
  }
  double receptive = 1;
  for (std::size_t i = 2; i < s.size(); ++i) receptive *= static_cast<double>(s[i]);
  return {static_cast<double>(s[1]) * receptive, static_cast<double>(s[0]) * receptive};
}

}  // namespace

template <class T>
void uniform_(BasicTensor<T>& t, double low, double high, Generator& gen) {
  if (!(low < high)) throw std::invalid_argument("uniform_: low must be below high");
  for (auto& v : t.mutable_value()) {
    T x = static_cast<T>(low + (high - low) * gen.uniform());
    v = x < static_cast<T>(high) ? x : static_cast<T>(low);
  }
}
template <class T>
void normal_(BasicTensor<T>& t, double mean, double stddev, Generator& gen) {
  for (auto& v : t.mutable_value()) v = static_cast<T>(mean + stddev * gen.normal());
}
template <class T>
void constant_(BasicTensor<T>& t, double value) {
  t.mutable_value().fill(static_cast<T>(value));
}
template <class T>
void zeros_(BasicTensor<T>& t) {
  constant_(t, 0.0);
}
template <class T>
void ones_(BasicTensor<T>& t) {
  constant_(t, 1.0);
}
template <class T>
void xavier_uniform_(BasicTensor<T>& t, double gain, Generator& gen) {
  const Fans f = fans_of(t, "xavier_uniform_");
  const double a = gain * std::sqrt(6.0 / (f.in + f.out));
  uniform_(t, -a, a, gen);
}
template <class T>
void xavier_normal_(BasicTensor<T>& t, double gain, Generator& gen) {
  const Fans f = fans_of(t, "xavier_normal_");
  normal_(t, 0.0, gain * std::sqrt(2.0 / (f.in + f.out)), gen);
}
template <class T>
void kaiming_uniform_(BasicTensor<T>& t, Generator& gen) {
  const double b = std::sqrt(6.0 / fans_of(t, "kaiming_uniform_").in);
  uniform_(t, -b, b, gen);
}
template <class T>
void kaiming_normal_(BasicTensor<T>& t, Generator& gen) {
  normal_(t, 0.0, std::sqrt(2.0 / fans_of(t, "kaiming_normal_").in), gen);
}

template <class T>
void orthogonal_(BasicTensor<T>& t, double gain, Generator& gen) {
  const Shape s = t.shape();
  if (s.size() < 2) throw std::invalid_argument("orthogonal_: needs rank >= 2, got shape " + shape_to_string(s));
  const std::size_t rows = s[0], cols = t.size() / std::max<std::size_t>(rows, 1);
  // Orthonormalize the longer side's vectors: work on an (n, m) matrix with
  // n >= m, columns orthonormal (modified Gram-Schmidt in double), then
  // transpose back if rows < cols.
  const bool transposed = rows < cols;
  const std::size_t n = transposed ? cols : rows, m = transposed ? rows : cols;
  std::vector<double> a(n * m);
  for (auto& v : a) v = gen.normal();
  for (std::size_t j = 0; j < m; ++j) {
    for (std::size_t k = 0; k < j; ++k) {
      double dot = 0;
      for (std::size_t i = 0; i < n; ++i) dot += a[i * m + j] * a[i * m + k];
      for (std::size_t i = 0; i < n; ++i) a[i * m + j] -= dot * a[i * m + k];
    }
    double norm = 0;
    for (std::size_t i = 0; i < n; ++i) norm += a[i * m + j] * a[i * m + j];
    norm = std::sqrt(norm);
    if (norm < 1e-12) throw std::runtime_error("orthogonal_: degenerate random draw");
    for (std::size_t i = 0; i < n; ++i) a[i * m + j] /= norm;
  }
  T* out = t.mutable_data();
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      out[r * cols + c] = static_cast<T>(gain * (transposed ? a[c * m + r] : a[r * m + c]));
}

#define XGRAD_INSTANTIATE(T)                                           \
  template void uniform_(BasicTensor<T>&, double, double, Generator&); \
  template void normal_(BasicTensor<T>&, double, double, Generator&);  \
  template void zeros_(BasicTensor<T>&);                               \
  template void ones_(BasicTensor<T>&);                                \
  template void constant_(BasicTensor<T>&, double);                    \
  template void xavier_uniform_(BasicTensor<T>&, double, Generator&);  \
  template void xavier_normal_(BasicTensor<T>&, double, Generator&);   \
  template void kaiming_uniform_(BasicTensor<T>&, Generator&);         \
  template void kaiming_normal_(BasicTensor<T>&, Generator&);          \
  template void orthogonal_(BasicTensor<T>&, double, Generator&);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad::nn::init
