#pragma once
// Fused pointwise functions: a chain of elementwise math (an LSTM cell's
// gate equations) written once as a C++ function of its inputs, run as ONE
// op: one pass over memory forward and one backward, one record, and only
// the inputs kept for backward, where the same chain as separate ops makes
// a pass, an output array and a record per operation.
//
//   // h' and c' of an LSTM cell from its (B, 4H) gates and c (B, H):
//   auto [h, c] = fused_pointwise<5, 2>("lstm_cell",
//       [](auto i, auto f, auto g, auto o, auto c) {
//         using namespace xgrad::pointwise;
//         auto c2 = sigmoid(f) * c + sigmoid(i) * tanh(g);
//         return std::tuple{sigmoid(o) * tanh(c2), c2};
//       },
//       in_chunks(gates, 4), c_prev);
//
// The function is generic over its value type and uses only the math in
// xgrad::pointwise below (+ - * /, exp, log, log1p, sqrt, abs, tanh, sigmoid,
// relu, and scalars). Its derivative is not written by anyone: backward evaluates the
// same function again on dual numbers (forward-mode differentiation, one
// tangent per input) from the saved inputs, and each primitive declares its
// derivative next to its value here. The function must be pure: the same
// inputs give the same outputs, forward and backward.
//
// The function is called on several threads at once (rows are split
// between threads) and again in backward, so it must not throw, must be
// safe to call concurrently, and must own what it captures (capture by
// value). `name` must outlive the tape (a string literal): the tape keeps
// the pointer.
//
// Inputs: every input, after cutting a tensor given as in_chunks(t, k) into
// k equal blocks of its last axis (a (B, 4H) gate matrix into four (B, H)
// gates, read in place: no copies), must have one common shape; that is
// the shape of every output. No broadcasting. Shape errors throw
// std::invalid_argument naming the op and the shapes.

// First: xgrad's xtensor/xsimd configuration (and its warning pragmas) must
// precede xsimd, also where the force-include is not used.
#include "xgrad/autograd/tensor.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

namespace xgrad {

namespace pointwise {

// A value and its derivatives with respect to the inputs in the bit set M
// (bit k: input k). The set is part of the type, so a value carries only
// the derivatives that can be non-zero: sigmoid(f) of an LSTM cell one,
// h' all five; forward (M = 0) carries the value alone. V: a SIMD batch of
// T, whose default constructor leaves it uninitialized: every derivative is
// written before it is read.
template <class V, std::uint32_t M>
struct Dual {
  static constexpr std::uint32_t mask = M;
  V v;
  std::array<V, std::popcount(M)> d;
};

namespace detail {
// The index of input `bit`'s derivative in a Dual<V, M>.
constexpr std::size_t slot(std::uint32_t m, unsigned bit) { return std::popcount(m & ((std::uint32_t(1) << bit) - 1)); }
// The input whose derivative is at index n of a Dual<V, M>.
constexpr unsigned nth_bit(std::uint32_t m, std::size_t n) {
  for (unsigned bit = 0; bit < 32; ++bit)
    if ((m >> bit) & 1) {
      if (n == 0) return bit;
      --n;
    }
  return 32;
}
// Calls f(std::integral_constant<unsigned, input>) for every input in M, in order.
template <std::uint32_t M, class F>
void for_each_input([[maybe_unused]] F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) { (f(std::integral_constant<unsigned, nth_bit(M, I)>{}), ...); }
  (std::make_index_sequence<std::popcount(M)>{});
}

// r = op(a, b) with value `value`: dr = da_times(da) + db_times(db), a term
// dropped where a or b does not depend on the input.
template <class V, std::uint32_t A, std::uint32_t B, class FA, class FB>
Dual<V, A | B> combine(const V& value, const Dual<V, A>& a, const Dual<V, B>& b, const FA& da_times,
                       const FB& db_times) {
  Dual<V, A | B> r{value, {}};
  for_each_input<A | B>([&](auto input) {
    constexpr unsigned k = decltype(input)::value;
    constexpr bool in_a = (A >> k) & 1, in_b = (B >> k) & 1;
    V& out = r.d[slot(A | B, k)];
    if constexpr (in_a && in_b) {
      out = da_times(a.d[slot(A, k)]) + db_times(b.d[slot(B, k)]);
    } else if constexpr (in_a) {
      out = da_times(a.d[slot(A, k)]);
    } else {
      out = db_times(b.d[slot(B, k)]);
    }
  });
  return r;
}
}  // namespace detail

// r = f(x) with value `value`: dr = derivative_times(dx).
template <class V, std::uint32_t M, class F>
Dual<V, M> chain(const V& value, const Dual<V, M>& x, const F& derivative_times) {
  Dual<V, M> r{value, {}};
  for (std::size_t k = 0; k < r.d.size(); ++k) r.d[k] = derivative_times(x.d[k]);
  return r;
}

template <class S>
concept Scalar = std::is_arithmetic_v<S>;

// Sum, difference, product, quotient: d(a b) = da b + a db, d(a / b) = da / b - (a / b) db / b.
template <class V, std::uint32_t A, std::uint32_t B>
Dual<V, A | B> operator+(const Dual<V, A>& a, const Dual<V, B>& b) {
  const auto same = [](const V& d) { return d; };
  return detail::combine(a.v + b.v, a, b, same, same);
}
template <class V, std::uint32_t A, std::uint32_t B>
Dual<V, A | B> operator-(const Dual<V, A>& a, const Dual<V, B>& b) {
  return detail::combine(
      a.v - b.v, a, b, [](const V& d) { return d; }, [](const V& d) { return -d; });
}
template <class V, std::uint32_t M>
Dual<V, M> operator-(const Dual<V, M>& a) {
  return chain(-a.v, a, [](const V& d) { return -d; });
}
template <class V, std::uint32_t A, std::uint32_t B>
Dual<V, A | B> operator*(const Dual<V, A>& a, const Dual<V, B>& b) {
  return detail::combine(
      a.v * b.v, a, b, [&](const V& d) { return d * b.v; }, [&](const V& d) { return a.v * d; });
}
template <class V, std::uint32_t A, std::uint32_t B>
Dual<V, A | B> operator/(const Dual<V, A>& a, const Dual<V, B>& b) {
  const V q = a.v / b.v;
  return detail::combine(
      q, a, b, [&](const V& d) { return d / b.v; }, [&](const V& d) { return -(q * d) / b.v; });
}
// With a constant (it depends on no input).
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator+(const Dual<V, M>& a, S s) {
  return chain(a.v + V(static_cast<typename V::value_type>(s)), a, [](const V& d) { return d; });
}
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator+(S s, const Dual<V, M>& a) {
  return a + s;
}
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator-(const Dual<V, M>& a, S s) {
  return chain(a.v - V(static_cast<typename V::value_type>(s)), a, [](const V& d) { return d; });
}
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator-(S s, const Dual<V, M>& a) {
  return chain(V(static_cast<typename V::value_type>(s)) - a.v, a, [](const V& d) { return -d; });
}
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator*(const Dual<V, M>& a, S s) {
  const V c(static_cast<typename V::value_type>(s));
  return chain(a.v * c, a, [&](const V& d) { return d * c; });
}
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator*(S s, const Dual<V, M>& a) {
  return a * s;
}
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator/(const Dual<V, M>& a, S s) {
  const V c(static_cast<typename V::value_type>(s));
  return chain(a.v / c, a, [&](const V& d) { return d / c; });
}
template <class V, std::uint32_t M, Scalar S>
Dual<V, M> operator/(S s, const Dual<V, M>& a) {
  // d(s / a) = -(s / a) da / a
  const V q = V(static_cast<typename V::value_type>(s)) / a.v;
  return chain(q, a, [&](const V& d) { return -(q * d) / a.v; });
}

// exp' = exp
template <class V, std::uint32_t M>
Dual<V, M> exp(const Dual<V, M>& x) {
  const V e = xsimd::exp(x.v);
  return chain(e, x, [&](const V& d) { return d * e; });
}
// log' = 1 / x
template <class V, std::uint32_t M>
Dual<V, M> log(const Dual<V, M>& x) {
  return chain(xsimd::log(x.v), x, [&](const V& d) { return d / x.v; });
}
// log1p(x) = log(1 + x), accurate near 0; log1p' = 1 / (1 + x)
template <class V, std::uint32_t M>
Dual<V, M> log1p(const Dual<V, M>& x) {
  const V one(static_cast<typename V::value_type>(1));
  return chain(xsimd::log1p(x.v), x, [&](const V& d) { return d / (one + x.v); });
}
// |x|' = sign(x), 0 at 0 (as xgrad::abs and torch.abs)
template <class V, std::uint32_t M>
Dual<V, M> abs(const Dual<V, M>& x) {
  const V zero(static_cast<typename V::value_type>(0)), one(static_cast<typename V::value_type>(1));
  const V sign = xsimd::select(x.v > zero, one, xsimd::select(x.v < zero, -one, zero));
  return chain(xsimd::abs(x.v), x, [&](const V& d) { return d * sign; });
}
// sqrt' = 1 / (2 sqrt)
template <class V, std::uint32_t M>
Dual<V, M> sqrt(const Dual<V, M>& x) {
  const V r = xsimd::sqrt(x.v);
  const V half(static_cast<typename V::value_type>(0.5));
  return chain(r, x, [&](const V& d) { return d * half / r; });
}
namespace detail {
// tanh of a batch. float: x P(x^2) / Q(x^2), a rational fit (degrees 13/6
// in x) of tanh's relative error on [0, 7.9053], beyond which tanh rounds
// to 1 in float; inputs are clamped there, and give +-1. Made for xgrad by
// scripts/fit_tanh.py (weighted least squares, Lawson reweighting,
// coefficients rounded to float), which also checks every float from 0 to
// past the clamp: at most 6 ulp from the correctly rounded tanh (93.8% equal
// to it, 99.1% within 1 ulp), never above 1; tests/autograd/test_pointwise.cpp
// checks a dense sample. Only +, *, / and comparisons, so the same bits on
// every instruction set where the compiler does not contract p * x2 + c
// into an FMA: xgrad's own build (-ffp-contract=off) does not; a consumer's
// file built with GCC's default (-ffp-contract=fast) and FMA instructions
// may, which moves the last bits (the script's check of that form, on a
// sixteenth of the floats: within 5 ulp, never above 1). And half the
// instructions of xsimd::tanh, which evaluates both a polynomial and an
// exp-based formula for any batch holding small and large inputs (an LSTM
// cell's gates always do; it was a third of the fused cell's time). NaN stays NaN (the clamp
// compares, and NaN fails both tests). double: xsimd::tanh.
template <class V>
V tanh_value(const V& a) {
  using T = typename V::value_type;
  if constexpr (!std::is_same_v<T, float>) {
    return xsimd::tanh(a);
  } else {
    const V limit(0x1.f9f09ep+2f);  // 7.9053111
    V x = xsimd::select(a > limit, limit, a);
    x = xsimd::select(x < -limit, -limit, x);
    const V x2 = x * x;
    V p(-0x1.0c12b6p-43f);
    p = p * x2 + V(0x1.1cd69ep-34f);
    p = p * x2 + V(-0x1.82ca0ep-26f);
    p = p * x2 + V(0x1.882672p-17f);
    p = p * x2 + V(0x1.9d5320p-9f);
    p = p * x2 + V(0x1.0cdc26p-3f);
    p = p * x2 + V(1.0f);
    V q(0x1.129ef6p-12f);
    q = q * x2 + V(0x1.948978p-6f);
    q = q * x2 + V(0x1.dbc368p-2f);
    q = q * x2 + V(1.0f);
    // At the clamp tanh is 1 in float; the fit gives 1 - 2^-24 there.
    const V t = x * p / q;
    return xsimd::select(x == limit, V(1.0f), xsimd::select(x == -limit, V(-1.0f), t));
  }
}
}  // namespace detail

// tanh' = 1 - tanh^2
template <class V, std::uint32_t M>
Dual<V, M> tanh(const Dual<V, M>& x) {
  const V t = detail::tanh_value(x.v);
  const V one(static_cast<typename V::value_type>(1));
  const V slope = one - t * t;
  return chain(t, x, [&](const V& d) { return d * slope; });
}
// sigmoid = 1 / (1 + exp(-x)), the same formula as xgrad::sigmoid; sigmoid' = s (1 - s)
template <class V, std::uint32_t M>
Dual<V, M> sigmoid(const Dual<V, M>& x) {
  const V one(static_cast<typename V::value_type>(1));
  const V s = one / (one + xsimd::exp(-x.v));
  const V slope = s * (one - s);
  return chain(s, x, [&](const V& d) { return d * slope; });
}
// relu' = 1 where x > 0, else 0 (as xgrad::relu and torch.relu)
template <class V, std::uint32_t M>
Dual<V, M> relu(const Dual<V, M>& x) {
  const V zero(static_cast<typename V::value_type>(0));
  const auto positive = x.v > zero;
  return chain(xsimd::select(positive, x.v, zero), x, [&](const V& d) { return xsimd::select(positive, d, zero); });
}

}  // namespace pointwise

// One input of fused_pointwise: a tensor, or `chunks` equal blocks of its
// last axis, each an input of its own (in order).
template <class T>
struct PointwiseInput {
  BasicTensor<T> tensor;
  std::size_t chunks = 1;
};

namespace detail {

// The kernels fused_pointwise instantiates for a function: over `len`
// consecutive elements, in[k] / out[j] / gout[j] / gin[k] pointing at the
// first. gout[j] is nullptr for an output that received no gradient (zero);
// gin[k] is nullptr for an input that needs none, and add_into[k] says
// whether to add to it (else overwrite).
template <class T>
struct PointwiseKernels {
  void (*forward)(const void* fn, const T* const* in, T* const* out, std::size_t len);
  void (*backward)(const void* fn, const T* const* in, const T* const* gout, T* const* gin, const bool* add_into,
                   std::size_t len);
  // Moves the function (an F) into shared ownership, for the record's
  // backward: called only when the op is recorded, so that an op under
  // no_grad allocates nothing but its outputs.
  std::shared_ptr<const void> (*keep)(void* fn);
};

template <class F>
std::shared_ptr<const void> keep_pointwise_function(void* fn) {
  return std::make_shared<const F>(std::move(*static_cast<F*>(fn)));
}

// Runs the op (checks, forward over every row, the record); in pointwise.cpp.
// inputs: `given` entries; outputs: `output_count` handles, assigned.
template <class T>
void fused_pointwise(const char* name, const PointwiseInput<T>* inputs, std::size_t given, std::size_t input_count,
                     std::size_t output_count, void* fn, PointwiseKernels<T> kernels, BasicTensor<T>* outputs);

// fn's result as a std::tuple of NO values (it returns one value, or a
// std::tuple / std::pair / std::array of them: their derivative sets may differ).
template <std::size_t NO, class R>
auto pointwise_outputs(R&& r) {
  if constexpr (requires { std::tuple_size<std::decay_t<R>>::value; }) {
    static_assert(std::tuple_size<std::decay_t<R>>::value == NO, "fused_pointwise: the function must return NO values");
    return std::apply([](auto&&... v) { return std::tuple{v...}; }, std::forward<R>(r));
  } else {
    static_assert(NO == 1, "fused_pointwise: the function must return NO values");
    return std::tuple{std::forward<R>(r)};
  }
}

// Evaluates fn on one SIMD batch of inputs: values alone, or (`seeded`)
// input k as a Dual carrying its own derivative, 1.
template <std::size_t NO, bool seeded, class V, class F, std::size_t NI>
auto pointwise_apply(const F& fn, const std::array<V, NI>& x) {
  const V one(static_cast<typename V::value_type>(1));
  return [&]<std::size_t... K>(std::index_sequence<K...>) {
    if constexpr (seeded) {
      return pointwise_outputs<NO>(fn(pointwise::Dual<V, (std::uint32_t(1) << K)>{x[K], {one}}...));
    } else {
      return pointwise_outputs<NO>(fn(pointwise::Dual<V, 0>{x[K], {}}...));
    }
  }
  (std::make_index_sequence<NI>{});
}

// The kernels work on whole SIMD batches; a tail shorter than a batch is
// copied into one (zero-padded) and back.
// Arch is part of the kernels' names, so that two translation units built
// for different -march never share one kernel body (ODR).
template <class T, std::size_t NI, std::size_t NO, class F, class Arch = xsimd::default_arch>
[[gnu::flatten]] void pointwise_forward(const void* fn_ptr, const T* const* in, T* const* out, std::size_t len) {
  using V = xsimd::batch<T, Arch>;
  constexpr std::size_t W = V::size;
  const F& fn = *static_cast<const F*>(fn_ptr);
  auto step = [&](const T* const* src, T* const* dst, std::size_t i) {
    std::array<V, NI> x;
    for (std::size_t k = 0; k < NI; ++k) x[k] = V::load_unaligned(src[k] + i);
    const auto y = pointwise_apply<NO, false>(fn, x);
    [&]<std::size_t... J>(std::index_sequence<J...>) { (std::get<J>(y).v.store_unaligned(dst[J] + i), ...); }
    (std::make_index_sequence<NO>{});
  };
  std::size_t i = 0;
  for (; i + W <= len; i += W) step(in, out, i);
  if (i == len) return;
  const std::size_t rest = len - i;
  alignas(64) T xin[NI][W] = {}, xout[NO][W] = {};
  const T* src[NI];
  T* dst[NO];
  for (std::size_t k = 0; k < NI; ++k) {
    for (std::size_t e = 0; e < rest; ++e) xin[k][e] = in[k][i + e];
    src[k] = xin[k];
  }
  for (std::size_t j = 0; j < NO; ++j) dst[j] = xout[j];
  step(src, dst, 0);
  for (std::size_t j = 0; j < NO; ++j)
    for (std::size_t e = 0; e < rest; ++e) out[j][i + e] = xout[j][e];
}

template <class T, std::size_t NI, std::size_t NO, class F, class Arch = xsimd::default_arch>
[[gnu::flatten]] void pointwise_backward(const void* fn_ptr, const T* const* in, const T* const* gout, T* const* gin,
                                         const bool* add_into, std::size_t len) {
  using V = xsimd::batch<T, Arch>;
  constexpr std::size_t W = V::size;
  const F& fn = *static_cast<const F*>(fn_ptr);
  const V zero(T(0));
  // dL/dx_k = sum over outputs j of dL/dy_j * dy_j/dx_k.
  auto step = [&](const T* const* src, const T* const* g, T* const* dst, std::size_t i, const bool* add) {
    std::array<V, NI> x;
    for (std::size_t k = 0; k < NI; ++k) x[k] = V::load_unaligned(src[k] + i);
    const auto y = pointwise_apply<NO, true>(fn, x);
    std::array<V, NO> gy;
    for (std::size_t j = 0; j < NO; ++j) gy[j] = g[j] ? V::load_unaligned(g[j] + i) : zero;
    std::array<V, NI> sum;
    sum.fill(zero);
    // Output j's derivatives, for the inputs it depends on (the others are zero).
    // An output without a gradient is skipped, not multiplied by zero: its
    // derivative may be inf or NaN (sqrt at 0) where it does not matter.
    [&]<std::size_t... J>(std::index_sequence<J...>) {
      ((g[J] ? pointwise::detail::for_each_input<std::tuple_element_t<J, std::decay_t<decltype(y)>>::mask>(
                   [&](auto input) {
                     constexpr unsigned k = decltype(input)::value;
                     constexpr std::uint32_t mask = std::tuple_element_t<J, std::decay_t<decltype(y)>>::mask;
                     sum[k] += gy[J] * std::get<J>(y).d[pointwise::detail::slot(mask, k)];
                   })
             : void()),
       ...);
    }
    (std::make_index_sequence<NO>{});
    for (std::size_t k = 0; k < NI; ++k) {
      if (!dst[k]) continue;
      if (add[k]) sum[k] += V::load_unaligned(dst[k] + i);
      sum[k].store_unaligned(dst[k] + i);
    }
  };
  std::size_t i = 0;
  for (; i + W <= len; i += W) step(in, gout, gin, i, add_into);
  if (i == len) return;
  const std::size_t rest = len - i;
  alignas(64) T xin[NI][W] = {}, xg[NO][W] = {}, xgin[NI][W] = {};
  const T* src[NI];
  const T* g[NO];
  T* dst[NI];
  for (std::size_t k = 0; k < NI; ++k) {
    for (std::size_t e = 0; e < rest; ++e) xin[k][e] = in[k][i + e];
    src[k] = xin[k];
    dst[k] = gin[k] ? xgin[k] : nullptr;
  }
  for (std::size_t j = 0; j < NO; ++j) {
    g[j] = nullptr;
    if (gout[j]) {
      for (std::size_t e = 0; e < rest; ++e) xg[j][e] = gout[j][i + e];
      g[j] = xg[j];
    }
  }
  // The tail's gradients are computed as fresh (add_into all false) and
  // added here in input order, so that two inputs sharing one gradient
  // buffer both land in it, as they do in step().
  const bool fresh[NI] = {};
  step(src, g, dst, 0, fresh);
  for (std::size_t k = 0; k < NI; ++k)
    if (gin[k])
      for (std::size_t e = 0; e < rest; ++e) gin[k][i + e] = (add_into[k] ? gin[k][i + e] : T(0)) + xgin[k][e];
}

}  // namespace detail

// `chunks` equal blocks of t's last axis, as that many inputs of
// fused_pointwise (in order), read in place.
template <class T>
PointwiseInput<T> in_chunks(const BasicTensor<T>& t, std::size_t chunks) {
  return {t, chunks};
}

namespace detail {
template <class T>
PointwiseInput<T> as_pointwise_input(const BasicTensor<T>& t) {
  return {t, 1};
}
template <class T>
PointwiseInput<T> as_pointwise_input(const PointwiseInput<T>& in) {
  return in;
}
}  // namespace detail

// Runs `fn` (a function of NI values returning NO of them: one value, or a
// std::tuple of NO) over every element of the inputs (tensors, or
// in_chunks of one) as one op, and returns its NO outputs, each of the
// inputs' common shape. Differentiable in every input (forward-mode
// derivatives of fn, see the top of this file).
template <std::size_t NI, std::size_t NO, class F, class First, class... Rest>
auto fused_pointwise(const char* name, F fn, const First& first, const Rest&... rest) {
  static_assert(NI >= 1 && NI <= 8 && NO >= 1 && NO <= 4, "fused_pointwise: 1 to 8 inputs, 1 to 4 outputs");
  using T = typename decltype(detail::as_pointwise_input(first).tensor)::value_type;
  const std::array<PointwiseInput<T>, 1 + sizeof...(Rest)> inputs{detail::as_pointwise_input(first),
                                                                  detail::as_pointwise_input(rest)...};
  const detail::PointwiseKernels<T> kernels{&detail::pointwise_forward<T, NI, NO, F>,
                                            &detail::pointwise_backward<T, NI, NO, F>,
                                            &detail::keep_pointwise_function<F>};
  std::array<BasicTensor<T>, NO> result;
  detail::fused_pointwise<T>(name, inputs.data(), inputs.size(), NI, NO, &fn, kernels, result.data());
  return result;
}

}  // namespace xgrad
