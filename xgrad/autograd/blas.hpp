#pragma once
// BLAS access for the linear-algebra ops, and the thread policy.
//
// Threads: the count is chosen once, deliberately: set_num_threads(n) if
// the program calls it, else the XGRAD_NUM_THREADS environment variable,
// else OPENBLAS_NUM_THREADS, else 1. n threads are the calling thread plus
// n - 1 xgrad workers (xgrad/autograd/detail/parallel.hpp); OpenBLAS itself always runs
// single-threaded. Its pool gains nothing on a recurrent step's GEMMs
// (64x512x128: no faster with 2 threads than 1), while xgrad's workers
// split large GEMMs and elementwise ops when idle and, in backward, compute
// weight gradients asynchronously next to the sequential chain of dh.

#include <cstddef>
#include <string>

namespace xgrad {

void set_num_threads(int threads);  // throws std::invalid_argument if threads < 1
int num_threads();
// OpenBLAS's kernel family in use (e.g. "Haswell", "SkylakeX").
std::string blas_core_name();

namespace blas {
// Row-major C(m,n) = alpha * op(A)(m,k) * op(B)(k,n) + beta * C, where op
// transposes when the flag is set. lda/ldb/ldc are the stored row lengths.
// beta = 0 overwrites C without reading it.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
          std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc);
// Row-major C(m,n) = bias + op(A) op(B), `bias` n values broadcast down
// the rows (a Linear's bias): the same bits as C's rows filled with the
// bias and gemm with alpha 1, beta 1, without a separate pass over C where
// xgrad's own kernel computes the product.
void gemm_column_bias(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
                      std::size_t lda, const float* b, std::size_t ldb, const float* bias, float* c, std::size_t ldc);
void gemm_column_bias(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const double* a,
                      std::size_t lda, const double* b, std::size_t ldb, const double* bias, double* c,
                      std::size_t ldc);
}  // namespace blas

}  // namespace xgrad
