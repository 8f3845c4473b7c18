#include "autograd/blas.hpp"

#include <cblas.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace xgrad {

namespace {
std::once_flag thread_policy_once;
bool threads_set_explicitly = false;

void apply_default_thread_policy() {
  std::call_once(thread_policy_once, [] {
    if (threads_set_explicitly) return;
    if (const char* env = std::getenv("XGRAD_NUM_THREADS")) {
      const int n = std::atoi(env);
      if (n >= 1) {
        openblas_set_num_threads(n);
        return;
      }
    }
    if (std::getenv("OPENBLAS_NUM_THREADS")) return;  // OpenBLAS honoured it at load time
    openblas_set_num_threads(1);
  });
}
}  // namespace

void set_num_threads(int threads) {
  if (threads < 1) throw std::invalid_argument("set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  threads_set_explicitly = true;
  apply_default_thread_policy();
  openblas_set_num_threads(threads);
}

int num_threads() {
  apply_default_thread_policy();
  return openblas_get_num_threads();
}

std::string blas_core_name() { return openblas_get_corename(); }
std::string blas_config() { return openblas_get_config(); }

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
}  // namespace

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
          std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  apply_default_thread_policy();
  cblas_sgemm(CblasRowMajor, flag(trans_a), flag(trans_b), as_int(m), as_int(n), as_int(k), alpha, a,
              as_int(lda), b, as_int(ldb), beta, c, as_int(ldc));
}

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* a, std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
          std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  apply_default_thread_policy();
  cblas_dgemm(CblasRowMajor, flag(trans_a), flag(trans_b), as_int(m), as_int(n), as_int(k), alpha, a,
              as_int(lda), b, as_int(ldb), beta, c, as_int(ldc));
}

}  // namespace blas
}  // namespace xgrad
