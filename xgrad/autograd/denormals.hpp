#pragma once
// Denormal (subnormal) floating-point numbers in xgrad's kernels.
//
// Gradients flowing back through hundreds of recurrent steps shrink into the
// denormal range (below ~1.2e-38 in float), where many x86 CPUs take a
// microcode slow path for every operand: on one of the hosts xgrad is
// benchmarked on, an IMDB training step went from 0.2 s to 3 s
// (bench/RESULTS.md). So by default xgrad's kernels (GEMMs, elementwise
// work, the backward pass) run with flush-to-zero and denormals-are-zero
// set: a denormal input counts as 0 and a denormal result becomes 0, as
// TensorFlow's kernels do and as torch.set_flush_denormal(True) makes
// PyTorch do. The difference to exact IEEE arithmetic is below 1.2e-38 per
// element. The mode applies inside xgrad's own kernels only; the caller's
// threads are left as they were. A run is reproducible either way.
//
// Turn it off with set_flush_denormal(false) or XGRAD_FLUSH_DENORMAL=0 in
// the environment. Has no effect on CPUs without SSE (the mode bits are x86's).

namespace xgrad {

void set_flush_denormal(bool enabled);
bool flush_denormal();

}  // namespace xgrad
