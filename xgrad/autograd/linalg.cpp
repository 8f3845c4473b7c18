// Linear algebra ops: each forward sits next to its derivative rule.
#include "xgrad/autograd/linalg.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>

#include "xgrad/autograd/blas.hpp"
#include "xgrad/autograd/detail/deferred_gemm.hpp"
#include "xgrad/autograd/detail/gemm_bias.hpp"
#include "xgrad/autograd/detail/row_copy.hpp"
#include "xgrad/autograd/detail/unshared_value.hpp"
#include "xgrad/autograd/function.hpp"

namespace xgrad {

namespace {

// Shapes here are xtensor's inline svectors, not Shape: this runs once per
// time step in a recurrent layer, where a heap-allocated shape per call
// showed up as a third of the op's allocations.
using InlineShape = xt::svector<std::size_t, 4>;
using detail::GemmDims;

struct GemmShape : GemmDims {
  InlineShape out_shape;
};

template <class T>
GemmShape gemm_shape(const char* op, const BasicTensor<T>& a, const BasicTensor<T>& b, bool ta, bool tb) {
  const auto& sa = a.value().shape();
  const auto& sb = b.value().shape();
  auto both = [&] { return shape_to_string(to_shape(sa)) + " and " + shape_to_string(to_shape(sb)); };
  if (sa.size() < 2) throw_op_error(op, "first operand must have rank >= 2, got shapes " + both());
  if (sb.size() != 2) throw_op_error(op, "second operand must be 2-D, got shapes " + both());
  if (ta && sa.size() != 2) throw_op_error(op, "transpose_a needs a 2-D first operand, got shapes " + both());
  GemmShape s;
  s.ta = ta;
  s.tb = tb;
  s.k = ta ? sa[0] : sa.back();
  if (ta) {
    s.m = sa[1];
  } else {
    s.m = 1;
    for (std::size_t i = 0; i + 1 < sa.size(); ++i) s.m *= sa[i];
  }
  const std::size_t kb = tb ? sb[1] : sb[0];
  s.n = tb ? sb[0] : sb[1];
  if (kb != s.k) {
    throw_op_error(op, "inner dimensions differ (" + std::to_string(s.k) + " vs " + std::to_string(kb) +
                           ") for shapes " + both() + (ta ? " (a transposed)" : "") + (tb ? " (b transposed)" : ""));
  }
  if (ta) {
    s.out_shape = {s.m, s.n};
  } else {
    s.out_shape.assign(sa.begin(), sa.end() - 1);
    s.out_shape.push_back(s.n);
  }
  return s;
}

// The derivative of C = op(A) op(B), one GEMM per operand with transpose
// flags, written (beta = 0) or added (beta = 1) straight into the
// gradient in the operand's stored layout:
//   dA = dC op(B)^T          (M, K), or stored (K, M) = op(B) dC^T
//   dB = op(A)^T dC          (K, N), or stored (N, K) = dC^T op(A)
template <class T>
void gemm_grad_a(const T* b, const GemmDims& s, const T* dc, T beta, T* da) {
  if (!s.ta) {
    blas::gemm(false, !s.tb, s.m, s.k, s.n, T(1), dc, s.n, b, s.tb ? s.k : s.n, beta, da, s.k);
  } else {
    blas::gemm(s.tb, true, s.k, s.m, s.n, T(1), b, s.tb ? s.k : s.n, dc, s.n, beta, da, s.m);
  }
}
template <class T>
void gemm_grad_b(const T* a, const GemmDims& s, const T* dc, T beta, T* db) {
  if (!s.tb) {
    blas::gemm(!s.ta, false, s.k, s.n, s.m, T(1), a, s.ta ? s.m : s.k, dc, s.n, beta, db, s.n);
  } else {
    blas::gemm(true, s.ta, s.n, s.k, s.m, T(1), dc, s.n, a, s.ta ? s.m : s.k, beta, db, s.k);
  }
}

// dBias: dC summed over the axes the bias was broadcast along. A full
// (M, N) bias (a recurrent step's input projection) takes over g's buffer
// as its gradient when it can (no copy); it is then returned, as the new
// holder of dC (Note [ownership of dC]). nullptr otherwise.
template <class T>
const BasicTensor<T>* bias_grad(const BasicTensor<T>& bias, const BasicTensor<T>& a, const BasicTensor<T>& b,
                                const GemmShape& s, detail::OutputGradient<T>& g) {
  // The bias's value may have been taken (addmm(BasicTensor&&)): its shape is still known.
  const auto& bias_shape = bias.node()->gradient_shape();
  const detail::BiasLayout layout = detail::bias_layout(bias_shape, s.m, s.n);
  const auto& gs = g.get().shape();
  const bool full = layout.per_row && layout.per_column && bias_shape.size() == gs.size() &&
                    std::equal(bias_shape.begin(), bias_shape.end(), gs.begin());
  // Not when the bias is also an operand: its gradient would be dC and an output at once.
  if (full && bias.node() != a.node() && bias.node() != b.node() && g.adopt_into(bias)) return &bias;
  T beta;
  if (T* db = detail::gradient_buffer(bias, beta)) detail::sum_into_bias(db, beta, layout, g.get().data(), s.m, s.n);
  return nullptr;
}

// C = bias + op(A) op(B), the bias (if defined) broadcast over (M, N).
// `bias_consumable`: the caller gave up its handle (addmm(BasicTensor&&)),
// so a full (M, N) bias nothing else can reach lends C its buffer.
template <class T>
BasicTensor<T> gemm_op(const char* op, const BasicTensor<T>& bias, const BasicTensor<T>& a, const BasicTensor<T>& b,
                       bool ta, bool tb, bool bias_consumable = false) {
  const GemmShape s = gemm_shape(op, a, b, ta, tb);
  const InlineShape bias_shape = bias.defined() ? InlineShape(bias.value().shape()) : InlineShape{};
  xt::xarray<T> out = empty_array<T>();
  const bool c_is_bias = bias_consumable && s.out_shape.size() == 2 && bias_shape == InlineShape{s.m, s.n} &&
                         detail::take_unshared_value(bias, out);
  if (!c_is_bias) out = detail::acquire_value<T>(s.out_shape);
  T beta = c_is_bias ? T(1) : T(0);  // 1: the GEMM adds the product to the bias
  bool bias_in_gemm = false;         // a Linear's bias, with which the GEMM starts each row of C
  if (bias.defined() && !c_is_bias) {
    const bool fits = bias_shape.size() <= 2 &&
                      (bias_shape.empty() || bias_shape.back() == 1 || bias_shape.back() == s.n) &&
                      (bias_shape.size() < 2 || bias_shape[0] == 1 || bias_shape[0] == s.m);
    if (!fits) {
      throw_op_error(op, "bias of shape " + shape_to_string(to_shape(bias_shape)) +
                             " does not broadcast to the result's (M, N) = " + shape_to_string(Shape{s.m, s.n}));
    }
    const detail::BiasLayout layout = detail::bias_layout(bias_shape, s.m, s.n);
    bias_in_gemm = layout.per_column && !layout.per_row;
    if (!bias_in_gemm) detail::fill_with_bias(out.data(), bias.data(), layout, s.m, s.n);
    beta = T(1);  // the GEMM adds the product to the bias
  }
  if (bias_in_gemm) {
    blas::gemm_column_bias(ta, tb, s.m, s.n, s.k, a.data(), ta ? s.m : s.k, b.data(), tb ? s.k : s.n, bias.data(),
                           out.data(), s.n);
  } else {
    blas::gemm(ta, tb, s.m, s.n, s.k, T(1), a.data(), ta ? s.m : s.k, b.data(), tb ? s.k : s.n, beta, out.data(), s.n);
  }
  const auto inputs = bias.defined() ? requires_grad_any(a, b, bias) : requires_grad_any(a, b);
  return record_op<T>(op, std::move(out), inputs, [a, b, bias, s](detail::OutputGradient<T>& g) {
    // The bias first: the operand gradients may hand g to a job.
    const BasicTensor<T>* dc_holder = bias.defined() && bias.requires_grad() ? bias_grad(bias, a, b, s, g) : nullptr;
    const T* dc = dc_holder ? dc_holder->node()->grad.data() : g.get().data();
    detail::run_gemm_grads<T>({a, b, &gemm_grad_a<T>}, {b, a, &gemm_grad_b<T>}, s, g, dc, dc_holder);
  });
}

}  // namespace

template <class T>
BasicTensor<T> matmul(const BasicTensor<T>& a, const BasicTensor<T>& b, bool transpose_a, bool transpose_b) {
  return gemm_op<T>("matmul", BasicTensor<T>(), a, b, transpose_a, transpose_b);
}

template <class T>
BasicTensor<T> addmm(const BasicTensor<T>& bias, const BasicTensor<T>& a, const BasicTensor<T>& b, bool transpose_a,
                     bool transpose_b) {
  if (!bias.defined()) throw_op_error("addmm", "bias is undefined; use matmul");
  return gemm_op<T>("addmm", bias, a, b, transpose_a, transpose_b);
}

template <class T>
BasicTensor<T> addmm(BasicTensor<T>&& bias, const BasicTensor<T>& a, const BasicTensor<T>& b, bool transpose_a,
                     bool transpose_b) {
  if (!bias.defined()) throw_op_error("addmm", "bias is undefined; use matmul");
  // addmm(std::move(x), x, w): moving from x would empty the operand too.
  if (&bias == &a || &bias == &b) return gemm_op<T>("addmm", bias, a, b, transpose_a, transpose_b);
  const BasicTensor<T> consumed = std::move(bias);  // the caller's handle is gone either way
  return gemm_op<T>("addmm", consumed, a, b, transpose_a, transpose_b, true);
}

template <class T>
BasicTensor<T> linear(const BasicTensor<T>& x, const BasicTensor<T>& weight, const BasicTensor<T>& bias) {
  if (bias.defined() && bias.dim() != 1) {
    throw_op_error("linear", "bias must be 1-D (out_features), got shape " + shape_to_string(bias.shape()));
  }
  return gemm_op<T>("linear", bias, x, weight, false, true);
}

template <class T>
BasicTensor<T> bmm(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  const Shape sa = a.shape(), sb = b.shape();
  if (sa.size() != 3 || sb.size() != 3 || sa[0] != sb[0] || sa[2] != sb[1]) {
    throw_op_error(
        "bmm", "expects (B, M, K) and (B, K, N), got shapes " + shape_to_string(sa) + " and " + shape_to_string(sb));
  }
  const std::size_t batches = sa[0], m = sa[1], k = sa[2], n = sb[2];
  xt::xarray<T> out = detail::acquire_value<T>(Shape{batches, m, n});
  for (std::size_t i = 0; i < batches; ++i)
    blas::gemm(false, false, m, n, k, T(1), a.data() + i * m * k, k, b.data() + i * k * n, n, T(0),
               out.data() + i * m * n, n);
  // Per batch: dA = dC B^T, dB = A^T dC.
  return record_op<T>("bmm", std::move(out), requires_grad_any(a, b), [a, b, batches, m, n, k](const xt::xarray<T>& g) {
    T beta;
    if (T* da = detail::gradient_buffer(a, beta))
      for (std::size_t i = 0; i < batches; ++i)
        blas::gemm(false, true, m, k, n, T(1), g.data() + i * m * n, n, b.data() + i * k * n, n, beta, da + i * m * k,
                   k);
    if (T* db = detail::gradient_buffer(b, beta))
      for (std::size_t i = 0; i < batches; ++i)
        blas::gemm(true, false, k, n, m, T(1), a.data() + i * m * k, k, g.data() + i * m * n, n, beta, db + i * k * n,
                   n);
  });
}

template <class T>
BasicTensor<T> transpose(const BasicTensor<T>& a) {
  if (a.dim() != 2) throw_op_error("transpose", "expects a 2-D tensor, got shape " + shape_to_string(a.shape()));
  return transpose(a, 0, 1);
}

namespace {
// dst[j, i, :] = (or +=) src[i, j, :] for src of shape (n0, n1, inner): the
// batch-first <-> time-major swap of a sequence, as row copies (xtensor's
// strided transpose assignment was a visible part of an IMDB training step). For each i,
// src's n1 rows go to row i of dst's n1 blocks of n0 rows.
template <class T, bool Add>
void swap_leading_axes(const T* src, std::size_t n0, std::size_t n1, std::size_t inner, T* dst) {
  for (std::size_t i = 0; i < n0; ++i) detail::move_rows<T, Add>(src + i * n1 * inner, 1, 0, dst, n0, i, 1, n1, inner);
}
}  // namespace

template <class T>
BasicTensor<T> transpose(const BasicTensor<T>& a, std::ptrdiff_t axis0, std::ptrdiff_t axis1) {
  const std::size_t d0 = normalize_axis("transpose", axis0, a.dim());
  const std::size_t d1 = normalize_axis("transpose", axis1, a.dim());
  if (std::min(d0, d1) == 0 && std::max(d0, d1) == 1 && a.dim() >= 3) {
    const Shape shape = a.shape();
    const std::size_t n0 = shape[0], n1 = shape[1], inner = a.size() / std::max<std::size_t>(n0 * n1, 1);
    Shape out_shape = shape;
    std::swap(out_shape[0], out_shape[1]);
    xt::xarray<T> out = detail::acquire_value<T>(out_shape);
    swap_leading_axes<T, false>(a.data(), n0, n1, inner, out.data());
    return record_op<T>("transpose", std::move(out), requires_grad_any(a), [a, n0, n1, inner](const xt::xarray<T>& g) {
      if (T* ga = detail::zeroed_gradient_buffer(a)) swap_leading_axes<T, true>(g.data(), n1, n0, inner, ga);
    });
  }
  std::vector<std::size_t> perm(a.dim());
  std::iota(perm.begin(), perm.end(), std::size_t(0));
  std::swap(perm[d0], perm[d1]);  // its own inverse
  xt::xarray<T> out = xt::transpose(a.value(), perm);
  return record_op<T>("transpose", std::move(out), requires_grad_any(a),
                      [a, perm](const xt::xarray<T>& g) { accumulate_grad(a, xt::transpose(g, perm)); });
}

#define XGRAD_INSTANTIATE(T)                                                                                      \
  template BasicTensor<T> matmul(const BasicTensor<T>&, const BasicTensor<T>&, bool, bool);                       \
  template BasicTensor<T> addmm(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&, bool, bool); \
  template BasicTensor<T> addmm(BasicTensor<T>&&, const BasicTensor<T>&, const BasicTensor<T>&, bool, bool);      \
  template BasicTensor<T> linear(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&);            \
  template BasicTensor<T> bmm(const BasicTensor<T>&, const BasicTensor<T>&);                                      \
  template BasicTensor<T> transpose(const BasicTensor<T>&);                                                       \
  template BasicTensor<T> transpose(const BasicTensor<T>&, std::ptrdiff_t, std::ptrdiff_t);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad
