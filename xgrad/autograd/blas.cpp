#include "xgrad/autograd/blas.hpp"

#include "xgrad/autograd/detail/denormal_scope.hpp"
#include "xgrad/autograd/detail/gemm_bias.hpp"
#include "xgrad/autograd/detail/parallel.hpp"
#include "xgrad/autograd/detail/small_gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace xgrad {

namespace {
std::once_flag thread_policy_once;
bool threads_set_explicitly = false;
std::atomic<int> thread_count{1};

// n threads = the caller + (n - 1) xgrad workers, with OpenBLAS single-
// threaded inside each (see xgrad/autograd/detail/parallel.hpp for why).
void apply_threads(int n) {
  thread_count.store(n);
  openblas_set_num_threads(1);
  parallel::set_workers(n - 1);
}

void apply_default_thread_policy() {
  std::call_once(thread_policy_once, [] {
    if (threads_set_explicitly) return;
    int n = 1;
    for (const char* name : {"XGRAD_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
      if (const char* env = std::getenv(name)) {
        if (std::atoi(env) >= 1) {
          n = std::atoi(env);
          break;
        }
      }
    }
    apply_threads(n);
  });
}
}  // namespace

void set_num_threads(int threads) {
  if (threads < 1)
    throw std::invalid_argument("set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  threads_set_explicitly = true;
  apply_default_thread_policy();
  apply_threads(threads);
}

int num_threads() {
  apply_default_thread_policy();
  return thread_count.load();
}

std::string blas_core_name() { return openblas_get_corename(); }

namespace blas {

namespace {
inline CBLAS_TRANSPOSE flag(bool t) { return t ? CblasTrans : CblasNoTrans; }
inline blasint as_int(std::size_t v) { return static_cast<blasint>(v); }

// C = beta * C for an empty inner dimension (BLAS rejects lda = 0).
template <class T>
void scale_only(std::size_t m, std::size_t n, T beta, T* c, std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

inline void call_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                      std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, flag(ta), flag(tb), as_int(m), as_int(n), as_int(k), alpha, a, as_int(lda), b, as_int(ldb),
              beta, c, as_int(ldc));
}
inline void call_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
                      std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  cblas_dgemm(CblasRowMajor, flag(ta), flag(tb), as_int(m), as_int(n), as_int(k), alpha, a, as_int(lda), b, as_int(ldb),
              beta, c, as_int(ldc));
}

inline void call_gemv(bool trans, std::size_t rows, std::size_t cols, const float* a, std::size_t lda, const float* x,
                      std::size_t incx, float* y, std::size_t incy) {
  cblas_sgemv(CblasRowMajor, flag(trans), as_int(rows), as_int(cols), 1.f, a, as_int(lda), x, as_int(incx), 1.f, y,
              as_int(incy));
}
inline void call_gemv(bool trans, std::size_t rows, std::size_t cols, const double* a, std::size_t lda, const double* x,
                      std::size_t incx, double* y, std::size_t incy) {
  cblas_dgemv(CblasRowMajor, flag(trans), as_int(rows), as_int(cols), 1.0, a, as_int(lda), x, as_int(incx), 1.0, y,
              as_int(incy));
}

// Below this many multiply-adds a GEMM runs on one thread: a recurrent
// step's 64x512x128 GEMM (4.2M) gains from two, smaller ones lose to the
// hand-off (chosen by A/B of BM_TrainStep on the zoo shapes).
constexpr double kSplitMinMacs = 1.0e6;
// ...or this many elements of C: a GEMM with a tiny K (an input projection
// of one feature) is a memory-bound write of C, split like a copy.
constexpr double kSplitMinOutput = 65536;
// Note [deterministic GEMM partition]: OpenBLAS does not round an element
// of C the same way in every call shape: with its Haswell kernels, rows of
// a 950-row product computed as 8 calls of 128 rows differ in the last bit
// from the same rows computed in one call (edge kernels and blocking follow
// the call's M and N). A partition chosen by timing (how many threads were
// idle, whether a weight gradient ran on the worker) therefore made two runs
// of the same seed drift apart. So a large GEMM is always computed as the
// same pieces, a function of (M, N, K) alone: in parallel when there are
// workers, one after the other on one thread or on a worker. Results are
// then bit-identical run after run and across thread counts.
constexpr std::size_t kParts = 8;  // A/B on the zoo shapes: 2 to 8 parts within noise
// ...but never thinner than this: a backward step's dh = dGates W_hh
// (64x128x512) cut into 16-column pieces ran at 82 GFLOP/s against 97-99
// whole or in 64-column pieces: every piece packs all of the other operand.
constexpr std::size_t kMinPiece = 64;

// Whether a product is worth splitting between threads (the two thresholds above).
bool worth_splitting(std::size_t m, std::size_t n, std::size_t k) {
  return double(m) * double(n) * double(k) >= kSplitMinMacs || double(m) * double(n) >= kSplitMinOutput;
}

// Runs pieces [0, pieces) of a fixed partition: in parallel when there are
// workers and this is not one, else one after the other (same results).
template <class Fn>
void run_pieces(std::size_t pieces, const Fn& run_piece) {
  if (pieces <= 1 || parallel::workers() == 0 || parallel::on_worker()) {
    for (std::size_t p = 0; p < pieces; ++p) run_piece(p);
  } else {
    parallel::parallel_for(pieces, run_piece);
  }
}

// A product with one row or one column of C is a matrix-vector product:
// GEMM would pack the whole matrix operand on every call (a batch-1
// recurrent step packs W_hh, 256 KB, to multiply one h: 35% of an imdb
// review's inference went to sgemm_incopy), GEMV reads it once in place.
// Returns false for other shapes. The vector's stride follows its layout.
// C is scaled by beta here and the product added (beta = 1 for GEMV), so
// that beta = 0 never reads C (it may be uninitialized, even NaN). A large
// one is split by output elements like a GEMM (fixed pieces).
template <class T>
bool gemv_if_vector(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                    const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if ((m != 1 && n != 1) || alpha != T(1)) return false;
  const std::size_t outputs = m == 1 ? n : m;
  const bool large = double(m) * double(n) * double(k) >= kSplitMinMacs;
  const std::size_t piece = large ? std::max(kMinPiece, ((outputs + kParts - 1) / kParts + 15) / 16 * 16) : outputs;
  const std::size_t pieces = (outputs + piece - 1) / piece;
  const auto run_piece = [&](std::size_t p) {
    const std::size_t start = p * piece, len = std::min(piece, outputs - start);
    if (m == 1) {
      // c[start, start + len) from op(B)'s columns start.. and a's row.
      for (std::size_t j = start; j < start + len; ++j) c[j] = beta == T(0) ? T(0) : beta * c[j];
      const std::size_t inc_a = ta ? lda : 1;  // a stored (k, 1) when transposed
      if (tb) {
        call_gemv(false, len, k, b + start * ldb, ldb, a, inc_a, c + start, 1);  // B stored (n, k): its rows
      } else {
        call_gemv(true, k, len, b + start, ldb, a, inc_a, c + start, 1);  // B stored (k, n): its columns
      }
    } else {
      // C's rows [start, start + len) from op(A)'s rows start.. and b's column.
      for (std::size_t i = start; i < start + len; ++i) c[i * ldc] = beta == T(0) ? T(0) : beta * c[i * ldc];
      const std::size_t inc_b = tb ? 1 : ldb;  // b stored (1, k) when transposed, else (k, 1)
      if (ta) {
        call_gemv(true, k, len, a + start, lda, b, inc_b, c + start * ldc, ldc);  // A stored (k, m): its columns
      } else {
        call_gemv(false, len, k, a + start * lda, lda, b, inc_b, c + start * ldc, ldc);  // A stored (m, k): its rows
      }
    }
  };
  run_pieces(pieces, run_piece);
  return true;
}

// The calling thread's SplitChooser (Note [measured split]) for a batch-1
// product with an (n, k) weight: a recurrent step's h W_hh^T repeats with
// one weight shape per layer, and a new weight of that shape (the next
// sequence's guard) is the same work.
parallel::SplitChooser& row_gemv_split_chooser(std::size_t n, std::size_t k) {
  thread_local std::vector<std::pair<std::pair<std::size_t, std::size_t>, parallel::SplitChooser>> choosers;
  for (auto& [shape, chooser] : choosers) {
    if (shape.first == n && shape.second == k) return chooser;
  }
  constexpr std::size_t kMaxShapes = 16;  // bounded: a program with more shapes reuses the last slot
  if (choosers.size() == kMaxShapes) choosers.pop_back();
  choosers.push_back({{n, k}, parallel::SplitChooser()});
  return choosers.back().second;
}

// A float product xgrad's own kernel suits (Note [small GEMM kernel]):
// C is cut into pieces of whole 32-column panels, about an eighth of N
// each but at least 64 columns, so each piece reads all of A (in L2) and
// only its own panels of B; a narrow C by rows as well. A transposed B registered by a
// PackedWeightsGuard is used as packed; otherwise each piece packs its own
// columns. Every element is computed the same way in any piece, so the
// partition changes nothing in the results.
void small_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                const float* b, std::size_t ldb, float beta, const float* column_bias, float* c, std::size_t ldc) {
  const detail::PackedPanels* packed = tb ? detail::find_packed_weight(b, n, k, ldb) : nullptr;
  const bool large = worth_splitting(m, n, k);
  const std::size_t panel = detail::kSmallGemmPanel;
  const std::size_t piece = large ? std::max(2 * panel, ((n + kParts - 1) / kParts + panel - 1) / panel * panel) : n;
  const std::size_t column_pieces = (n + piece - 1) / piece;
  // A narrow C (fewer than kParts column pieces) is cut by rows too, in
  // whole tiles of 8 rows and at least 32, so that two threads share it
  // evenly (sine's 950x200 step: 64, 64, 64 and 8 columns alone).
  const std::size_t row_parts =
      large ? std::max<std::size_t>(1, std::min((kParts + column_pieces - 1) / column_pieces, m / 32)) : 1;
  const std::size_t rows = ((m + row_parts - 1) / row_parts + 7) / 8 * 8;
  const std::size_t row_pieces = (m + rows - 1) / rows, pieces = column_pieces * row_pieces;
  const auto run_piece = [&](std::size_t p) {
    const std::size_t j0 = p / row_pieces * piece, j1 = std::min(n, j0 + piece);
    const std::size_t i0 = p % row_pieces * rows, i1 = std::min(m, i0 + rows);
    detail::small_gemm_block(ta, tb, i0, i1, j0, j1, k, a, lda, b, ldb, packed, beta, column_bias, c, ldc);
  };
  run_pieces(pieces, run_piece);
}

// Splits C by rows (the larger of M, N otherwise by columns) into up to
// kParts pieces of whole 16-row/column blocks, at least kMinPiece wide,
// each a single-threaded BLAS call on disjoint rows/columns of C (each part
// packs only its own slice of the split operand). Idle threads claim pieces as
// they come, so a worker busy with a queued weight gradient joins late.
// `column_bias` (n values, alpha 1, beta ignored): C = bias + op(A) op(B),
// started from the bias by xgrad's kernel, else C's rows filled with it
// first and beta 1 (the same bits).
template <class T>
void gemm_impl(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
               const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc, const T* column_bias = nullptr) {
  if (m == 0 || n == 0) return;
  const detail::DenormalScope denormals;  // Note [denormal scope]
  apply_default_thread_policy();
  if constexpr (std::is_same_v<T, float>) {
    // A row vector times a guarded weight (a batch-1 recurrent step): the
    // guard's panels, read by packed_row_gemv, instead of GEMV on B. It is
    // bound by reading the panels from L2, so a weight of 128 KB or more is
    // read in two halves of its panels, one per core (fixed pieces).
    if (m == 1 && tb && k > 0 && alpha == 1.f && (column_bias || beta == 0.f || beta == 1.f) &&
        detail::small_gemm_enabled()) {
      if (const detail::PackedPanels* packed = detail::find_packed_weight(b, n, k, ldb)) {
        constexpr double kRowGemvSplitFloats = 32768;
        const std::size_t panels = (n + detail::kSmallGemmPanel - 1) / detail::kSmallGemmPanel;
        const bool splittable = panels >= 2 && double(n) * double(k) >= kRowGemvSplitFloats &&
                                parallel::workers() > 0 && !parallel::on_worker();
        const std::size_t pieces = splittable && row_gemv_split_chooser(n, k).split() ? 2 : 1;
        const std::size_t per_piece = (panels + pieces - 1) / pieces;
        return run_pieces(pieces, [&](std::size_t p) {
          detail::packed_row_gemv(k, a, ta ? lda : 1, *packed, p * per_piece, (p + 1) * per_piece, beta, column_bias,
                                  c);
        });
      }
    }
  }
  if (column_bias) {
    if constexpr (std::is_same_v<T, float>) {
      // m, n > 1: a vector product goes to GEMV below, as without a bias.
      if (m > 1 && n > 1 && detail::small_gemm_suits(m, n, k, 1.f, 1.f))
        return small_gemm(ta, tb, m, n, k, a, lda, b, ldb, 1.f, column_bias, c, ldc);
    }
    if (ldc == n) {
      detail::fill_with_bias(c, column_bias, detail::BiasLayout{false, true}, m, n);
    } else {
      for (std::size_t i = 0; i < m; ++i) std::copy(column_bias, column_bias + n, c + i * ldc);
    }
    beta = T(1);
  }
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  if (gemv_if_vector(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  if constexpr (std::is_same_v<T, float>) {
    if (detail::small_gemm_suits(m, n, k, alpha, beta))
      return small_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, nullptr, c, ldc);
  }
  if (!worth_splitting(m, n, k)) return call_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const bool by_rows = m >= n;
  const std::size_t extent = by_rows ? m : n;
  const std::size_t piece = std::max(kMinPiece, ((extent + kParts - 1) / kParts + 15) / 16 * 16);
  const std::size_t pieces = (extent + piece - 1) / piece;
  const auto run_piece = [&](std::size_t p) {
    const std::size_t start = p * piece, len = std::min(piece, extent - start);
    if (by_rows) {
      // A's rows start + i: row offset when stored (M, K), column offset when stored (K, M).
      call_gemm(ta, tb, len, n, k, alpha, ta ? a + start : a + start * lda, lda, b, ldb, beta, c + start * ldc, ldc);
    } else {
      // B's columns start + j: column offset when stored (K, N), row offset when stored (N, K).
      call_gemm(ta, tb, m, len, k, alpha, a, lda, tb ? b + start * ldb : b + start, ldb, beta, c + start, ldc);
    }
  };
  run_pieces(pieces, run_piece);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  gemm_impl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
          std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
  gemm_impl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_column_bias(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
                      std::size_t lda, const float* b, std::size_t ldb, const float* bias, float* c, std::size_t ldc) {
  gemm_impl(trans_a, trans_b, m, n, k, 1.f, a, lda, b, ldb, 0.f, c, ldc, bias);
}

void gemm_column_bias(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const double* a,
                      std::size_t lda, const double* b, std::size_t ldb, const double* bias, double* c,
                      std::size_t ldc) {
  gemm_impl(trans_a, trans_b, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc, bias);
}

}  // namespace blas
}  // namespace xgrad
