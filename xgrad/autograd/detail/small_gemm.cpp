#include "xgrad/autograd/detail/small_gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace xgrad::detail {

namespace {

constexpr std::size_t kPanel = kSmallGemmPanel;
constexpr std::size_t kRows = 8;  // rows of C per tile: 8 x 32 = 16 accumulator registers

// Columns [j0, j1) of B^T, B stored (n, k) with row length ldb, as panels
// of 32 (zero-padded) at out: panel q of the range at out + q * k * 32.
void pack_range(const float* b, std::size_t j0, std::size_t j1, std::size_t k, std::size_t ldb, float* out) {
  for (std::size_t q = 0; j0 + q * kPanel < j1; ++q) {
    float* panel = out + q * k * kPanel;
    const std::size_t first = j0 + q * kPanel, width = std::min(kPanel, j1 - first);
    for (std::size_t jj = 0; jj < width; ++jj) {
      const float* row = b + (first + jj) * ldb;  // column first + jj of B^T
      for (std::size_t p = 0; p < k; ++p) panel[p * kPanel + jj] = row[p];
    }
    for (std::size_t jj = width; jj < kPanel; ++jj)
      for (std::size_t p = 0; p < k; ++p) panel[p * kPanel + jj] = 0.f;
  }
}

// The masks of a panel's two halves of 16 columns (lo: 0-15, hi: 16-31)
// keeping its first `width` columns.
inline __mmask16 low_half_mask(std::size_t width) {
  return static_cast<__mmask16>(width >= 16 ? 0xFFFFu : (1u << width) - 1u);
}
inline __mmask16 high_half_mask(std::size_t width) {
  return static_cast<__mmask16>(width <= 16 ? 0u : width >= 32 ? 0xFFFFu : (1u << (width - 16)) - 1u);
}

// How a tile's accumulators start: at 0, from C, or from the bias row.
enum class Start { Zero, FromC, FromBias };

// One tile: rows [0, R) of C (R <= 8) by one panel of 32 columns, of which
// the masks keep the first `width` (lo: columns 0-15, hi: 16-31).
// A(r, p) is a[r * lda + p], or a[p * lda + r] when TransA. B(p, :) is the
// 32 floats at b + p * b_stride. Full: the whole panel is valid (plain
// loads and stores); otherwise masked, so nothing past column N is read
// from an in-place B, C or the bias, or written. `bias`: the panel's 32
// bias values (Start::FromBias).
template <int R, bool TransA, bool Full>
[[gnu::target("avx512f"), gnu::always_inline]] inline void tile(std::size_t k, const float* a, std::size_t lda,
                                                                const float* b, std::size_t b_stride, Start start,
                                                                const float* bias, float* c, std::size_t ldc,
                                                                __mmask16 lo, __mmask16 hi) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if (start == Start::FromC) {
      acc0[r] = Full ? _mm512_loadu_ps(c + r * ldc) : _mm512_maskz_loadu_ps(lo, c + r * ldc);
      acc1[r] = Full ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_maskz_loadu_ps(hi, c + r * ldc + 16);
    } else if (start == Start::FromBias) {
      acc0[r] = Full ? _mm512_loadu_ps(bias) : _mm512_maskz_loadu_ps(lo, bias);
      acc1[r] = Full ? _mm512_loadu_ps(bias + 16) : _mm512_maskz_loadu_ps(hi, bias + 16);
    } else {
      acc0[r] = _mm512_setzero_ps();
      acc1[r] = _mm512_setzero_ps();
    }
  }
  for (std::size_t p = 0; p < k; ++p) {
    const float* bp = b + p * b_stride;
    const __m512 b0 = Full ? _mm512_loadu_ps(bp) : _mm512_maskz_loadu_ps(lo, bp);
    const __m512 b1 = Full ? _mm512_loadu_ps(bp + 16) : _mm512_maskz_loadu_ps(hi, bp + 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(TransA ? a[p * lda + r] : a[r * lda + p]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if (Full) {
      _mm512_storeu_ps(c + r * ldc, acc0[r]);
      _mm512_storeu_ps(c + r * ldc + 16, acc1[r]);
    } else {
      _mm512_mask_storeu_ps(c + r * ldc, lo, acc0[r]);
      _mm512_mask_storeu_ps(c + r * ldc + 16, hi, acc1[r]);
    }
  }
}

// The last tile of fewer than 8 rows: the tile of `rows` rows, R or fewer.
template <int R, bool TransA, bool Full>
[[gnu::target("avx512f")]] inline void last_tile(std::size_t rows, std::size_t k, const float* a, std::size_t lda,
                                                 const float* b, std::size_t b_stride, Start start, const float* bias,
                                                 float* c, std::size_t ldc, __mmask16 lo, __mmask16 hi) {
  if constexpr (R > 0) {
    if (rows == R) return tile<R, TransA, Full>(k, a, lda, b, b_stride, start, bias, c, ldc, lo, hi);
    last_tile<R - 1, TransA, Full>(rows, k, a, lda, b, b_stride, start, bias, c, ldc, lo, hi);
  }
}

// Rows [0, rows) of C by one panel: tiles of 8 rows, then the remainder.
template <bool TransA, bool Full>
[[gnu::target("avx512f")]] void panel_rows(std::size_t rows, std::size_t k, const float* a, std::size_t lda,
                                           const float* b, std::size_t b_stride, Start start, const float* bias,
                                           float* c, std::size_t ldc, __mmask16 lo, __mmask16 hi) {
  // Row i of op(A) starts at a + i * lda, or at a + i when transposed.
  const std::size_t row_step = TransA ? 1 : lda;
  std::size_t i = 0;
  for (; i + kRows <= rows; i += kRows)
    tile<8, TransA, Full>(k, a + i * row_step, lda, b, b_stride, start, bias, c + i * ldc, ldc, lo, hi);
  last_tile<kRows - 1, TransA, Full>(rows - i, k, a + i * row_step, lda, b, b_stride, start, bias, c + i * ldc, ldc, lo,
                                     hi);
}

template <bool TransA>
[[gnu::target("avx512f")]] void panel_rows_any(bool full, std::size_t rows, std::size_t k, const float* a,
                                               std::size_t lda, const float* b, std::size_t b_stride, Start start,
                                               const float* bias, float* c, std::size_t ldc, std::size_t width) {
  if (full) return panel_rows<TransA, true>(rows, k, a, lda, b, b_stride, start, bias, c, ldc, 0xFFFF, 0xFFFF);
  panel_rows<TransA, false>(rows, k, a, lda, b, b_stride, start, bias, c, ldc, low_half_mask(width),
                            high_half_mask(width));
}

bool read_enabled() {
  const char* env = std::getenv("XGRAD_SMALL_GEMM");
  if (env && std::strcmp(env, "0") == 0) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

// Note [packed weight registry].
struct RegisteredWeight {
  std::uint64_t id;
  std::function<const float*()> current_data;  // holds the guarded tensor's handle
  const float* b;                              // its value's buffer when the guard was made
  std::size_t n, k;
  PackedPanels panels;  // empty until the first product that uses them
};
thread_local std::vector<std::unique_ptr<RegisteredWeight>> registered_weights;
thread_local std::uint64_t last_registered_id = 0;

constexpr double kMaxOperandFloats = 512.0 * 1024 / sizeof(float);

}  // namespace

void pack_transposed(const float* b, std::size_t n, std::size_t k, std::size_t ldb, PackedPanels& out) {
  out.n = n;
  out.k = k;
  out.data.assign((n + kPanel - 1) / kPanel * k * kPanel, 0.f);
  pack_range(b, 0, n, k, ldb, out.data.data());
}

bool small_gemm_enabled() {
  static const bool enabled = read_enabled();
  return enabled;
}

bool small_gemm_suits(std::size_t m, std::size_t n, std::size_t k, float alpha, float beta) {
  return alpha == 1.f && (beta == 0.f || beta == 1.f) && m > 0 && n > 0 && k > 0 &&
         double(m) * double(k) <= kMaxOperandFloats && double(k) * double(n) <= kMaxOperandFloats &&
         small_gemm_enabled();
}

[[gnu::target("avx512f")]] void small_gemm_block(bool trans_a, bool trans_b, std::size_t i0, std::size_t i1,
                                                 std::size_t j0, std::size_t j1, std::size_t k, const float* a,
                                                 std::size_t lda, const float* b, std::size_t ldb,
                                                 const PackedPanels* packed, float beta, const float* column_bias,
                                                 float* c, std::size_t ldc) {
  if (i0 >= i1 || j0 >= j1) return;
  const Start start = column_bias ? Start::FromBias : beta != 0.f ? Start::FromC : Start::Zero;
  // B's panels for [j0, j1): the guard's, packed here (transposed B), or B
  // itself read in place (stored (K, N): a panel is 32 columns of each row).
  thread_local std::vector<float> local;
  const float* panels = nullptr;
  std::size_t first_panel = 0;
  if (trans_b) {
    if (packed && j0 % kPanel == 0) {
      panels = packed->data.data();
      first_panel = j0 / kPanel;
    } else {
      local.resize((j1 - j0 + kPanel - 1) / kPanel * k * kPanel);
      pack_range(b, j0, j1, k, ldb, local.data());
      panels = local.data();
    }
  }
  const float* a_rows = trans_a ? a + i0 : a + i0 * lda;
  for (std::size_t j = j0; j < j1; j += kPanel) {
    const std::size_t width = std::min(kPanel, j1 - j);
    const float* bp;
    std::size_t b_stride;
    if (trans_b) {
      bp = panels + (first_panel + (j - j0) / kPanel) * k * kPanel;
      b_stride = kPanel;
    } else {
      bp = b + j;
      b_stride = ldb;
    }
    const bool full = width == kPanel;
    float* cj = c + i0 * ldc + j;
    const float* bias = column_bias ? column_bias + j : nullptr;
    if (trans_a) {
      panel_rows_any<true>(full, i1 - i0, k, a_rows, lda, bp, b_stride, start, bias, cj, ldc, width);
    } else {
      panel_rows_any<false>(full, i1 - i0, k, a_rows, lda, bp, b_stride, start, bias, cj, ldc, width);
    }
  }
}

namespace {

// Panels [q0, q0 + G) of packed_row_gemv: 2 G accumulators.
template <int G>
[[gnu::target("avx512f"), gnu::always_inline]] inline void row_gemv_group(std::size_t k, const float* a,
                                                                          std::size_t inc_a, const PackedPanels& packed,
                                                                          std::size_t q0, float beta,
                                                                          const float* column_bias, float* c) {
  __m512 acc[2 * G];
  __mmask16 mask[2 * G];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    const std::size_t j = (q0 + std::size_t(g)) * kPanel, width = std::min(kPanel, packed.n - j);
    mask[2 * g] = low_half_mask(width);
    mask[2 * g + 1] = high_half_mask(width);
    const float* start = column_bias ? column_bias + j : beta != 0.f ? c + j : nullptr;
    acc[2 * g] = start ? _mm512_maskz_loadu_ps(mask[2 * g], start) : _mm512_setzero_ps();
    acc[2 * g + 1] = start ? _mm512_maskz_loadu_ps(mask[2 * g + 1], start + 16) : _mm512_setzero_ps();
  }
  const float* base = packed.panel(q0);
  const std::size_t panel_floats = k * kPanel;
  for (std::size_t p = 0; p < k; ++p) {
    const __m512 av = _mm512_set1_ps(a[p * inc_a]);
    const float* bp = base + p * kPanel;
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      // Panels are zero-padded past column N: whole loads are in bounds.
      acc[2 * g] = _mm512_fmadd_ps(av, _mm512_loadu_ps(bp + std::size_t(g) * panel_floats), acc[2 * g]);
      acc[2 * g + 1] = _mm512_fmadd_ps(av, _mm512_loadu_ps(bp + std::size_t(g) * panel_floats + 16), acc[2 * g + 1]);
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    const std::size_t j = (q0 + std::size_t(g)) * kPanel;
    _mm512_mask_storeu_ps(c + j, mask[2 * g], acc[2 * g]);
    _mm512_mask_storeu_ps(c + j + 16, mask[2 * g + 1], acc[2 * g + 1]);
  }
}

}  // namespace

[[gnu::target("avx512f")]] void packed_row_gemv(std::size_t k, const float* a, std::size_t inc_a,
                                                const PackedPanels& packed, std::size_t q0, std::size_t q1, float beta,
                                                const float* column_bias, float* c) {
  q1 = std::min(q1, (packed.n + kPanel - 1) / kPanel);
  std::size_t q = q0;
  for (; q + 4 <= q1; q += 4) row_gemv_group<4>(k, a, inc_a, packed, q, beta, column_bias, c);
  switch (q1 - std::min(q, q1)) {
    case 3:
      return row_gemv_group<3>(k, a, inc_a, packed, q, beta, column_bias, c);
    case 2:
      return row_gemv_group<2>(k, a, inc_a, packed, q, beta, column_bias, c);
    case 1:
      return row_gemv_group<1>(k, a, inc_a, packed, q, beta, column_bias, c);
    default:
      return;
  }
}

const PackedPanels* find_packed_weight(const float* b, std::size_t n, std::size_t k, std::size_t ldb) {
  for (auto it = registered_weights.rbegin(); it != registered_weights.rend(); ++it) {
    RegisteredWeight& w = **it;
    if (w.b != b || w.n != n || w.k != k || ldb != k || w.current_data() != b) continue;
    if (w.panels.data.empty()) pack_transposed(b, n, k, k, w.panels);
    return &w.panels;
  }
  return nullptr;
}

std::uint64_t register_packed_weight(std::function<const float*()> current_data, std::size_t n, std::size_t k) {
  if (!small_gemm_enabled() || n == 0 || k == 0 || double(n) * double(k) > kMaxOperandFloats) return 0;
  const float* b = current_data();
  registered_weights.push_back(
      std::make_unique<RegisteredWeight>(RegisteredWeight{++last_registered_id, std::move(current_data), b, n, k, {}}));
  return last_registered_id;
}

void unregister_packed_weight(std::uint64_t id) {
  for (auto it = registered_weights.begin(); it != registered_weights.end(); ++it) {
    if ((*it)->id == id) {
      registered_weights.erase(it);
      return;
    }
  }
}

}  // namespace xgrad::detail
