// Linear algebra ops: each forward sits next to its derivative rule.
#include "xgrad/autograd/linalg.hpp"

#include <cstring>
#include <algorithm>
#include <numeric>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>

#include "xgrad/autograd/blas.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/parallel.hpp"

namespace xgrad {

namespace {

// The (M, K) x (K, N) problem an op(a) @ op(b) call describes.
// Shapes here are xtensor's inline svectors, not Shape: this runs once per
// time step in a recurrent layer, where a heap-allocated shape per call
// showed up as a third of the op's allocations.
using InlineShape = xt::svector<std::size_t, 4>;

struct GemmDims {
  std::size_t m = 0, n = 0, k = 0;
};
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
  GemmShape g;
  g.k = ta ? sa[0] : sa.back();
  if (ta) {
    g.m = sa[1];
  } else {
    g.m = 1;
    for (std::size_t i = 0; i + 1 < sa.size(); ++i) g.m *= sa[i];
  }
  const std::size_t kb = tb ? sb[1] : sb[0];
  g.n = tb ? sb[0] : sb[1];
  if (kb != g.k) {
    throw_op_error(op, "inner dimensions differ (" + std::to_string(g.k) + " vs " + std::to_string(kb) +
                           ") for shapes " + both() + (ta ? " (a transposed)" : "") +
                           (tb ? " (b transposed)" : ""));
  }
  if (ta) {
    g.out_shape = {g.m, g.n};
  } else {
    g.out_shape.assign(sa.begin(), sa.end() - 1);
    g.out_shape.push_back(g.n);
  }
  return g;
}

// Weight gradients up to this size go to the worker asynchronously; larger
// ones are split (see gemm_backward).
constexpr double kAsyncMaxMacs = 64.0e6;

// dA of C = op(A) op(B): dA(M,K) = dC op(B)^T, or stored (K,M) = op(B) dC^T.
template <class T>
void gemm_grad_a(const T* b, bool ta, bool tb, const GemmDims& s, const T* dc, T beta, T* da) {
  const std::size_t m = s.m, n = s.n, k = s.k;
  if (!ta) {
    blas::gemm(false, !tb, m, k, n, T(1), dc, n, b, tb ? k : n, beta, da, k);
  } else {
    blas::gemm(tb, true, k, m, n, T(1), b, tb ? k : n, dc, n, beta, da, m);
  }
}

// dB of C = op(A) op(B): dB(K,N) = op(A)^T dC, or stored (N,K) = dC^T op(A).
template <class T>
void gemm_grad_b(const T* a, bool ta, bool tb, const GemmDims& s, const T* dc, T beta, T* db) {
  const std::size_t m = s.m, n = s.n, k = s.k;
  if (!tb) {
    blas::gemm(!ta, false, k, n, m, T(1), a, ta ? m : k, dc, n, beta, db, n);
  } else {
    blas::gemm(true, ta, n, k, m, T(1), dc, n, a, ta ? m : k, beta, db, k);
  }
}

// The backward of C = op(A) op(B) (+ bias): accumulates dA and dB from dC
// with transpose flags, straight into the gradient buffers.
//
// With worker threads, the gradient of a leaf operand (a weight) is queued
// as an asynchronous job: nothing later in backward reads it, so in
// backpropagation through time dW_hh += dGates_t^T h_{t-1} runs on the
// second core while this thread goes on down the chain of dh. The job
// reads dC from where it lives after the rule: `dc_holder`'s gradient
// (a full (M, N) bias that adopted the output gradient, see gemm_op),
// which then waits for the job before anything else touches it; otherwise
// the output gradient itself, moved out (backward drops it anyway).
template <class T>
void gemm_backward(const BasicTensor<T>& a, const BasicTensor<T>& b, bool ta, bool tb, const GemmShape& s,
                   const xt::xarray<T>& g, const T* dc, const BasicTensor<T>* dc_holder) {
  // Whether a weight gradient is deferred is decided after the non-leaf
  // operand's gradient (on the critical path) is done: a large one (an
  // input projection's dW_ih) is split between both threads if the worker
  // has drained its queue by then, instead of left to the worker alone
  // while this thread may have nothing left to do.
  const double macs = double(s.m) * double(s.n) * double(s.k);
  const bool may_defer = parallel::workers() > 0 && !parallel::on_worker();
  const bool leaf_a = a.requires_grad() && a.is_leaf();
  const bool leaf_b = b.requires_grad() && b.is_leaf() && a.node() != b.node();
  using GradFn = void (*)(const T*, bool, bool, const GemmDims&, const T*, T, T*);
  // Operand `target`'s gradient from the `other` operand, now, on this thread.
  auto grad_now = [&](const BasicTensor<T>& target, const BasicTensor<T>& other, GradFn fn) {
    T beta;
    if (T* d = gradient_buffer(target, beta)) fn(other.data(), ta, tb, s, dc, beta, d);
  };
  if (!leaf_a) grad_now(a, b, &gemm_grad_a<T>);
  if (!leaf_b) grad_now(b, a, &gemm_grad_b<T>);
  const bool async = may_defer && (macs < kAsyncMaxMacs || !parallel::workers_idle());
  if (!async) {
    if (leaf_a) grad_now(a, b, &gemm_grad_a<T>);
    if (leaf_b) grad_now(b, a, &gemm_grad_b<T>);
    return;
  }
  if (!leaf_a && !leaf_b) return;
  // Keeps dC alive for the jobs: the holder's node, or the moved-out gradient.
  BasicTensor<T> holder = dc_holder ? *dc_holder : BasicTensor<T>();
  std::shared_ptr<const xt::xarray<T>> owned;
  if (!dc_holder) {
    owned = std::make_shared<const xt::xarray<T>>(take_output_gradient(g));
    dc = owned->data();
  }
  const GemmDims dims = s;
  std::uint64_t ticket = 0;
  auto defer = [&](const BasicTensor<T>& target, const BasicTensor<T>& other, GradFn fn) {
    T beta;
    T* d = async_gradient_buffer(target, beta);
    // Captures stay within InlineFunction's inline storage: no allocation
    // per queued job.
    auto job = [other, ta, tb, dims, holder, owned, dc, beta, d, fn] { fn(other.data(), ta, tb, dims, dc, beta, d); };
    static_assert(InlineFunction::fits_inline<decltype(job)>, "a queued job would allocate");
    ticket = parallel::submit(std::move(job));
    set_gradient_job(target, ticket);
  };
  if (leaf_a) defer(a, b, &gemm_grad_a<T>);
  if (leaf_b) defer(b, a, &gemm_grad_b<T>);
  if (dc_holder) set_gradient_job(*dc_holder, ticket);  // jobs run in order: the last covers both
}

// How a bias of at most 2 dimensions broadcasts over the (M, N) result.
struct BiasLayout {
  bool per_row = false;     // varies along M
  bool per_column = false;  // varies along N
};

template <class S>
BiasLayout bias_layout(const S& bias_shape, const GemmShape& s) {
  BiasLayout l;
  l.per_column = !bias_shape.empty() && bias_shape.back() == s.n && s.n != 1;
  l.per_row = bias_shape.size() == 2 && bias_shape[0] == s.m && s.m != 1;
  return l;
}

// Up to 8 blocks of whole rows covering rows [0, m): rows per block and the
// number of blocks, none of them empty (no blocks when m is 0).
struct RowBlocks {
  std::size_t count = 0, rows = 0;
};
inline RowBlocks row_blocks(std::size_t m) {
  if (m == 0) return {};
  const std::size_t rows = (m + 7) / 8;
  return {(m + rows - 1) / rows, rows};
}

// C(M, N) = the bias broadcast, row by row (a memcpy per row for the common
// (N) bias, one memcpy for a full (M, N) one such as an LSTM's per-step
// input projection).
// Rows are filled in blocks on both cores when C is large (a whole
// sequence's input projection).
template <class T>
void fill_with_bias(T* c, const T* bv, BiasLayout l, std::size_t m, std::size_t n) {
  const RowBlocks blocks = row_blocks(m);
  for_each_piece(blocks.count, m * n, [&](std::size_t block) {
    const std::size_t first = block * blocks.rows, last = std::min(m, first + blocks.rows);
    if (l.per_row && l.per_column) {
      std::memcpy(c + first * n, bv + first * n, (last - first) * n * sizeof(T));
    } else if (l.per_column) {
      for (std::size_t i = first; i < last; ++i) std::memcpy(c + i * n, bv, n * sizeof(T));
    } else if (l.per_row) {
      for (std::size_t i = first; i < last; ++i) std::fill_n(c + i * n, n, bv[i]);
    } else {
      std::fill_n(c + first * n, (last - first) * n, bv[0]);
    }
  });
}

// dBias += dC(M, N) summed over the axes the bias was broadcast along,
// straight into the bias's gradient buffer: no copy of dC, and no generic
// sum_to_shape walk for the common (N) and (M, N) biases.
template <class T>
void bias_backward(const BasicTensor<T>& bias, BiasLayout l, const GemmShape& s, const xt::xarray<T>& g) {
  const std::size_t m = s.m, n = s.n;
  const T* dc = g.data();
  T beta;
  T* db = gradient_buffer(bias, beta);
  if (!db) return;
  if (l.per_row && l.per_column) {
    if (beta == T(0)) {
      std::memcpy(db, dc, m * n * sizeof(T));
    } else {
      for (std::size_t i = 0; i < m * n; ++i) db[i] += dc[i];
    }
  } else if (l.per_column) {
    // Row blocks summed into partial sums, then added in block order: the
    // blocks run on both cores for a large dC (a sequence's projection),
    // and the arithmetic is the same with one thread or two.
    const RowBlocks blocks = row_blocks(m);
    std::vector<T> partial(blocks.count * n, T(0));
    for_each_piece(blocks.count, m * n, [&](std::size_t block) {
      T* acc = partial.data() + block * n;
      for (std::size_t i = block * blocks.rows; i < std::min(m, (block + 1) * blocks.rows); ++i) {
        const T* row = dc + i * n;
        for (std::size_t j = 0; j < n; ++j) acc[j] += row[j];
      }
    });
    if (beta == T(0)) std::fill_n(db, n, T(0));
    for (std::size_t block = 0; block < blocks.count; ++block)
      for (std::size_t j = 0; j < n; ++j) db[j] += partial[block * n + j];
  } else if (l.per_row) {
    for (std::size_t i = 0; i < m; ++i) {
      T acc = T(0);
      for (std::size_t j = 0; j < n; ++j) acc += dc[i * n + j];
      db[i] = beta == T(0) ? acc : db[i] + acc;
    }
  } else {
    T acc = T(0);
    for (std::size_t i = 0; i < m * n; ++i) acc += dc[i];
    db[0] = beta == T(0) ? acc : db[0] + acc;
  }
}

// True if nothing but `bias` (the op's own handle) and, for a split/unbind
// piece, its record (which reads no values) can reach bias's value.
template <class T>
bool value_is_unreachable_elsewhere(const BasicTensor<T>& bias) {
  const auto& node = bias.node_ptr();
  if (bias.is_leaf()) return node.use_count() == 1;
  // The second reference must be the record's: once it is freed (a backward
  // without retain_graph), it may be a user's handle.
  return !node->record_reads_value && !node->record_freed && node.use_count() == 2;
}

template <class T>
BasicTensor<T> gemm_op(const char* op, const BasicTensor<T>& bias, const BasicTensor<T>& a,
                       const BasicTensor<T>& b, bool ta, bool tb, bool bias_consumable = false) {
  const GemmShape s = gemm_shape(op, a, b, ta, tb);
  xt::xarray<T> out = empty_array<T>();
  T beta = T(0);
  // A copy: taking the buffer below empties the value's shape.
  const InlineShape bias_shape = bias.defined() ? InlineShape(bias.value().shape()) : InlineShape{};
  if (bias_consumable && bias.defined() && s.out_shape.size() == 2 && bias_shape.size() == 2 &&
      bias_shape[0] == s.m && bias_shape[1] == s.n && value_is_unreachable_elsewhere(bias)) {
    // Take the bias's buffer as C; the bias keeps only its shape, which is
    // all its gradient needs.
    auto& node = *bias.node();
    node.taken_shape = node.value.shape();
    node.value_taken = true;
    out = std::move(node.value);
    node.value = empty_array<T>();
    beta = T(1);
  } else {
    out = xt::empty<T>(s.out_shape);
  }
  if (bias.defined() && beta == T(0)) {
    const bool fits = bias_shape.size() <= 2 &&
                      (bias_shape.empty() || bias_shape.back() == 1 || bias_shape.back() == s.n) &&
                      (bias_shape.size() < 2 || bias_shape[0] == 1 || bias_shape[0] == s.m);
    if (!fits) {
      throw_op_error(op, "bias of shape " + shape_to_string(to_shape(bias_shape)) +
                             " does not broadcast to the result's (M, N) = " + shape_to_string(Shape{s.m, s.n}));
    }
    // Fill C with the broadcast bias, then let gemm add the product (beta = 1).
    fill_with_bias(out.data(), bias.data(), bias_layout(bias_shape, s), s.m, s.n);
    beta = T(1);
  }
  blas::gemm(ta, tb, s.m, s.n, s.k, T(1), a.data(), ta ? s.m : s.k, b.data(), tb ? s.k : s.n, beta,
             out.data(), s.n);
  return record_op<T>(op, std::move(out), requires_grad_any(a, b) || (bias.defined() && requires_grad_any(bias)),
                      [a, b, bias, ta, tb, s](const xt::xarray<T>& g, const xt::xarray<T>&) {
                        // The bias first: gemm_backward may hand g to a job.
                        const T* dc = g.data();
                        const BasicTensor<T>* dc_holder = nullptr;
                        if (bias.defined() && bias.requires_grad()) {
                          // The bias's value may have been taken (bias_consumable):
                          // its shape is still known.
                          const auto& bias_shape = bias.node()->gradient_shape();
                          const BiasLayout layout = bias_layout(bias_shape, s);
                          // A full (M, N) bias (a recurrent step's input projection) takes
                          // g itself as its gradient, no copy, when g is dropped after
                          // this rule and the bias has no gradient yet; dA and dB then
                          // read dC there. Not when the bias is also an operand: its
                          // gradient buffer would be dC and an output at once.
                          const bool same_shape = bias_shape.size() == g.dimension() &&
                                                  std::equal(bias_shape.begin(), bias_shape.end(), g.shape().begin());
                          T* adopted = layout.per_row && layout.per_column && same_shape &&
                                               bias.node() != a.node() && bias.node() != b.node()
                                           ? adopt_output_gradient(bias, g)
                                           : nullptr;
                          if (adopted) {
                            dc = adopted;
                            dc_holder = &bias;
                          } else {
                            bias_backward(bias, layout, s, g);
                          }
                        }
                        gemm_backward(a, b, ta, tb, s, g, dc, dc_holder);
                      });
}

}  // namespace

template <class T>
BasicTensor<T> matmul(const BasicTensor<T>& a, const BasicTensor<T>& b, bool transpose_a, bool transpose_b) {
  return gemm_op<T>("matmul", BasicTensor<T>(), a, b, transpose_a, transpose_b);
}

template <class T>
BasicTensor<T> addmm(const BasicTensor<T>& bias, const BasicTensor<T>& a, const BasicTensor<T>& b,
                     bool transpose_a, bool transpose_b) {
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
BasicTensor<T> transpose(const BasicTensor<T>& a) {
  if (a.dim() != 2) throw_op_error("transpose", "expects a 2-D tensor, got shape " + shape_to_string(a.shape()));
  return transpose(a, 0, 1);
}

namespace {
// dst[j, i, :] = (or +=) src[i, j, :] for src of shape (n0, n1, inner): the
// batch-first <-> time-major swap of a sequence, as row copies (xtensor's
// strided transpose assignment was 5% of an IMDB training step). For each i,
// src's n1 rows go to row i of dst's n1 blocks of n0 rows.
template <class T, bool Add>
void swap_leading_axes(const T* src, std::size_t n0, std::size_t n1, std::size_t inner, T* dst) {
  for (std::size_t i = 0; i < n0; ++i) move_rows<T, Add>(src + i * n1 * inner, 1, 0, dst, n0, i, 1, n1, inner);
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
    xt::xarray<T> out = xt::empty<T>(out_shape);
    swap_leading_axes<T, false>(a.data(), n0, n1, inner, out.data());
    return record_op<T>("transpose", std::move(out), requires_grad_any(a),
                        [a, n0, n1, inner](const xt::xarray<T>& g, const xt::xarray<T>&) {
                          if (T* ga = zeroed_gradient_buffer(a)) swap_leading_axes<T, true>(g.data(), n1, n0, inner, ga);
                        });
  }
  std::vector<std::size_t> perm(a.dim());
  std::iota(perm.begin(), perm.end(), std::size_t(0));
  std::swap(perm[d0], perm[d1]);  // its own inverse
  xt::xarray<T> out = xt::transpose(a.value(), perm);
  return record_op<T>("transpose", std::move(out), requires_grad_any(a),
                      [a, perm](const xt::xarray<T>& g, const xt::xarray<T>&) {
                        accumulate_grad(a, xt::transpose(g, perm));
                      });
}

#define XGRAD_INSTANTIATE(T)                                                                         \
  template BasicTensor<T> matmul(const BasicTensor<T>&, const BasicTensor<T>&, bool, bool);          \
  template BasicTensor<T> addmm(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&, \
                                bool, bool);                                                         \
  template BasicTensor<T> addmm(BasicTensor<T>&&, const BasicTensor<T>&, const BasicTensor<T>&, bool, bool); \
  template BasicTensor<T> linear(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&); \
  template BasicTensor<T> transpose(const BasicTensor<T>&);                                          \
  template BasicTensor<T> transpose(const BasicTensor<T>&, std::ptrdiff_t, std::ptrdiff_t);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad
