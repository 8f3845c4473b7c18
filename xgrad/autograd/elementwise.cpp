// Elementwise ops: each forward sits next to its derivative rule.
#include "xgrad/autograd/elementwise.hpp"

#include <algorithm>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include <xtensor/xadapt.hpp>

#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/parallel.hpp"

namespace xgrad {

namespace {

template <class T>
bool same_shape(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  const auto& sa = a.value().shape();
  const auto& sb = b.value().shape();
  return sa.size() == sb.size() && std::equal(sa.begin(), sa.end(), sb.begin());
}

// Elementwise work of at least this many elements is split into contiguous
// ranges between the caller and an idle worker (xgrad/autograd/parallel.hpp);
// below it, handing work over costs more than it saves.
constexpr std::size_t kParallelMinElements = 16384;

// Calls f(offset, length) over [0, n), in parallel ranges when worthwhile.
template <class F>
void for_ranges(std::size_t n, F&& f) {
  const std::size_t parts = static_cast<std::size_t>(parallel::workers()) + 1;
  if (parts < 2 || n < kParallelMinElements || parallel::on_worker() || !parallel::workers_idle()) {
    f(std::size_t(0), n);
    return;
  }
  const std::size_t piece = ((n + parts - 1) / parts + 15) / 16 * 16;  // whole SIMD blocks
  parallel::parallel_for((n + piece - 1) / piece, [&](std::size_t i) {
    const std::size_t start = i * piece;
    f(start, std::min(piece, n - start));
  });
}

// A flat (len) view of elements [off, off+len) of a contiguous buffer.
template <class T>
auto flat(const T* data, std::size_t off, std::size_t len) {
  return xt::adapt(data + off, len, xt::no_ownership(), std::array<std::size_t, 1>{len});
}
template <class T>
auto flat(T* data, std::size_t off, std::size_t len) {
  return xt::adapt(data + off, len, xt::no_ownership(), std::array<std::size_t, 1>{len});
}

// Evaluates a lazy expression of the given shape into a fresh array through
// xtensor's linear (SIMD) assignment.
template <class T, class S, class E>
xt::xarray<T> evaluate(const S& shape, const E& expr) {
  xt::xarray<T> out = xt::empty<T>(shape);
  xt::noalias(out) = expr;
  return out;
}

// grad(t) += the rule's expression, for same-shape elementwise rules:
// rule(off, len, out, overwrite) writes (overwrite) or adds its expression
// over elements [off, off+len) into the flat view `out` of t's gradient
// buffer, ranges in parallel when large. (The rule builds its input views
// as locals: an xtensor expression keeps references to its operands.)
// With `adoptable` (the rule's output gradient, same shape as t), t's
// gradient may be written in place over it (adopt_output_gradient): no new
// buffer, and the write lands in memory the rule is reading anyway.
template <class T, class Rule>
void accumulate_grad_flat(const BasicTensor<T>& t, std::size_t n, Rule&& rule,
                          const xt::xarray<T>* adoptable = nullptr) {
  T beta = T(0);
  T* buffer = adoptable ? adopt_output_gradient(t, *adoptable) : nullptr;
  if (!buffer) buffer = gradient_buffer(t, beta);
  if (!buffer) return;
  for_ranges(n, [&](std::size_t off, std::size_t len) {
    auto out = flat(buffer, off, len);
    rule(off, len, out, beta == T(0));
  });
}

template <class Out, class E>
void write_or_add(Out& out, bool overwrite, const E& e) {
  if (overwrite) {
    xt::noalias(out) = e;
  } else {
    xt::noalias(out) += e;
  }
}

// A broadcast where one operand has the result's shape and the other's
// elements repeat along leading axes only: (T, B, E) with (1, B, E), (B, E)
// or (E) (a per-sequence dropout mask, a bias). Such an op runs block by
// block on flat views (SIMD) instead of xtensor's strided broadcasting loop.
struct Repeat {
  bool valid = false;
  bool a_full = true;     // a has the result's shape (else b)
  std::size_t inner = 0;  // elements of the repeating operand: one block
};

template <class S>
bool repeats_into(const S& full, const S& small) {
  std::size_t lead = 0;
  while (lead < small.size() && small[lead] == 1) ++lead;
  const std::size_t rest = small.size() - lead;
  return small.size() <= full.size() && std::equal(small.begin() + lead, small.end(), full.end() - rest);
}

template <class T>
Repeat repeat_layout(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  constexpr std::size_t kMinBlock = 16;  // below it, per-block overhead outweighs the strided loop
  const auto& sa = a.value().shape();
  const auto& sb = b.value().shape();
  Repeat r;
  if (a.size() > b.size() && repeats_into(sa, sb)) {
    r = {true, true, b.size()};
  } else if (b.size() > a.size() && repeats_into(sb, sa)) {
    r = {true, false, a.size()};
  }
  if (r.inner < kMinBlock) r.valid = false;
  return r;
}

// Binary op with broadcasting. forward(a, b) is an expression; grad_a and
// grad_b map (grad_out, a, b, out) to an expression of the broadcast shape.
template <class T, class Forward, class GradA, class GradB>
BasicTensor<T> binary_op(const char* name, const BasicTensor<T>& a, const BasicTensor<T>& b,
                         Forward forward, GradA grad_a, GradB grad_b) {
  const bool same = same_shape(a, b);
  const Repeat repeat = same ? Repeat{} : repeat_layout(a, b);
  xt::xarray<T> out = empty_array<T>();  // a default xarray would allocate one element
  if (repeat.valid) {
    out = xt::empty<T>(repeat.a_full ? a.value().shape() : b.value().shape());
    const std::size_t inner = repeat.inner;
    const T *x = a.data(), *y = b.data();
    T* o = out.data();
    for (std::size_t off = 0; off < out.size(); off += inner) {
      auto ov = flat(o, off, inner);
      const auto xv = flat(x, repeat.a_full ? off : 0, inner), yv = flat(y, repeat.a_full ? 0 : off, inner);
      xt::noalias(ov) = forward(xv, yv);
    }
  } else if (same) {
    out = xt::empty<T>(a.value().shape());
    const T *x = a.data(), *y = b.data();
    T* o = out.data();
    for_ranges(out.size(), [&](std::size_t off, std::size_t len) {
      auto ov = flat(o, off, len);
      const auto xv = flat(x, off, len), yv = flat(y, off, len);
      xt::noalias(ov) = forward(xv, yv);
    });
  } else {
    const Shape shape = broadcast_shapes(name, a.shape(), b.shape());
    out = evaluate<T>(shape, forward(a.value(), b.value()));
  }
  return record_op<T>(name, std::move(out), requires_grad_any(a, b),
                      [a, b, same, repeat, grad_a, grad_b](const xt::xarray<T>& g, const xt::xarray<T>& y) {
                        if (repeat.valid) {
                          // The repeating operand's gradient sums over the blocks (the
                          // general path), first: the full one may then take over g.
                          const BasicTensor<T>& small = repeat.a_full ? b : a;
                          const BasicTensor<T>& full = repeat.a_full ? a : b;
                          if (small.requires_grad()) {
                            xt::xarray<T> gs = repeat.a_full ? xt::xarray<T>(grad_b(g, a.value(), b.value(), y))
                                                             : xt::xarray<T>(grad_a(g, a.value(), b.value(), y));
                            accumulate_grad_unbroadcast(small, std::move(gs));
                          }
                          if (!full.requires_grad()) return;
                          const std::size_t inner = repeat.inner, n = g.size();  // before g is taken
                          const T *gp = g.data(), *ap = a.data(), *bp = b.data(), *yp = y.data();
                          T beta = T(0);
                          T* buffer = adopt_output_gradient(full, g);  // written in place over g
                          if (!buffer) buffer = gradient_buffer(full, beta);
                          for (std::size_t off = 0; off < n; off += inner) {
                            auto out = flat(buffer, off, inner);
                            const auto gv = flat(gp, off, inner), yv = flat(yp, off, inner);
                            const auto av = flat(ap, repeat.a_full ? off : 0, inner);
                            const auto bv = flat(bp, repeat.a_full ? 0 : off, inner);
                            if (repeat.a_full) {
                              write_or_add(out, beta == T(0), grad_a(gv, av, bv, yv));
                            } else {
                              write_or_add(out, beta == T(0), grad_b(gv, av, bv, yv));
                            }
                          }
                          return;
                        }
                        if (same) {
                          const std::size_t n = g.size();
                          const T *gp = g.data(), *ap = a.data(), *bp = b.data(), *yp = y.data();
                          // One input after the other: a and b may be the same tensor.
                          // b last, so it may take over g's buffer.
                          accumulate_grad_flat(a, n, [&](std::size_t off, std::size_t len, auto& out, bool overwrite) {
                            const auto gv = flat(gp, off, len), av = flat(ap, off, len), bv = flat(bp, off, len),
                                       yv = flat(yp, off, len);
                            write_or_add(out, overwrite, grad_a(gv, av, bv, yv));
                          });
                          accumulate_grad_flat(b, n, [&](std::size_t off, std::size_t len, auto& out, bool overwrite) {
                            const auto gv = flat(gp, off, len), av = flat(ap, off, len), bv = flat(bp, off, len),
                                       yv = flat(yp, off, len);
                            write_or_add(out, overwrite, grad_b(gv, av, bv, yv));
                          }, &g);
                          return;
                        }
                        if (a.requires_grad()) {
                          xt::xarray<T> ga = grad_a(g, a.value(), b.value(), y);
                          accumulate_grad_unbroadcast(a, std::move(ga));
                        }
                        if (b.requires_grad()) {
                          xt::xarray<T> gb = grad_b(g, a.value(), b.value(), y);
                          accumulate_grad_unbroadcast(b, std::move(gb));
                        }
                      });
}

// Unary op: forward(x) an expression; grad(grad_out, x, out) an expression.
template <class T, class Forward, class Grad>
BasicTensor<T> unary_op(const char* name, const BasicTensor<T>& a, Forward forward, Grad grad) {
  xt::xarray<T> out = xt::empty<T>(a.value().shape());
  const T* x = a.data();
  T* o = out.data();
  for_ranges(out.size(), [&](std::size_t off, std::size_t len) {
    auto ov = flat(o, off, len);
    const auto xv = flat(x, off, len);
    xt::noalias(ov) = forward(xv);
  });
  return record_op<T>(name, std::move(out), requires_grad_any(a),
                      [a, grad](const xt::xarray<T>& g, const xt::xarray<T>& y) {
                        const T *gp = g.data(), *ap = a.data(), *yp = y.data();
                        accumulate_grad_flat(a, g.size(), [&](std::size_t off, std::size_t len, auto& out, bool overwrite) {
                          const auto gv = flat(gp, off, len), av = flat(ap, off, len), yv = flat(yp, off, len);
                          write_or_add(out, overwrite, grad(gv, av, yv));
                        }, &g);
                      });
}

// The identity derivative: hands the output gradient through by reference.
constexpr auto pass_gradient = [](const auto& g, const auto&...) -> const auto& { return g; };

}  // namespace

template <class T>
BasicTensor<T> add(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "add", a, b, [](const auto& x, const auto& y) { return x + y; },
      pass_gradient,
      pass_gradient);
}
template <class T>
BasicTensor<T> sub(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "sub", a, b, [](const auto& x, const auto& y) { return x - y; },
      pass_gradient,
      [](const auto& g, const auto&, const auto&, const auto&) { return -g; });
}
template <class T>
BasicTensor<T> mul(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "mul", a, b, [](const auto& x, const auto& y) { return x * y; },
      [](const auto& g, const auto&, const auto& y, const auto&) { return g * y; },
      [](const auto& g, const auto& x, const auto&, const auto&) { return g * x; });
}
template <class T>
BasicTensor<T> div(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "div", a, b, [](const auto& x, const auto& y) { return x / y; },
      [](const auto& g, const auto&, const auto& y, const auto&) { return g / y; },
      [](const auto& g, const auto&, const auto& y, const auto& out) { return -g * out / y; });
}

template <class T>
BasicTensor<T> add_scalar(const BasicTensor<T>& a, T s) {
  return unary_op<T>(
      "add_scalar", a, [s](const auto& x) { return x + s; },
      pass_gradient);
}
template <class T>
BasicTensor<T> rsub_scalar(T s, const BasicTensor<T>& a) {
  return unary_op<T>(
      "rsub_scalar", a, [s](const auto& x) { return s - x; },
      [](const auto& g, const auto&, const auto&) { return -g; });
}
template <class T>
BasicTensor<T> mul_scalar(const BasicTensor<T>& a, T s) {
  return unary_op<T>(
      "mul_scalar", a, [s](const auto& x) { return x * s; },
      [s](const auto& g, const auto&, const auto&) { return g * s; });
}
template <class T>
BasicTensor<T> rdiv_scalar(T s, const BasicTensor<T>& a) {
  return unary_op<T>(
      "rdiv_scalar", a, [s](const auto& x) { return s / x; },
      [](const auto& g, const auto& x, const auto& y) { return -g * y / x; });
}

template <class T>
BasicTensor<T> neg(const BasicTensor<T>& a) {
  return unary_op<T>(
      "neg", a, [](const auto& x) { return -x; },
      [](const auto& g, const auto&, const auto&) { return -g; });
}
template <class T>
BasicTensor<T> exp(const BasicTensor<T>& a) {
  return unary_op<T>(
      "exp", a, [](const auto& x) { return xt::exp(x); },
      [](const auto& g, const auto&, const auto& y) { return g * y; });
}
template <class T>
BasicTensor<T> log(const BasicTensor<T>& a) {
  return unary_op<T>(
      "log", a, [](const auto& x) { return xt::log(x); },
      [](const auto& g, const auto& x, const auto&) { return g / x; });
}
template <class T>
BasicTensor<T> sqrt(const BasicTensor<T>& a) {
  return unary_op<T>(
      "sqrt", a, [](const auto& x) { return xt::sqrt(x); },
      [](const auto& g, const auto&, const auto& y) { return g / (T(2) * y); });
}
template <class T>
BasicTensor<T> pow(const BasicTensor<T>& a, T exponent) {
  return unary_op<T>(
      "pow", a, [exponent](const auto& x) { return xt::pow(x, exponent); },
      [exponent](const auto& g, const auto& x, const auto&) {
        return g * exponent * xt::pow(x, exponent - T(1));
      });
}
template <class T>
BasicTensor<T> abs(const BasicTensor<T>& a) {
  return unary_op<T>(
      "abs", a, [](const auto& x) { return xt::abs(x); },
      [](const auto& g, const auto& x, const auto&) { return g * xt::sign(x); });
}
template <class T>
BasicTensor<T> sigmoid(const BasicTensor<T>& a) {
  // Saves the output: sigmoid' = y (1 - y).
  return unary_op<T>(
      "sigmoid", a, [](const auto& x) { return T(1) / (T(1) + xt::exp(-x)); },
      [](const auto& g, const auto&, const auto& y) { return g * y * (T(1) - y); });
}
template <class T>
BasicTensor<T> tanh(const BasicTensor<T>& a) {
  // Saves the output: tanh' = 1 - y^2.
  return unary_op<T>(
      "tanh", a, [](const auto& x) { return xt::tanh(x); },
      [](const auto& g, const auto&, const auto& y) { return g * (T(1) - y * y); });
}
template <class T>
BasicTensor<T> relu(const BasicTensor<T>& a) {
  return unary_op<T>(
      "relu", a, [](const auto& x) { return xt::maximum(x, T(0)); },
      [](const auto& g, const auto& x, const auto&) { return xt::where(x > T(0), g, T(0)); });
}
template <class T>
BasicTensor<T> softplus(const BasicTensor<T>& a) {
  // max(x, 0) + log1p(exp(-|x|)) never overflows.
  return unary_op<T>(
      "softplus", a, [](const auto& x) { return xt::maximum(x, T(0)) + xt::log1p(xt::exp(-xt::abs(x))); },
      [](const auto& g, const auto& x, const auto&) { return g / (T(1) + xt::exp(-x)); });
}
template <class T>
BasicTensor<T> clamp(const BasicTensor<T>& a, T low, T high) {
  if (low > high) throw_op_error("clamp", "low bound exceeds high bound");
  return unary_op<T>(
      "clamp", a, [low, high](const auto& x) { return xt::clip(x, low, high); },
      [low, high](const auto& g, const auto& x, const auto&) {
        return xt::where(x >= low && x <= high, g, T(0));
      });
}

template <class T>
BasicTensor<T> where(const BasicTensor<T>& condition, const BasicTensor<T>& a, const BasicTensor<T>& b) {
  const Shape shape = broadcast_shapes("where", broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  xt::xarray<T> out = evaluate<T>(shape, xt::where(xt::not_equal(condition.value(), T(0)), a.value(), b.value()));
  return record_op<T>("where", std::move(out), requires_grad_any(a, b),
                      [condition, a, b, shape](const xt::xarray<T>& g, const xt::xarray<T>&) {
                        const auto taken = xt::not_equal(condition.value(), T(0));
                        if (a.requires_grad()) {
                          xt::xarray<T> ga = evaluate<T>(shape, xt::where(taken, g, T(0)));
                          accumulate_grad_unbroadcast(a, std::move(ga));
                        }
                        if (b.requires_grad()) {
                          xt::xarray<T> gb = evaluate<T>(shape, xt::where(taken, T(0), g));
                          accumulate_grad_unbroadcast(b, std::move(gb));
                        }
                      });
}

template <class T>
BasicTensor<T> mask(const BasicTensor<T>& a, const BasicTensor<T>& mask_values) {
  return mul(a, mask_values.requires_grad() ? mask_values.detach() : mask_values);
}

#define XGRAD_INSTANTIATE(T)                                                                \
  template BasicTensor<T> add(const BasicTensor<T>&, const BasicTensor<T>&);                \
  template BasicTensor<T> sub(const BasicTensor<T>&, const BasicTensor<T>&);                \
  template BasicTensor<T> mul(const BasicTensor<T>&, const BasicTensor<T>&);                \
  template BasicTensor<T> div(const BasicTensor<T>&, const BasicTensor<T>&);                \
  template BasicTensor<T> add_scalar(const BasicTensor<T>&, T);                             \
  template BasicTensor<T> rsub_scalar(T, const BasicTensor<T>&);                            \
  template BasicTensor<T> mul_scalar(const BasicTensor<T>&, T);                             \
  template BasicTensor<T> rdiv_scalar(T, const BasicTensor<T>&);                            \
  template BasicTensor<T> neg(const BasicTensor<T>&);                                       \
  template BasicTensor<T> exp(const BasicTensor<T>&);                                       \
  template BasicTensor<T> log(const BasicTensor<T>&);                                       \
  template BasicTensor<T> sqrt(const BasicTensor<T>&);                                      \
  template BasicTensor<T> pow(const BasicTensor<T>&, T);                                    \
  template BasicTensor<T> abs(const BasicTensor<T>&);                                       \
  template BasicTensor<T> sigmoid(const BasicTensor<T>&);                                   \
  template BasicTensor<T> tanh(const BasicTensor<T>&);                                      \
  template BasicTensor<T> relu(const BasicTensor<T>&);                                      \
  template BasicTensor<T> softplus(const BasicTensor<T>&);                                  \
  template BasicTensor<T> clamp(const BasicTensor<T>&, T, T);                               \
  template BasicTensor<T> where(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&); \
  template BasicTensor<T> mask(const BasicTensor<T>&, const BasicTensor<T>&);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad
