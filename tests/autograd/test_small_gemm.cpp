// xgrad's own float GEMM kernel (xgrad/autograd/detail/small_gemm.hpp) and
// PackedWeightsGuard: products against a double-precision reference for
// every layout and edge (rows not a multiple of 8, columns not a multiple
// of 32, beta 0 and 1), bit-identical results for any partition and with or
// without the guard, and nothing written outside the requested block.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/blas.hpp"
#include "xgrad/autograd/detail/small_gemm.hpp"

using namespace xgrad;

namespace {

struct Product {
  std::size_t m, n, k;
  bool ta, tb;
  std::vector<float> a, b;
  std::size_t lda() const { return ta ? m : k; }
  std::size_t ldb() const { return tb ? k : n; }
  float at_a(std::size_t i, std::size_t p) const { return ta ? a[p * m + i] : a[i * k + p]; }
  float at_b(std::size_t p, std::size_t j) const { return tb ? b[j * k + p] : b[p * n + j]; }
};

Product make_product(std::size_t m, std::size_t n, std::size_t k, bool ta, bool tb, Generator& gen) {
  Product pr{m, n, k, ta, tb, {}, {}};
  pr.a.resize(m * k);
  pr.b.resize(k * n);
  for (auto& v : pr.a) v = static_cast<float>(gen.uniform() * 2 - 1);
  for (auto& v : pr.b) v = static_cast<float>(gen.uniform() * 2 - 1);
  return pr;
}

// C = beta C0 + op(A) op(B), or column_bias + op(A) op(B), through the
// kernel, rows [i0, i1) and columns [j0, j1) only; the rest of C keeps c0.
std::vector<float> run_block(const Product& pr, const std::vector<float>& c0, float beta, std::size_t i0,
                             std::size_t i1, std::size_t j0, std::size_t j1, const float* column_bias = nullptr) {
  std::vector<float> c = c0;
  detail::small_gemm_block(pr.ta, pr.tb, i0, i1, j0, j1, pr.k, pr.a.data(), pr.lda(), pr.b.data(), pr.ldb(), nullptr,
                           beta, column_bias, c.data(), pr.n);
  return c;
}

// The kernel's tests skip (with a message) on a CPU without AVX-512F.
bool kernel_runs() {
  if (!detail::small_gemm_enabled()) MESSAGE("the small GEMM kernel does not run on this CPU (no AVX-512F): skipped");
  return detail::small_gemm_enabled();
}

}  // namespace

TEST_CASE("small GEMM kernel: every layout and edge against a double reference") {
  if (!kernel_runs()) return;
  Generator gen(11);
  for (std::size_t m : {1, 7, 8, 9, 64}) {
    for (std::size_t n : {1, 15, 16, 17, 32, 33, 100}) {
      for (std::size_t k : {1, 3, 130}) {
        for (bool ta : {false, true}) {
          for (bool tb : {false, true}) {
            const Product pr = make_product(m, n, k, ta, tb, gen);
            std::vector<float> c0(m * n), bias(n);
            for (auto& v : c0) v = static_cast<float>(gen.uniform() * 2 - 1);
            for (auto& v : bias) v = static_cast<float>(gen.uniform() * 2 - 1);
            // Start: 0 (beta 0), C (beta 1), the bias row (2).
            for (int start : {0, 1, 2}) {
              const float beta = start == 1 ? 1.f : 0.f;
              const auto c = run_block(pr, c0, beta, 0, m, 0, n, start == 2 ? bias.data() : nullptr);
              double worst = 0;
              for (std::size_t i = 0; i < m; ++i) {
                for (std::size_t j = 0; j < n; ++j) {
                  double ref = start == 2 ? double(bias[j]) : beta * double(c0[i * n + j]), scale = std::fabs(ref);
                  for (std::size_t p = 0; p < k; ++p) {
                    ref += double(pr.at_a(i, p)) * double(pr.at_b(p, j));
                    scale += std::fabs(double(pr.at_a(i, p)) * double(pr.at_b(p, j)));
                  }
                  worst = std::max(worst, std::fabs(c[i * n + j] - ref) / (scale + 1e-30));
                }
              }
              INFO("m " << m << " n " << n << " k " << k << " ta " << ta << " tb " << tb << " start " << start);
              // A float sum of k terms: within k units of float rounding of the sum of magnitudes.
              CHECK(worst <= double(k + 1) * std::numeric_limits<float>::epsilon());
            }
          }
        }
      }
    }
  }
}

TEST_CASE("small GEMM kernel: any partition gives the same bits, and nothing outside the block is touched") {
  if (!kernel_runs()) return;
  Generator gen(12);
  const std::size_t m = 37, n = 100, k = 67;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const Product pr = make_product(m, n, k, ta, tb, gen);
      std::vector<float> c0(m * n);
      for (auto& v : c0) v = static_cast<float>(gen.uniform());
      const auto whole = run_block(pr, c0, 1.f, 0, m, 0, n);
      // Pieces: rows cut at 5 and 21, columns at 32 and 64.
      std::vector<float> pieces = c0;
      for (auto [i0, i1] : {std::pair<std::size_t, std::size_t>{0, 5}, {5, 21}, {21, m}}) {
        for (auto [j0, j1] : {std::pair<std::size_t, std::size_t>{0, 32}, {32, 64}, {64, n}}) {
          detail::small_gemm_block(ta, tb, i0, i1, j0, j1, k, pr.a.data(), pr.lda(), pr.b.data(), pr.ldb(), nullptr,
                                   1.f, nullptr, pieces.data(), n);
        }
      }
      CHECK(pieces == whole);
      // One block in the middle: the rest of C is exactly c0 (masked stores).
      const auto block = run_block(pr, c0, 1.f, 5, 21, 32, 50);
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          const bool inside = i >= 5 && i < 21 && j >= 32 && j < 50;
          INFO("i " << i << " j " << j);
          CHECK(block[i * n + j] == (inside ? whole[i * n + j] : c0[i * n + j]));
        }
      }
    }
  }
}

TEST_CASE("small GEMM kernel: beta 0 never reads C") {
  if (!kernel_runs()) return;
  Generator gen(13);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const Product pr = make_product(9, 33, 5, ta, tb, gen);
      const std::vector<float> nan_c(9 * 33, std::numeric_limits<float>::quiet_NaN());
      const auto c = run_block(pr, nan_c, 0.f, 0, 9, 0, 33);
      INFO("ta " << ta << " tb " << tb);
      CHECK(std::all_of(c.begin(), c.end(), [](float v) { return std::isfinite(v); }));
    }
  }
}

TEST_CASE("small GEMM kernel: panels packed once give the bits of panels packed per piece") {
  if (!kernel_runs()) return;
  Generator gen(16);
  // n 150: four full panels and a partial one (a GRU's 3H for H 50).
  const Product pr = make_product(20, 150, 50, false, true, gen);
  detail::PackedPanels panels;
  detail::pack_transposed(pr.b.data(), 150, 50, 50, panels);
  const std::vector<float> c0(20 * 150, 0.5f);
  const auto per_piece = run_block(pr, c0, 1.f, 0, 20, 0, 150);
  std::vector<float> packed = c0;
  for (auto [j0, j1] : {std::pair<std::size_t, std::size_t>{0, 64}, {64, 128}, {128, 150}}) {
    detail::small_gemm_block(false, true, 0, 20, j0, j1, 50, pr.a.data(), 50, pr.b.data(), 50, &panels, 1.f, nullptr,
                             packed.data(), 150);
  }
  CHECK(packed == per_piece);
}

TEST_CASE("small GEMM kernel: a large product cut into pieces by columns and rows, at 1 and 2 threads") {
  if (!kernel_runs()) return;
  Generator gen(17);
  // Sine's recurrent step: 950 x 200 x 50, C cut by columns and by rows.
  for (bool tb : {false, true}) {
    const Product pr = make_product(950, 200, 50, false, tb, gen);
    const std::vector<float> c0(950 * 200, 0.25f);
    const auto whole = run_block(pr, c0, 1.f, 0, 950, 0, 200);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::vector<float> c = c0;
      blas::gemm(false, tb, 950, 200, 50, 1.f, pr.a.data(), pr.lda(), pr.b.data(), pr.ldb(), 1.f, c.data(), 200);
      INFO("tb " << tb << " threads " << threads);
      CHECK(c == whole);
    }
  }
  set_num_threads(1);
}

TEST_CASE("PackedWeightsGuard: the guarded product is bit-identical, registered only while the guard lives") {
  Generator gen(14);
  // A recurrent step's shape: h (64, 128) W^T with W (512, 128), the bias in C.
  const Tensor h = uniform<float>({64, 128}, -1.f, 1.f, gen);
  const Tensor w = uniform<float>({512, 128}, -0.1f, 0.1f, gen);
  const Tensor bias = uniform<float>({64, 512}, -1.f, 1.f, gen);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const xt::xarray<float> plain = addmm(bias, h, w, false, true).value();
    xt::xarray<float> guarded;
    {
      const PackedWeightsGuard<float> guard(w);
      CHECK((detail::find_packed_weight(w.data(), 512, 128, 128) != nullptr) == detail::small_gemm_enabled());
      CHECK(detail::find_packed_weight(h.data(), 64, 128, 128) == nullptr);
      guarded = addmm(bias, h, w, false, true).value();
    }
    CHECK(detail::find_packed_weight(w.data(), 512, 128, 128) == nullptr);
    CHECK(guarded == plain);
    // And against a double reference.
    double worst = 0;
    for (std::size_t i = 0; i < 64; i += 7) {
      for (std::size_t j = 0; j < 512; j += 13) {
        double ref = bias.value()(i, j);
        for (std::size_t p = 0; p < 128; ++p) ref += double(h.value()(i, p)) * double(w.value()(j, p));
        worst = std::max(worst, std::fabs(guarded(i, j) - ref));
      }
    }
    CHECK(worst < 1e-4);
  }
  set_num_threads(1);
  // A guard of a double tensor or of a 1-D tensor does nothing.
  const PackedWeightsGuard<double> double_guard(uniform<double>({4, 3}, -1.0, 1.0, gen));
  const Tensor v = uniform<float>({5}, -1.f, 1.f, gen);
  const PackedWeightsGuard<float> vector_guard(v);
  CHECK(detail::find_packed_weight(v.data(), 5, 1, 1) == nullptr);
}

TEST_CASE("PackedWeightsGuard: guards end in any order, and a guarded temporary stays alive") {
  if (!kernel_runs()) return;
  Generator gen(18);
  const Tensor w1 = uniform<float>({64, 32}, -1.f, 1.f, gen);
  const Tensor w2 = uniform<float>({64, 32}, -1.f, 1.f, gen);
  auto first = std::make_unique<PackedWeightsGuard<float>>(w1);
  auto second = std::make_unique<PackedWeightsGuard<float>>(w2);
  first.reset();  // not the last one made
  CHECK(detail::find_packed_weight(w1.data(), 64, 32, 32) == nullptr);
  CHECK(detail::find_packed_weight(w2.data(), 64, 32, 32) != nullptr);
  second.reset();
  CHECK(detail::find_packed_weight(w2.data(), 64, 32, 32) == nullptr);

  // The guard holds the weight: its buffer is not freed and handed to the
  // next tensor of the same size while the guard lives.
  const float* address = nullptr;
  std::unique_ptr<PackedWeightsGuard<float>> guard;
  {
    const Tensor temporary = w1 + w1;
    address = temporary.data();
    guard = std::make_unique<PackedWeightsGuard<float>>(temporary);
  }
  const Tensor next = w2 + w2;
  CHECK(next.data() != address);
  const detail::PackedPanels* panels = detail::find_packed_weight(address, 64, 32, 32);
  REQUIRE(panels != nullptr);
  CHECK(panels->panel(0)[0] == 2 * w1.value()(0, 0));            // B^T (0, 0) = (w1 + w1)(0, 0)
  CHECK(panels->panel(1)[3 * 32 + 5] == 2 * w1.value()(37, 3));  // column 37 = panel 1, column 5, row k 3
  // A product with another operand of the same shape does not match.
  CHECK(detail::find_packed_weight(next.data(), 64, 32, 32) == nullptr);
}

TEST_CASE("blas::gemm_column_bias gives the bits of the bias filled in and gemm with beta 1") {
  Generator gen(15);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (std::size_t m : {5, 64, 300}) {
      for (std::size_t n : {40, 512}) {
        for (bool ta : {false, true}) {
          for (bool tb : {false, true}) {
            const std::size_t k = 70;
            const Product pr = make_product(m, n, k, ta, tb, gen);
            std::vector<float> bias(n);
            for (auto& v : bias) v = static_cast<float>(gen.uniform() * 2 - 1);
            std::vector<float> filled(m * n), fused(m * n, std::numeric_limits<float>::quiet_NaN());
            for (std::size_t i = 0; i < m; ++i) std::copy(bias.begin(), bias.end(), filled.begin() + i * n);
            blas::gemm(ta, tb, m, n, k, 1.f, pr.a.data(), pr.lda(), pr.b.data(), pr.ldb(), 1.f, filled.data(), n);
            blas::gemm_column_bias(ta, tb, m, n, k, pr.a.data(), pr.lda(), pr.b.data(), pr.ldb(), bias.data(),
                                   fused.data(), n);
            INFO("threads " << threads << " m " << m << " n " << n << " ta " << ta << " tb " << tb);
            CHECK(fused == filled);
            // And the values: row i is the bias plus op(A) op(B) (checked at one element).
            double ref = bias[n - 1];
            for (std::size_t p = 0; p < k; ++p) ref += double(pr.at_a(m - 1, p)) * double(pr.at_b(p, n - 1));
            CHECK(std::fabs(fused[m * n - 1] - ref) < 1e-4);
          }
        }
      }
    }
  }
  set_num_threads(1);
}

TEST_CASE("packed_row_gemv: a batch of one has the bits of its row in any batch, and writes only its N values") {
  if (!kernel_runs()) return;
  Generator gen(21);
  // N: 16 panels (four groups of 4), 6 (a group of 4 and one of 2, the last
  // partial), 2 (partial), 1 (under 16 columns).
  for (const std::size_t n : {512u, 166u, 45u, 7u}) {
    for (const std::size_t k : {128u, 5u}) {
      CAPTURE(n);
      CAPTURE(k);
      const Product pr = make_product(9, n, k, false, true, gen);  // 9 rows of A; B stored (n, k)
      detail::PackedPanels packed;
      detail::pack_transposed(pr.b.data(), n, k, k, packed);
      std::vector<float> bias(n), c0(9 * n);
      for (auto& v : bias) v = static_cast<float>(gen.uniform() * 2 - 1);
      for (auto& v : c0) v = static_cast<float>(gen.uniform() * 2 - 1);
      for (const int start : {0, 1, 2}) {  // beta 0, beta 1, the bias
        CAPTURE(start);
        const float beta = start == 1 ? 1.f : 0.f;
        const float* column_bias = start == 2 ? bias.data() : nullptr;
        const std::vector<float> batch = run_block(pr, c0, beta, 0, 9, 0, n, column_bias);
        for (const std::size_t row : {0u, 4u, 8u}) {
          // The row's C, with a guard band past N that must stay untouched.
          std::vector<float> c(n + 40, 7.f);
          std::copy(c0.begin() + std::ptrdiff_t(row * n), c0.begin() + std::ptrdiff_t((row + 1) * n), c.begin());
          // In two ranges of panels, as two threads run it.
          const std::size_t panels = (n + 31) / 32, half = panels / 2;
          detail::packed_row_gemv(k, pr.a.data() + row * k, 1, packed, 0, half, beta, column_bias, c.data());
          detail::packed_row_gemv(k, pr.a.data() + row * k, 1, packed, half, panels, beta, column_bias, c.data());
          CHECK(std::equal(c.begin(), c.begin() + std::ptrdiff_t(n), batch.begin() + std::ptrdiff_t(row * n)));
          CHECK(std::all_of(c.begin() + std::ptrdiff_t(n), c.end(), [](float v) { return v == 7.f; }));
          double worst = 0;  // and against a double reference
          for (std::size_t j = 0; j < n; ++j) {
            double ref = start == 2 ? bias[j] : start == 1 ? c0[row * n + j] : 0.0;
            for (std::size_t p = 0; p < k; ++p) ref += double(pr.at_a(row, p)) * double(pr.at_b(p, j));
            worst = std::max(worst, std::fabs(c[j] - ref));
          }
          CHECK(worst < 1e-4);
        }
      }
    }
  }
  SUBCASE("through addmm and linear: a guarded batch-1 step equals that row of a guarded batch") {
    const Tensor h = uniform<float>({9, 128}, -1.f, 1.f, gen);
    const Tensor w = uniform<float>({512, 128}, -0.1f, 0.1f, gen);
    const Tensor x_proj = uniform<float>({9, 512}, -1.f, 1.f, gen), b = uniform<float>({512}, -1.f, 1.f, gen);
    set_num_threads(2);  // a (1, 128) x (128, 512) product: two pieces of panels
    const PackedWeightsGuard<float> guard(w);
    const xt::xarray<float> batch_addmm = addmm(x_proj, h, w, false, true).value();
    const xt::xarray<float> batch_linear = linear(h, w, b).value();
    for (std::size_t row : {0u, 5u}) {
      const Tensor h_row = narrow(h, 0, std::ptrdiff_t(row), 1), x_row = narrow(x_proj, 0, std::ptrdiff_t(row), 1);
      CHECK(addmm(x_row, h_row, w, false, true).value() ==
            xt::xarray<float>(xt::view(batch_addmm, xt::range(row, row + 1), xt::all())));
      CHECK(linear(h_row, w, b).value() ==
            xt::xarray<float>(xt::view(batch_linear, xt::range(row, row + 1), xt::all())));
    }
    set_num_threads(1);
  }
}
