#include "xgrad/autograd/detail/deferred_gemm.hpp"

#include <memory>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/detail/inline_function.hpp"
#include "xgrad/autograd/detail/parallel.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::detail {

namespace {
// Weight gradients up to this many multiply-adds go to the worker; a larger
// one (an input projection's dW_ih over a whole sequence) is split between
// both threads instead when the worker has drained its queue by then,
// rather than left to the worker alone while this thread may have nothing
// left to do.
constexpr double kAsyncMaxMacs = 64.0e6;
}  // namespace

template <class T>
void run_gemm_grads(const GemmOperandGrad<T>& da, const GemmOperandGrad<T>& db, const GemmDims& dims,
                    OutputGradient<T>& g, const T* dc, const BasicTensor<T>* dc_holder) {
  const BasicTensor<T>& a = da.target;
  const BasicTensor<T>& b = db.target;
  const bool leaf_a = a.requires_grad() && a.is_leaf();
  const bool leaf_b = b.requires_grad() && b.is_leaf() && a.node() != b.node();
  auto now = [&](const GemmOperandGrad<T>& grad) {
    T beta;
    if (T* d = gradient_buffer(grad.target, beta)) grad.kernel(grad.other.data(), dims, dc, beta, d);
  };
  // Non-leaf gradients first: they are on the critical path.
  if (!leaf_a) now(da);
  if (!leaf_b) now(db);
  if (!leaf_a && !leaf_b) return;
  const double macs = double(dims.m) * double(dims.n) * double(dims.k);
  const bool defer =
      parallel::workers() > 0 && !parallel::on_worker() && (macs < kAsyncMaxMacs || !parallel::workers_idle());
  if (!defer) {
    if (leaf_a) now(da);
    if (leaf_b) now(db);
    return;
  }
  // dC's owner for the jobs (Note [ownership of dC]): the holder's node, or
  // the output gradient moved out into a shared array.
  const BasicTensor<T> holder = dc_holder ? *dc_holder : BasicTensor<T>();
  std::shared_ptr<const xt::xarray<T>> owned;
  if (!dc_holder) {
    owned = std::make_shared<const xt::xarray<T>>(g.take());
    dc = owned->data();
  }
  std::uint64_t ticket = 0;
  auto later = [&](const GemmOperandGrad<T>& grad) {
    T beta;
    T* d = async_gradient_buffer(grad.target, beta);
    if (!d) return;
    auto job = [other = grad.other, kernel = grad.kernel, dims, holder, owned, dc, beta, d] {
      kernel(other.data(), dims, dc, beta, d);
    };
    static_assert(InlineFunction::fits_inline<decltype(job)>, "a queued job would allocate");
    ticket = parallel::submit(std::move(job));
    set_gradient_job(grad.target, ticket);
  };
  if (leaf_a) later(da);
  if (leaf_b) later(db);
  if (dc_holder && ticket) set_gradient_read_job(*dc_holder, ticket);  // jobs run in order: the last covers both
}

template void run_gemm_grads(const GemmOperandGrad<float>&, const GemmOperandGrad<float>&, const GemmDims&,
                             OutputGradient<float>&, const float*, const BasicTensor<float>*);
template void run_gemm_grads(const GemmOperandGrad<double>&, const GemmOperandGrad<double>&, const GemmDims&,
                             OutputGradient<double>&, const double*, const BasicTensor<double>*);

}  // namespace xgrad::detail
