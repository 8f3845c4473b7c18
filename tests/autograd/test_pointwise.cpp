// fused_pointwise: values and gradients against the same math as separate
// ops, in float and double, on sizes with and without a SIMD tail, chunked
// and contiguous, on one and two threads; its errors; no_grad.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"

using namespace xgrad;

namespace {

template <class T>
auto lstm_cell_fused(const BasicTensor<T>& gates, const BasicTensor<T>& c_prev) {
  return fused_pointwise<5, 2>(
      "lstm_cell",
      [](auto i, auto f, auto g, auto o, auto c) {
        using namespace xgrad::pointwise;
        const auto c_next = sigmoid(f) * c + sigmoid(i) * tanh(g);
        return std::tuple{sigmoid(o) * tanh(c_next), c_next};
      },
      in_chunks(gates, 4), c_prev);
}

template <class T>
std::array<BasicTensor<T>, 2> lstm_cell_ops(const BasicTensor<T>& gates, const BasicTensor<T>& c_prev) {
  auto g = chunk(gates, 4, -1);
  BasicTensor<T> c = sigmoid(g[1]) * c_prev + sigmoid(g[0]) * tanh(g[2]);
  return {sigmoid(g[3]) * tanh(c), c};
}

template <class T>
double max_abs_diff(const xt::xarray<T>& a, const xt::xarray<T>& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a.flat(i)) - double(b.flat(i))));
  return m;
}

// Fused and separate ops on the same inputs: outputs, and the gradients of
// sum(h * w_h + c * w_c) for random weights (both outputs get a gradient).
template <class T>
void check_lstm_cell_against_ops(std::size_t batch, std::size_t hidden, double tolerance) {
  CAPTURE(batch);
  CAPTURE(hidden);
  Generator gen(7);
  auto gates = randn<T>({batch, 4 * hidden}, gen, true);
  auto c_prev = randn<T>({batch, hidden}, gen, true);
  const auto w_h = randn<T>({batch, hidden}, gen);
  const auto w_c = randn<T>({batch, hidden}, gen);

  auto [h1, c1] = lstm_cell_fused(gates, c_prev);
  sum(h1 * w_h + c1 * w_c).backward();
  const xt::xarray<T> dg_fused = gates.grad(), dc_fused = c_prev.grad();
  gates.zero_grad();
  c_prev.zero_grad();
  auto [h2, c2] = lstm_cell_ops(gates, c_prev);
  sum(h2 * w_h + c2 * w_c).backward();

  CHECK(max_abs_diff(h1.value(), h2.value()) <= tolerance);
  CHECK(max_abs_diff(c1.value(), c2.value()) <= tolerance);
  CHECK(max_abs_diff(dg_fused, gates.grad()) <= tolerance);
  CHECK(max_abs_diff(dc_fused, c_prev.grad()) <= tolerance);
  // Not a vacuous comparison: the gradient is there and not all zero.
  CHECK(xt::amax(xt::abs(dg_fused))() > T(0.01));
}

}  // namespace

TEST_CASE("fused_pointwise: an LSTM cell equals the same math as separate ops, values and gradients") {
  set_num_threads(1);
  // 16 floats / 8 doubles per AVX-512 batch: sizes with and without a tail.
  for (const std::size_t hidden : {1, 7, 16, 19, 128}) {
    check_lstm_cell_against_ops<double>(3, hidden, 1e-12);
    check_lstm_cell_against_ops<float>(3, hidden, 2e-6);
  }
  check_lstm_cell_against_ops<float>(64, 128, 2e-6);
}

TEST_CASE("pointwise tanh in float: within 6 ulp of the correctly rounded value, odd, bounded, NaN kept") {
  using V = xsimd::batch<float>;
  constexpr std::size_t W = V::size;
  // Float bit patterns from 0 to past 9 (tanh rounds to 1 from 7.9053), a
  // dense sample: every 61st, 17.8 million values.
  const std::uint32_t last = std::bit_cast<std::uint32_t>(9.5f);
  std::uint32_t worst_ulp = 0;
  float worst_at = 0;
  std::size_t exact = 0, total = 0;
  alignas(64) float xs[W], ts[W], negs[W];
  for (std::uint32_t bits = 0; bits <= last;) {
    for (std::size_t k = 0; k < W; ++k, bits += 61) xs[k] = std::bit_cast<float>(std::min(bits, last));
    pointwise::detail::tanh_value(V::load_aligned(xs)).store_aligned(ts);
    pointwise::detail::tanh_value(-V::load_aligned(xs)).store_aligned(negs);
    for (std::size_t k = 0; k < W; ++k) {
      const float ref = static_cast<float>(std::tanh(static_cast<double>(xs[k])));
      const std::uint32_t ulp = static_cast<std::uint32_t>(
          std::abs(std::int64_t(std::bit_cast<std::uint32_t>(ts[k])) - std::bit_cast<std::uint32_t>(ref)));
      if (ulp > worst_ulp) worst_ulp = ulp, worst_at = xs[k];
      exact += ulp == 0;
      ++total;
      REQUIRE(ts[k] <= 1.0f);
      REQUIRE(negs[k] == -ts[k]);  // odd, to the bit
    }
  }
  INFO("worst at x = " << worst_at);
  CHECK(worst_ulp <= 6);
  CHECK(double(exact) / double(total) > 0.9);
  const float inf = std::numeric_limits<float>::infinity();
  alignas(64) float special[W] = {}, out[W];
  special[0] = std::numeric_limits<float>::quiet_NaN(), special[1] = inf, special[2] = -inf, special[3] = -0.0f;
  pointwise::detail::tanh_value(V::load_aligned(special)).store_aligned(out);
  CHECK(std::isnan(out[0]));
  CHECK(out[1] == 1.0f);
  CHECK(out[2] == -1.0f);
  CHECK((out[3] == 0.0f && std::signbit(out[3])));
}

TEST_CASE("fused_pointwise: two threads give the bits of one, contiguous and chunked") {
  Generator gen(3);
  // Large enough for the fork-join: whole rows per thread (chunked), or
  // columns of one flat row (contiguous).
  auto gates = randn<float>({301, 4 * 67}, gen, true);
  auto c_prev = randn<float>({301, 67}, gen, true);
  auto a = randn<float>({100003}, gen, true);
  auto run = [&](int threads) {
    set_num_threads(threads);
    gates.zero_grad();
    c_prev.zero_grad();
    a.zero_grad();
    auto [h, c] = lstm_cell_fused(gates, c_prev);
    auto [y] = fused_pointwise<1, 1>(
        "square_tanh",
        [](auto x) {
          using namespace xgrad::pointwise;
          return tanh(x) * x;
        },
        a);
    (sum(h * c) + sum(y)).backward();
    return std::tuple{h.value(), gates.grad(), c_prev.grad(), y.value(), a.grad()};
  };
  const auto one = run(1);
  const auto two = run(2);
  set_num_threads(1);
  CHECK(std::get<0>(one) == std::get<0>(two));
  CHECK(std::get<1>(one) == std::get<1>(two));
  CHECK(std::get<2>(one) == std::get<2>(two));
  CHECK(std::get<3>(one) == std::get<3>(two));
  CHECK(std::get<4>(one) == std::get<4>(two));
  // d(x tanh x)/dx = tanh x + x (1 - tanh^2 x), by hand.
  const float x = a.value()(5), t = std::tanh(x);
  CHECK(std::get<4>(one)(5) == doctest::Approx(t + x * (1 - t * t)).epsilon(1e-5));
}

TEST_CASE("fused_pointwise: gradients add to what an input already has, and a tensor given twice gets both") {
  Generator gen(11);
  const auto a = randn<double>({5, 9}, gen, true);
  const auto b = randn<double>({5, 9}, gen, true);
  sum(a * 3.0).backward();  // a.grad = 3 before the fused op adds to it
  auto [y] = fused_pointwise<3, 1>(
      "a_a_b",
      [](auto p, auto q, auto r) {
        using namespace xgrad::pointwise;
        return p * q * r;  // a^2 b
      },
      a, a, b);
  sum(y).backward();
  const xt::xarray<double> expected_a = 3.0 + 2.0 * a.value() * b.value();
  const xt::xarray<double> expected_b = a.value() * a.value();
  CHECK(max_abs_diff(a.grad(), expected_a) < 1e-14);
  CHECK(max_abs_diff(b.grad(), expected_b) < 1e-14);
}

TEST_CASE("fused_pointwise: an output that gets no gradient contributes nothing") {
  Generator gen(5);
  const auto a = randn<double>({4, 6}, gen, true);
  auto [unused, y] = fused_pointwise<1, 2>(
      "exp_and_square",
      [](auto x) {
        using namespace xgrad::pointwise;
        return std::tuple{exp(x), x * x};
      },
      a);
  sum(y).backward();
  const xt::xarray<double> expected = 2.0 * a.value();
  CHECK(max_abs_diff(a.grad(), expected) < 1e-14);
}

TEST_CASE("fused_pointwise: an unused output's inf or NaN derivative does not reach the inputs") {
  // sqrt' is inf at 0 and NaN below; only x * x is used.
  const auto a = BasicTensor<double>::of({0.0, -1.0, 2.0}, true);
  auto [square, root] = fused_pointwise<1, 2>(
      "square_and_root",
      [](auto x) {
        using namespace xgrad::pointwise;
        return std::tuple{x * x, sqrt(x)};
      },
      a);
  sum(square).backward();
  CHECK(a.grad() == xt::xarray<double>({0.0, -2.0, 4.0}));
}

TEST_CASE("fused_pointwise: a backward that throws leaves no half-made gradient behind") {
  auto w = BasicTensor<double>::ones({2, 3}, true);
  const auto a = BasicTensor<double>::ones({2, 3}, true);
  const BasicTensor<double> y = a * 2.0;
  sum(y).backward();  // frees y's record
  auto [z] = fused_pointwise<2, 1>(
      "product",
      [](auto p, auto q) {
        using namespace xgrad::pointwise;
        return p * q;
      },
      w, y);
  CHECK_THROWS_WITH_AS(sum(z).backward(), doctest::Contains("retain_graph"), std::logic_error);
  CHECK_FALSE(w.has_grad());  // not an unwritten buffer marked as a gradient
}

TEST_CASE("fused_pointwise: under no_grad nothing is recorded") {
  const auto a = BasicTensor<float>::ones({3, 8}, true);
  NoGradGuard guard;
  auto [y] = fused_pointwise<1, 1>(
      "sigmoid_only",
      [](auto x) {
        using namespace xgrad::pointwise;
        return sigmoid(x);
      },
      a);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.value()(2, 7) == doctest::Approx(1.0 / (1.0 + std::exp(-1.0))));
}

TEST_CASE("fused_pointwise: shape errors name the op and the shapes") {
  const auto gates = BasicTensor<float>::zeros({2, 10});
  const auto c = BasicTensor<float>::zeros({2, 3});
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // 10 columns do not cut into 4 chunks.
  const std::string chunks = message([&] { lstm_cell_fused(gates, c); });
  CHECK(chunks.find("lstm_cell") != std::string::npos);
  CHECK(chunks.find("4 equal chunks") != std::string::npos);
  CHECK(chunks.find("(2, 10)") != std::string::npos);
  // 12 columns cut into (2, 3) chunks, but c is (2, 4).
  const std::string shapes = message([&] {
    lstm_cell_fused(BasicTensor<float>::zeros({2, 12}), BasicTensor<float>::zeros({2, 4}));
  });
  CHECK(shapes.find("one shape") != std::string::npos);
  CHECK(shapes.find("(2, 4)") != std::string::npos);
  // Five inputs given to a function of four.
  const std::string count = message([&] {
    fused_pointwise<4, 1>(
        "four", [](auto p, auto, auto, auto) { return p; }, in_chunks(BasicTensor<float>::zeros({2, 12}), 4), c);
  });
  CHECK(count.find("takes 4 inputs, given 5") != std::string::npos);
  const std::string undefined = message([&] {
    fused_pointwise<1, 1>(
        "id", [](auto p) { return p; }, BasicTensor<float>());
  });
  CHECK(undefined.find("undefined") != std::string::npos);
}
