#pragma once
// xgrad's own float GEMM kernel for the products a recurrent step makes
// (h W_hh^T forward, dGates W_hh and dGates^T h backward: M of tens to
// hundreds, operands that fit in L2). Internal: blas::gemm hands it the
// products it suits; nothing else calls it except the tests.
//
// Note [small GEMM kernel]: OpenBLAS packs both operands into its panel
// layouts on every call. For a 64x512x128 step that is 10-12% of the time
// (sgemm_incopy/oncopy in perf), and its AVX2 kernel is what Debian's
// build picks on this project's CPUs. This kernel reads B in place when it
// is stored (K, N) row-major, reads A in place in either layout, and when B
// is stored transposed ((N, K): the x W^T of every Linear) it rearranges it
// into panels of 32 columns, once per call, or once per guard
// (PackedWeightsGuard in xgrad/autograd/packed_weights.hpp) for a weight
// reused over a loop.
//
// Every element of C is computed the same way wherever it falls in the
// partition: start from 0 (beta 0) or from C (beta 1), then one fused
// multiply-add per k in order 0..K-1. So results do not depend on how the
// product is cut into pieces, on the thread count, or on the guard; they
// differ from OpenBLAS's in the last bits (a different summation order).
// It runs where the CPU has AVX-512F (checked at run time, so a portable
// build keeps it); elsewhere, or with XGRAD_SMALL_GEMM=0, blas::gemm calls
// OpenBLAS as before.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace xgrad::detail {

// Columns per panel of B (two AVX-512 registers of floats).
inline constexpr std::size_t kSmallGemmPanel = 32;

// op(B) of shape (K, N) as ceil(N / 32) panels, each (K, 32) row-major and
// zero-padded past column N: panel q holds columns [32 q, 32 q + 32).
struct PackedPanels {
  std::size_t k = 0, n = 0;
  std::vector<float> data;  // ceil(n / 32) * k * 32
  const float* panel(std::size_t q) const { return data.data() + q * k * kSmallGemmPanel; }
};

// B stored (n, k) row-major with row length ldb, as the panels of B^T (K, N).
void pack_transposed(const float* b, std::size_t n, std::size_t k, std::size_t ldb, PackedPanels& out);

// True when the kernel runs here: AVX-512F at run time and XGRAD_SMALL_GEMM
// not set to 0 (read once).
bool small_gemm_enabled();

// Whether blas::gemm hands this float product to the kernel: enabled,
// alpha 1, beta 0 or 1, and A (M x K) and B (K x N) each at most 512 KB,
// so that they stay in L2 while every panel of C is computed.
bool small_gemm_suits(std::size_t m, std::size_t n, std::size_t k, float alpha, float beta);

// C[i0:i1, j0:j1] = beta C + op(A) op(B) for row-major C (M, N) with row
// length ldc; op(A) (M, K), stored (M, K) or, transposed, (K, M), row length
// lda; op(B) (K, N), stored (K, N) or, transposed, (N, K), row length ldb.
// `packed`, when not null, is B's panels (tb only; used when j0 is a
// multiple of 32, as blas.cpp's pieces are), else a transposed B is packed
// here for columns [j0, j1). beta is 0 (C is
// not read) or 1. `column_bias`, when not null, holds N values that start
// every row of C instead (C = bias + op(A) op(B); beta is then ignored):
// the same bits as C filled with the bias and beta 1.
void small_gemm_block(bool trans_a, bool trans_b, std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1,
                      std::size_t k, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                      const PackedPanels* packed, float beta, const float* column_bias, float* c, std::size_t ldc);

// c (1, N) = start + a (1, K) B^T for B's panels `packed` (a guard's; N,
// K from it), columns of panels [q0, q1) only (c, column_bias: the whole
// row): a batch-1 recurrent step's product. start: column_bias when
// not null, else beta c (beta 0 or 1; 0 never reads c). a's elements at
// stride inc_a. Each element is summed as small_gemm_block sums a row (from
// its start, one fused multiply-add per k in order), so a batch of one has
// the bits of that row in any batch. Four panels at a time: 8 independent
// accumulators hide the FMA latency that a single row's 2 would expose;
// the panels stream from L2 once (bound by it: 2.1 us for imdb's 512 x 128
// on one core, where OpenBLAS's GEMV on the unpacked weight took 3.2).
void packed_row_gemv(std::size_t k, const float* a, std::size_t inc_a, const PackedPanels& packed, std::size_t q0,
                     std::size_t q1, float beta, const float* column_bias, float* c);

// Note [packed weight registry]: a PackedWeightsGuard registers its weight
// on the thread that made it, and the panels are made on the first product
// that finds it (batch-1 products too: packed_row_gemv). An entry matches
// a product's B only while the guarded tensor's value still starts at that
// pointer (`current_data`, which holds the tensor's handle, so its buffer
// cannot be freed and reused by another tensor while the guard lives),
// with the same (N, K) and row length K.
// Products on worker threads get the panels from the calling thread's
// lookup (blas.cpp), never from their own registry.

// The panels of a transposed B (N, K) registered on this thread for exactly
// this pointer and shape, made now if this is the first use; null if none.
const PackedPanels* find_packed_weight(const float* b, std::size_t n, std::size_t k, std::size_t ldb);

// Registers a weight (N, K), row length K, whose value is current_data();
// returns the entry's id for unregister_packed_weight. Returns 0 and
// registers nothing when the kernel does not run here or the weight is too
// large for it (over 512 KB).
std::uint64_t register_packed_weight(std::function<const float*()> current_data, std::size_t n, std::size_t k);
// Removes exactly that entry (guards may end in any order).
void unregister_packed_weight(std::uint64_t id);

}  // namespace xgrad::detail
