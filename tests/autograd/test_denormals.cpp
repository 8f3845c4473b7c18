// Denormals in xgrad's kernels (xgrad/autograd/denormals.hpp): flushed to
// zero by default, kept when asked, and the caller's own floating-point mode
// left as it was.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>

using namespace xgrad;

namespace {
const float kDenormal = 1e-39f;  // below float's smallest normal, 1.18e-38

struct FlushSetting {
  bool saved = flush_denormal();
  ~FlushSetting() { set_flush_denormal(saved); }
};
}  // namespace

TEST_CASE("denormals: flushed in GEMMs, elementwise kernels and backward by default, kept when asked") {
  FlushSetting restore;
  REQUIRE(std::fpclassify(kDenormal) == FP_SUBNORMAL);
  constexpr unsigned kControlBits = ~0x3Fu;  // the low 6 bits are sticky exception flags, not modes
  const unsigned caller_mode = _mm_getcsr() & kControlBits;
  for (const bool flush : {true, false}) {
    CAPTURE(flush);
    set_flush_denormal(flush);
    const float expected = flush ? 0.0f : kDenormal;
    // GEMM: a denormal operand.
    Tensor a = Tensor::of({{kDenormal, kDenormal}, {0.0f, 0.0f}}), b = Tensor::of({{1.0f, 0.0f}, {1.0f, 0.0f}});
    CHECK(matmul(a, b).value()(0, 0) == (flush ? 0.0f : 2 * kDenormal));
    // An elementwise kernel large enough to be split in pieces.
    Tensor x(xt::xarray<float>::from_shape({40000}), true);
    std::fill(x.mutable_value().begin(), x.mutable_value().end(), kDenormal);
    Tensor y = x * 1.0f;
    CHECK(y.value()(12345) == expected);
    // Backward: d(sum(x * w))/dx = w, denormal.
    Tensor w(xt::xarray<float>::from_shape({40000}));
    std::fill(w.mutable_value().begin(), w.mutable_value().end(), kDenormal);
    sum(x * w).backward();
    CHECK(x.grad()(0) == expected);
    // The caller's mode is as it was.
    CHECK((_mm_getcsr() & kControlBits) == caller_mode);
    // Outside xgrad's kernels, the caller's arithmetic keeps denormals.
    volatile float tiny = kDenormal;
    CHECK(tiny * 1.0f == kDenormal);
  }
}
#endif
