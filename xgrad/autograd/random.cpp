#include "xgrad/autograd/random.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

namespace xgrad {

void Generator::reseed(std::uint32_t seed) {
  engine_.seed(seed);  // init_genrand(seed), as NumPy's legacy seeding of an int
  has_cached_normal_ = false;
  cached_normal_ = 0.0;
}

double Generator::uniform() {
  const std::uint32_t a = next_u32() >> 5;
  const std::uint32_t b = next_u32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double Generator::normal() {
  if (has_cached_normal_) {
    has_cached_normal_ = false;
    return cached_normal_;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * uniform() - 1.0;
    x2 = 2.0 * uniform() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  cached_normal_ = f * x1;
  has_cached_normal_ = true;
  return f * x2;
}

std::uint64_t Generator::below(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("Generator::below: n must be positive");
  if (n <= 0x100000000ull) {
    // Reject the top partial block of 2^32 so that every residue is equally likely.
    const std::uint64_t limit = 0x100000000ull - 0x100000000ull % n;
    std::uint64_t x;
    do x = next_u32();
    while (x >= limit);
    return x % n;
  }
  const std::uint64_t limit = ~0ull - (~0ull % n);
  std::uint64_t x;
  do x = (static_cast<std::uint64_t>(next_u32()) << 32) | next_u32();
  while (x >= limit);
  return x % n;
}

std::string Generator::state() const {
  std::ostringstream os;
  os.precision(17);
  os << engine_ << ' ' << has_cached_normal_ << ' ' << cached_normal_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  std::mt19937 engine;
  bool has = false;
  double cached = 0.0;
  is >> engine >> has >> cached;
  if (is.fail()) throw std::invalid_argument("Generator::set_state: malformed generator state");
  is >> std::ws;
  if (!is.eof()) throw std::invalid_argument("Generator::set_state: trailing text after the generator state");
  if (!std::isfinite(cached)) throw std::invalid_argument("Generator::set_state: the cached normal is not finite");
  // An all-zero Mersenne Twister state only ever draws zeros.
  {
    std::ostringstream zero_check;
    zero_check << engine;
    std::istringstream words(zero_check.str());
    std::uint64_t w = 0, nonzero = 0;
    for (int i = 0; i < 624 && words >> w; ++i) nonzero |= w;
    if (nonzero == 0) throw std::invalid_argument("Generator::set_state: degenerate all-zero generator state");
  }
  engine_ = engine;
  has_cached_normal_ = has;
  cached_normal_ = cached;
}

Generator& default_generator() {
  thread_local Generator generator(0);
  return generator;
}

void manual_seed(std::uint32_t seed) { default_generator().reseed(seed); }

namespace {
template <class T, class Draw>
BasicTensor<T> fill_random(const Shape& shape, bool requires_grad, Draw draw) {
  xt::xarray<T> a = xt::empty<T>(shape);
  for (auto& v : a) v = draw();
  return BasicTensor<T>(std::move(a), requires_grad);
}
}  // namespace

template <class T>
BasicTensor<T> uniform(const Shape& shape, T low, T high, Generator& gen, bool requires_grad) {
  if (!(low < high)) throw std::invalid_argument("uniform: low must be below high");
  const T below_high = std::nextafter(high, low);
  return fill_random<T>(shape, requires_grad, [&] {
    const T v = static_cast<T>(low + (static_cast<double>(high) - low) * gen.uniform());
    return v < high ? v : below_high;
  });
}
template <class T>
BasicTensor<T> rand(const Shape& shape, Generator& gen, bool requires_grad) {
  return uniform<T>(shape, T(0), T(1), gen, requires_grad);
}
template <class T>
BasicTensor<T> normal(const Shape& shape, T mean, T stddev, Generator& gen, bool requires_grad) {
  return fill_random<T>(shape, requires_grad, [&] { return static_cast<T>(mean + stddev * gen.normal()); });
}
template <class T>
BasicTensor<T> randn(const Shape& shape, Generator& gen, bool requires_grad) {
  return normal<T>(shape, T(0), T(1), gen, requires_grad);
}

template <class T>
xt::xarray<std::int64_t> multinomial(const BasicTensor<T>& weights, std::size_t num_samples, bool replacement,
                                     Generator& gen) {
  const Shape shape = weights.shape();
  if (shape.empty() || shape.size() > 2) {
    throw std::invalid_argument("multinomial: weights must be (C) or (N, C), got " + shape_to_string(shape));
  }
  const std::size_t rows = shape.size() == 2 ? shape[0] : 1, classes = shape.back();
  xt::xarray<std::int64_t> out =
      xt::empty<std::int64_t>(shape.size() == 2 ? Shape{rows, num_samples} : Shape{num_samples});
  std::vector<double> w(classes);
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t positive = 0;
    for (std::size_t c = 0; c < classes; ++c) {
      w[c] = static_cast<double>(weights.data()[r * classes + c]);
      if (!(w[c] >= 0) || !std::isfinite(w[c])) {
        throw std::invalid_argument("multinomial: row " + std::to_string(r) + " has weight " + std::to_string(w[c]) +
                                    " (weights must be finite and non-negative)");
      }
      positive += w[c] > 0;
    }
    if (positive == 0) throw std::invalid_argument("multinomial: row " + std::to_string(r) + " has no positive weight");
    if (!replacement && num_samples > positive) {
      throw std::invalid_argument("multinomial: " + std::to_string(num_samples) + " samples without replacement from " +
                                  std::to_string(positive) + " classes of positive weight");
    }
    for (std::size_t s = 0; s < num_samples; ++s) {
      // Inverse CDF of one uniform draw over the (remaining) weights.
      double total = 0;
      for (double v : w) total += v;
      const double u = gen.uniform() * total;
      std::size_t chosen = classes - 1;
      double running = 0;
      for (std::size_t c = 0; c < classes; ++c) {
        running += w[c];
        if (u < running) {
          chosen = c;
          break;
        }
      }
      while (w[chosen] == 0) --chosen;  // rounding at the top end: the last class with weight
      out.data()[r * num_samples + s] = static_cast<std::int64_t>(chosen);
      if (!replacement) w[chosen] = 0;
    }
  }
  return out;
}

#define XGRAD_INSTANTIATE(T)                                                \
  template BasicTensor<T> rand<T>(const Shape&, Generator&, bool);          \
  template BasicTensor<T> uniform<T>(const Shape&, T, T, Generator&, bool); \
  template BasicTensor<T> randn<T>(const Shape&, Generator&, bool);         \
  template BasicTensor<T> normal<T>(const Shape&, T, T, Generator&, bool);  \
  template xt::xarray<std::int64_t> multinomial<T>(const BasicTensor<T>&, std::size_t, bool, Generator&);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad
