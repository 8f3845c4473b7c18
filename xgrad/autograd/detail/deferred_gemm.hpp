#pragma once
// Where the operand gradients of C = op(A) op(B) (+ bias) are computed: now,
// on the calling thread, or as an asynchronous job on a worker thread. The
// formulas themselves are in xgrad/autograd/linalg.cpp.
//
// Note [ownership of dC]
// In backpropagation through time, dW_hh += dGates_t^T h_{t-1} for every
// step t is a weight gradient that no later step reads. With worker
// threads, such a leaf operand's gradient is queued as a job (in
// submission order, on worker 0) while the calling thread goes on down the
// chain of dh. The job reads dC after the rule has returned, so dC must
// outlive the rule; at each moment exactly one owner holds it:
//  1. While the rule runs: the output node's gradient (record_op's).
//  2. If a full (M, N) bias adopted it (OutputGradient::adopt_into; an
//     LSTM step's input projection): the bias's gradient. The job captures a
//     handle to the bias, and the bias's grad_job ticket, marked as a job
//     that only reads (set_gradient_read_job), makes anything else that
//     touches that gradient (an optimizer, a rule that adds to it) wait for
//     the job first. The one exception is the bias's own record when it has
//     several outputs (unbind of a block of steps' projections): its rule
//     only reads gradients, so it copies dC while the job reads it, and the
//     buffer goes back to the pool once the job is done
//     (drop_consumed_gradient). Waiting there instead stalled the backward
//     at every block of steps until the worker had drained its queue.
//  3. Otherwise: a shared array moved out of the output gradient
//     (OutputGradient::take), captured by the job and freed when it ends.
//     record_op then finds the output gradient empty and drops nothing.
// The operand a job writes into is a leaf's gradient whose grad_job is the
// job's ticket, so it is likewise never read before the job is done.
// Non-leaf operand gradients are on the critical path and always computed
// first, on the calling thread, while dC is still in place.

#include <cstddef>

#include "xgrad/autograd/detail/gradient_buffers.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::detail {

// The (M, K) x (K, N) problem an op(A) op(B) call describes; `ta`/`tb`: A
// is stored (K, M), B is stored (N, K).
struct GemmDims {
  std::size_t m = 0, n = 0, k = 0;
  bool ta = false, tb = false;
};

// Writes (beta = 0) or adds (beta = 1) one operand's gradient, reading the
// other operand and dC (M, N), into `grad` (the operand's stored layout).
template <class T>
using GemmGradKernel = void (*)(const T* other, const GemmDims& dims, const T* dc, T beta, T* grad);

// One operand's gradient: written into `target`'s gradient by `kernel`
// from `other`'s value.
template <class T>
struct GemmOperandGrad {
  const BasicTensor<T>& target;
  const BasicTensor<T>& other;
  GemmGradKernel<T> kernel;
};

// Accumulates both operand gradients from dC, each now or deferred (Note
// [ownership of dC]). `dc` points at dC: in `g`, or in the gradient of
// `dc_holder` (a bias that adopted g; nullptr if none).
template <class T>
void run_gemm_grads(const GemmOperandGrad<T>& da, const GemmOperandGrad<T>& db, const GemmDims& dims,
                    OutputGradient<T>& g, const T* dc, const BasicTensor<T>* dc_holder);

}  // namespace xgrad::detail
