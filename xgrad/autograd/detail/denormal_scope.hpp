#pragma once
// Note [denormal scope]: xgrad's kernels run with flush-to-zero (FTZ) and
// denormals-are-zero (DAZ) set in the x86 MXCSR register while
// flush_denormal() is on (xgrad/autograd/denormals.hpp). MXCSR is per
// thread, and a kernel may run on the caller or on a worker depending on
// timing, so every place a kernel can run sets the mode for its duration:
// blas::gemm, each fork-join piece (for_each_piece, parallel_for; on the
// caller and on workers alike), each asynchronous job, and the whole
// backward replay. The same op then sees the same mode whichever thread
// runs it, so results stay identical across thread counts.

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define XGRAD_HAVE_MXCSR 1
#endif

namespace xgrad::detail {

bool flush_denormal_enabled();  // the current setting (cheap: an atomic load)

class DenormalScope {
 public:
  DenormalScope() {
#ifdef XGRAD_HAVE_MXCSR
    if (!flush_denormal_enabled()) return;
    saved_ = _mm_getcsr();
    const unsigned wanted = saved_ | kFlushBits;
    if (wanted != saved_) {
      _mm_setcsr(wanted);
      changed_ = true;
    }
#endif
  }
  ~DenormalScope() {
#ifdef XGRAD_HAVE_MXCSR
    if (changed_) _mm_setcsr(saved_);
#endif
  }
  DenormalScope(const DenormalScope&) = delete;
  DenormalScope& operator=(const DenormalScope&) = delete;

 private:
  static constexpr unsigned kFlushBits = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
  unsigned saved_ = 0;
  bool changed_ = false;
};

}  // namespace xgrad::detail
