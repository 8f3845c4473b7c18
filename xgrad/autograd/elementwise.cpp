// Elementwise ops: each forward sits next to its derivative rule.
#include "xgrad/autograd/elementwise.hpp"

#include <algorithm>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include <xtensor/xadapt.hpp>

#include "xgrad/autograd/detail/gradient_buffers.hpp"
#include "xgrad/autograd/detail/gradient_target.hpp"
#include "xgrad/autograd/detail/parallel.hpp"
#include "xgrad/autograd/detail/unshared_value.hpp"
#include "xgrad/autograd/function.hpp"

namespace xgrad {

namespace {

// Calls f(offset, length) over contiguous ranges covering [0, n), one per
// thread (whole SIMD blocks each), through the one fork-join.
template <class F>
void for_ranges(std::size_t n, F&& f) {
  if (n == 0) return;
  const std::size_t parts = static_cast<std::size_t>(parallel::workers()) + 1;
  const std::size_t piece = ((n + parts - 1) / parts + 15) / 16 * 16;
  parallel::for_each_piece((n + piece - 1) / piece, n, [&](std::size_t i) {
    const std::size_t start = i * piece;
    f(start, std::min(piece, n - start));
  });
}

// A flat (len) view of elements [off, off+len) of a contiguous buffer.
template <class T>
auto flat(T* data, std::size_t off, std::size_t len) {
  return xt::adapt(data + off, len, xt::no_ownership(), std::array<std::size_t, 1>{len});
}

// Evaluates a lazy expression of the given shape into a fresh array through
// xtensor's linear (SIMD) assignment.
template <class T, class S, class E>
xt::xarray<T> evaluate(const S& shape, const E& expr) {
  xt::xarray<T> out = detail::acquire_value<T>(shape);
  xt::noalias(out) = expr;
  return out;
}

template <class Out, class E>
void write_or_add(Out& out, bool overwrite, const E& e) {
  if (overwrite) {
    xt::noalias(out) = e;
  } else {
    xt::noalias(out) += e;
  }
}

// What a derivative formula sees: the output gradient g, the inputs a (and
// b) and the output out, as same-shape expressions (PyTorch's derivatives.yaml
// vocabulary: grad, self, other, result). A formula reads the names it needs.
template <class G, class A, class B, class O>
struct Operands {
  const G& g;
  const A& a;
  const B& b;
  const O& out;
};
template <class G, class A, class B, class O>
Operands<G, A, B, O> operands(const G& g, const A& a, const B& b, const O& out) {
  return {g, a, b, out};
}

// The flat layout of a binary op: both operands have the result's shape, or
// one of them repeats along leading axes only ((T, B, E) with (1, B, E),
// (B, E) or (E): a per-sequence dropout mask, a bias). Either way the op
// runs on flat views (SIMD) instead of xtensor's strided broadcasting loop,
// in blocks of `block` elements when one operand repeats (0: it does not).
struct FlatLayout {
  bool valid = false;
  bool a_repeats = false, b_repeats = false;
  std::size_t block = 0;
};

template <class S>
bool repeats_into(const S& full, const S& small) {
  std::size_t lead = 0;
  while (lead < small.size() && small[lead] == 1) ++lead;
  const std::size_t rest = small.size() - lead;
  return small.size() <= full.size() && std::equal(small.begin() + lead, small.end(), full.end() - rest);
}

template <class T>
FlatLayout flat_layout(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  constexpr std::size_t kMinBlock = 16;  // below it, per-block overhead outweighs the strided loop
  const auto& sa = a.value().shape();
  const auto& sb = b.value().shape();
  if (sa.size() == sb.size() && std::equal(sa.begin(), sa.end(), sb.begin())) return {true, false, false, 0};
  if (a.size() > b.size() && b.size() >= kMinBlock && repeats_into(sa, sb)) return {true, false, true, b.size()};
  if (b.size() > a.size() && a.size() >= kMinBlock && repeats_into(sb, sa)) return {true, true, false, a.size()};
  return {};
}

// Calls f(off, len) over [0, n) for a flat layout: any ranges when no
// operand repeats, one block at a time otherwise.
template <class F>
void for_flat(const FlatLayout& l, std::size_t n, F&& f) {
  if (l.block == 0) return for_ranges(n, f);
  parallel::for_each_piece(n / l.block, n, [&](std::size_t i) { f(i * l.block, l.block); });
}

// grad(t) += the formula over a flat layout, written straight into t's
// gradient: over g's own buffer when `may_adopt` and g can be taken (each
// element read before it is written), else into a fresh buffer (beta 0) or
// t's existing gradient (beta 1). pa, pb, po: the inputs and the output.
template <class T, class Grad>
void write_flat_gradient(const BasicTensor<T>& t, detail::OutputGradient<T>& g, bool may_adopt,
                         const FlatLayout& layout, const T* pa, const T* pb, const T* po, const Grad& grad) {
  const std::size_t n = g.get().size();
  const T* pg = g.get().data();  // the same pointer after adopt_into
  T beta = T(0);
  T* buffer = may_adopt ? g.adopt_into(t) : nullptr;
  if (!buffer) buffer = detail::gradient_buffer(t, beta);
  if (!buffer) return;
  for_flat(layout, n, [&](std::size_t off, std::size_t len) {
    auto dst = flat(buffer, off, len);
    const auto gv = flat(pg, off, len), ov = flat(po, off, len);
    const auto av = flat(pa, layout.a_repeats ? 0 : off, len), bv = flat(pb, layout.b_repeats ? 0 : off, len);
    write_or_add(dst, beta == T(0), grad(operands(gv, av, bv, ov)));
  });
}

// Binary op with broadcasting: forward(a, b) is an expression of the
// inputs; grad_a and grad_b map Operands to an expression of the result's
// shape (summed over broadcast axes afterwards).
template <class T, class Forward, class GradA, class GradB>
BasicTensor<T> binary_op(const char* name, const BasicTensor<T>& a, const BasicTensor<T>& b, Forward forward,
                         GradA grad_a, GradB grad_b) {
  const FlatLayout layout = flat_layout(a, b);
  xt::xarray<T> out = empty_array<T>();  // a default xarray would allocate one element
  if (layout.valid) {
    out = detail::acquire_value<T>(layout.a_repeats ? b.value().shape() : a.value().shape());
    const T *pa = a.data(), *pb = b.data();
    T* po = out.data();
    for_flat(layout, out.size(), [&](std::size_t off, std::size_t len) {
      auto o = flat(po, off, len);
      xt::noalias(o) = forward(flat(pa, layout.a_repeats ? 0 : off, len), flat(pb, layout.b_repeats ? 0 : off, len));
    });
  } else {
    out = evaluate<T>(broadcast_shapes(name, a.shape(), b.shape()), forward(a.value(), b.value()));
  }
  auto rule = [a, b, layout, grad_a, grad_b](detail::OutputGradient<T>& g, const xt::xarray<T>& out) {
    // An operand that repeats, or any operand of a general broadcast, gets
    // its gradient the general way: the formula over the result's shape,
    // then summed over the broadcast axes.
    auto general = [&](const BasicTensor<T>& t, const auto& grad) {
      if (!t.requires_grad()) return;
      xt::xarray<T> full = grad(operands(g.get(), a.value(), b.value(), out));
      accumulate_grad_unbroadcast(t, std::move(full));
    };
    if (!layout.valid || layout.a_repeats) general(a, grad_a);
    if (!layout.valid || layout.b_repeats) general(b, grad_b);
    if (!layout.valid) return;
    // Full-shape operands: written flat, one after the other (a and b may
    // be the same tensor); the last one written may take over g's buffer.
    if (!layout.a_repeats) write_flat_gradient(a, g, layout.b_repeats, layout, a.data(), b.data(), out.data(), grad_a);
    if (!layout.b_repeats) write_flat_gradient(b, g, true, layout, a.data(), b.data(), out.data(), grad_b);
  };
  return record_op<T>(name, std::move(out), requires_grad_any(a, b), std::move(rule));
}

// Unary op: forward(a) is an expression of the input; grad maps Operands
// (b unused) to an expression.
template <class T, class Forward, class Grad>
BasicTensor<T> unary_op(const char* name, const BasicTensor<T>& a, Forward forward, Grad grad) {
  xt::xarray<T> out = detail::acquire_value<T>(a.value().shape());
  const T* pa = a.data();
  T* po = out.data();
  for_ranges(out.size(), [&](std::size_t off, std::size_t len) {
    auto o = flat(po, off, len);
    xt::noalias(o) = forward(flat(pa, off, len));
  });
  return record_op<T>(name, std::move(out), requires_grad_any(a),
                      [a, grad](detail::OutputGradient<T>& g, const xt::xarray<T>& out) {
                        const FlatLayout same_shape{true, false, false, 0};
                        write_flat_gradient(a, g, true, same_shape, a.data(), a.data(), out.data(), grad);
                      });
}

// The identity derivative: hands the output gradient through by reference.
constexpr auto pass_gradient = [](const auto& d) -> const auto& { return d.g; };

}  // namespace

template <class T>
BasicTensor<T> add(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "add", a, b, [](const auto& a, const auto& b) { return a + b; }, pass_gradient, pass_gradient);
}
template <class T>
BasicTensor<T> sub(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "sub", a, b, [](const auto& a, const auto& b) { return a - b; }, pass_gradient,
      [](const auto& d) { return -d.g; });
}
template <class T>
BasicTensor<T> mul(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "mul", a, b, [](const auto& a, const auto& b) { return a * b; }, [](const auto& d) { return d.g * d.b; },
      [](const auto& d) { return d.g * d.a; });
}
template <class T>
BasicTensor<T> div(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "div", a, b, [](const auto& a, const auto& b) { return a / b; }, [](const auto& d) { return d.g / d.b; },
      [](const auto& d) { return -d.g * d.out / d.b; });
}

template <class T>
BasicTensor<T> add_scalar(const BasicTensor<T>& a, T s) {
  return unary_op<T>(
      "add_scalar", a, [s](const auto& a) { return a + s; }, pass_gradient);
}
template <class T>
BasicTensor<T> rsub_scalar(T s, const BasicTensor<T>& a) {
  return unary_op<T>(
      "rsub_scalar", a, [s](const auto& a) { return s - a; }, [](const auto& d) { return -d.g; });
}
template <class T>
BasicTensor<T> mul_scalar(const BasicTensor<T>& a, T s) {
  return unary_op<T>(
      "mul_scalar", a, [s](const auto& a) { return a * s; }, [s](const auto& d) { return d.g * s; });
}
template <class T>
BasicTensor<T> rdiv_scalar(T s, const BasicTensor<T>& a) {
  return unary_op<T>(
      "rdiv_scalar", a, [s](const auto& a) { return s / a; }, [](const auto& d) { return -d.g * d.out / d.a; });
}

template <class T>
BasicTensor<T> neg(const BasicTensor<T>& a) {
  return unary_op<T>(
      "neg", a, [](const auto& a) { return -a; }, [](const auto& d) { return -d.g; });
}
template <class T>
BasicTensor<T> exp(const BasicTensor<T>& a) {
  return unary_op<T>(
      "exp", a, [](const auto& a) { return xt::exp(a); }, [](const auto& d) { return d.g * d.out; });
}
template <class T>
BasicTensor<T> log(const BasicTensor<T>& a) {
  return unary_op<T>(
      "log", a, [](const auto& a) { return xt::log(a); }, [](const auto& d) { return d.g / d.a; });
}
template <class T>
BasicTensor<T> sqrt(const BasicTensor<T>& a) {
  return unary_op<T>(
      "sqrt", a, [](const auto& a) { return xt::sqrt(a); }, [](const auto& d) { return d.g / (T(2) * d.out); });
}
template <class T>
BasicTensor<T> pow(const BasicTensor<T>& a, T exponent) {
  return unary_op<T>(
      "pow", a, [exponent](const auto& a) { return xt::pow(a, exponent); },
      [exponent](const auto& d) { return d.g * exponent * xt::pow(d.a, exponent - T(1)); });
}
template <class T>
BasicTensor<T> abs(const BasicTensor<T>& a) {
  return unary_op<T>(
      "abs", a, [](const auto& a) { return xt::abs(a); }, [](const auto& d) { return d.g * xt::sign(d.a); });
}
template <class T>
BasicTensor<T> sigmoid(const BasicTensor<T>& a) {
  // Saves the output: sigmoid' = out (1 - out).
  return unary_op<T>(
      "sigmoid", a, [](const auto& a) { return T(1) / (T(1) + xt::exp(-a)); },
      [](const auto& d) { return d.g * d.out * (T(1) - d.out); });
}
template <class T>
BasicTensor<T> tanh(const BasicTensor<T>& a) {
  // Saves the output: tanh' = 1 - out^2.
  return unary_op<T>(
      "tanh", a, [](const auto& a) { return xt::tanh(a); }, [](const auto& d) { return d.g * (T(1) - d.out * d.out); });
}
template <class T>
BasicTensor<T> relu(const BasicTensor<T>& a) {
  return unary_op<T>(
      "relu", a, [](const auto& a) { return xt::maximum(a, T(0)); },
      [](const auto& d) { return xt::where(d.a > T(0), d.g, T(0)); });
}
template <class T>
BasicTensor<T> softplus(const BasicTensor<T>& a) {
  // max(x, 0) + log1p(exp(-|x|)) never overflows.
  return unary_op<T>(
      "softplus", a, [](const auto& a) { return xt::maximum(a, T(0)) + xt::log1p(xt::exp(-xt::abs(a))); },
      [](const auto& d) { return d.g / (T(1) + xt::exp(-d.a)); });
}
template <class T>
BasicTensor<T> clamp(const BasicTensor<T>& a, T low, T high) {
  if (low > high) throw_op_error("clamp", "low bound exceeds high bound");
  return unary_op<T>(
      "clamp", a, [low, high](const auto& a) { return xt::clip(a, low, high); },
      [low, high](const auto& d) { return xt::where(d.a >= low && d.a <= high, d.g, T(0)); });
}

template <class T>
BasicTensor<T> sin(const BasicTensor<T>& a) {
  return unary_op<T>(
      "sin", a, [](const auto& a) { return xt::sin(a); }, [](const auto& d) { return d.g * xt::cos(d.a); });
}
template <class T>
BasicTensor<T> cos(const BasicTensor<T>& a) {
  return unary_op<T>(
      "cos", a, [](const auto& a) { return xt::cos(a); }, [](const auto& d) { return -d.g * xt::sin(d.a); });
}
template <class T>
BasicTensor<T> erf(const BasicTensor<T>& a) {
  const T two_over_sqrt_pi = T(2) / std::sqrt(T(3.14159265358979323846));
  return unary_op<T>(
      "erf", a, [](const auto& a) { return xt::erf(a); },
      [two_over_sqrt_pi](const auto& d) { return d.g * two_over_sqrt_pi * xt::exp(-d.a * d.a); });
}
template <class T>
BasicTensor<T> gelu(const BasicTensor<T>& a) {
  // a Phi(a), Phi the standard normal CDF; derivative Phi(a) + a phi(a).
  const T inv_sqrt2 = T(1) / std::sqrt(T(2)), inv_sqrt_2pi = T(1) / std::sqrt(T(2) * T(3.14159265358979323846));
  return unary_op<T>(
      "gelu", a, [inv_sqrt2](const auto& a) { return a * (T(0.5) + T(0.5) * xt::erf(a * inv_sqrt2)); },
      [inv_sqrt2, inv_sqrt_2pi](const auto& d) {
        return d.g * ((T(0.5) + T(0.5) * xt::erf(d.a * inv_sqrt2)) + d.a * inv_sqrt_2pi * xt::exp(T(-0.5) * d.a * d.a));
      });
}
template <class T>
BasicTensor<T> silu(const BasicTensor<T>& a) {
  // out = a s, s = sigmoid(a); derivative s (1 + a (1 - s)) = out + s (1 - out).
  // (One expression: a local lazy expression would dangle once returned.)
  return unary_op<T>(
      "silu", a, [](const auto& a) { return a / (T(1) + xt::exp(-a)); },
      [](const auto& d) { return d.g * (d.out + (T(1) - d.out) / (T(1) + xt::exp(-d.a))); });
}
template <class T>
BasicTensor<T> leaky_relu(const BasicTensor<T>& a, T negative_slope) {
  return unary_op<T>(
      "leaky_relu", a, [negative_slope](const auto& a) { return xt::where(a > T(0), a, a * negative_slope); },
      [negative_slope](const auto& d) { return xt::where(d.a > T(0), d.g, d.g * negative_slope); });
}
template <class T>
BasicTensor<T> elu(const BasicTensor<T>& a, T alpha) {
  // Below 0 the derivative alpha exp(a) is out + alpha.
  return unary_op<T>(
      "elu", a, [alpha](const auto& a) { return xt::where(a > T(0), a, alpha * (xt::exp(a) - T(1))); },
      [alpha](const auto& d) { return xt::where(d.a > T(0), d.g, d.g * (d.out + alpha)); });
}
template <class T>
BasicTensor<T> maximum(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  // Ties split the gradient in halves, as torch.maximum does.
  return binary_op<T>(
      "maximum", a, b, [](const auto& a, const auto& b) { return xt::maximum(a, b); },
      [](const auto& d) { return xt::where(d.a > d.b, d.g, xt::where(xt::equal(d.a, d.b), d.g * T(0.5), T(0))); },
      [](const auto& d) { return xt::where(d.b > d.a, d.g, xt::where(xt::equal(d.a, d.b), d.g * T(0.5), T(0))); });
}
template <class T>
BasicTensor<T> minimum(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return binary_op<T>(
      "minimum", a, b, [](const auto& a, const auto& b) { return xt::minimum(a, b); },
      [](const auto& d) { return xt::where(d.a < d.b, d.g, xt::where(xt::equal(d.a, d.b), d.g * T(0.5), T(0))); },
      [](const auto& d) { return xt::where(d.b < d.a, d.g, xt::where(xt::equal(d.a, d.b), d.g * T(0.5), T(0))); });
}

template <class T>
BasicTensor<T> where(const BasicTensor<T>& condition, const BasicTensor<T>& a, const BasicTensor<T>& b) {
  const Shape shape = broadcast_shapes("where", broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  xt::xarray<T> out = evaluate<T>(shape, xt::where(xt::not_equal(condition.value(), T(0)), a.value(), b.value()));
  return record_op<T>("where", std::move(out), requires_grad_any(a, b),
                      [condition, a, b, shape](const xt::xarray<T>& g) {
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
BasicTensor<T> masked_fill(const BasicTensor<T>& a, const xt::xarray<bool>& mask, T value) {
  const Shape shape = a.shape();
  if (broadcast_shapes("masked_fill", shape, to_shape(mask.shape())) != shape) {
    throw_op_error("masked_fill", "mask of shape " + shape_to_string(to_shape(mask.shape())) +
                                      " does not broadcast to the tensor's shape " + shape_to_string(shape));
  }
  xt::xarray<T> out = evaluate<T>(shape, xt::where(mask, value, a.value()));
  // Filled elements no longer depend on a.
  return record_op<T>("masked_fill", std::move(out), requires_grad_any(a), [a, mask, shape](const xt::xarray<T>& g) {
    accumulate_grad(a, evaluate<T>(shape, xt::where(mask, T(0), g)));
  });
}

template <class T>
BasicTensor<T> mask(const BasicTensor<T>& a, const BasicTensor<T>& mask_values) {
  const BasicTensor<T> m = mask_values.requires_grad() ? mask_values.detach() : mask_values;
  // Where the result has a's shape: a * m with a rule that reads only the
  // mask, so a is a gradient target (Note [gradient targets]): a masked
  // recurrent h does not keep the raw h alive. Otherwise as mul.
  const FlatLayout layout = flat_layout(a, m);
  if (!layout.valid || layout.a_repeats) return mul(a, m);
  xt::xarray<T> out = detail::acquire_value<T>(a.value().shape());
  const T *pa = a.data(), *pm = m.data();
  T* po = out.data();
  for_flat(layout, out.size(), [&](std::size_t off, std::size_t len) {
    auto o = flat(po, off, len);
    xt::noalias(o) = flat(pa, off, len) * flat(pm, layout.b_repeats ? 0 : off, len);
  });
  const auto inputs = requires_grad_any(a);
  return record_op<T>(
      "mask", std::move(out), inputs,
      [a = detail::GradientTarget<T>(inputs ? a : BasicTensor<T>()), m, layout](detail::OutputGradient<T>& g) {
        const T* pg = g.get().data();
        write_flat_gradient(a.tensor(), g, true, layout, pg, m.data(), pg, [](const auto& d) { return d.g * d.b; });
      });
}

template <class T>
BasicTensor<T> mask(BasicTensor<T>&& a, const BasicTensor<T>& mask_values) {
  // mask(std::move(x), x): moving from x would empty the mask too.
  if (&mask_values == &a) return mask(static_cast<const BasicTensor<T>&>(a), mask_values);
  const BasicTensor<T> consumed = std::move(a);  // the caller's handle is gone either way
  const BasicTensor<T> m = mask_values.requires_grad() ? mask_values.detach() : mask_values;
  // In place only where the result has a's shape and the mask is a's shape
  // or repeats in whole blocks of it (a flat layout); otherwise as mask().
  const FlatLayout layout = flat_layout(consumed, m);
  xt::xarray<T> out = empty_array<T>();
  if (!layout.valid || layout.a_repeats || !detail::take_unshared_value(consumed, out)) {
    return mask(consumed, mask_values);
  }
  const T* pm = m.data();
  T* po = out.data();
  for_flat(layout, out.size(), [&](std::size_t off, std::size_t len) {
    auto o = flat(po, off, len);
    xt::noalias(o) *= flat(pm, layout.b_repeats ? 0 : off, len);
  });
  // Reads only the mask: a's value is gone (the node keeps its shape).
  return record_op<T>(
      "mask", std::move(out), requires_grad_any(consumed), [consumed, m, layout](detail::OutputGradient<T>& g) {
        // g stands in for the operands the formula does not read.
        const T* pg = g.get().data();
        write_flat_gradient(consumed, g, true, layout, pg, m.data(), pg, [](const auto& d) { return d.g * d.b; });
      });
}

#define XGRAD_INSTANTIATE(T)                                                                          \
  template BasicTensor<T> add(const BasicTensor<T>&, const BasicTensor<T>&);                          \
  template BasicTensor<T> sub(const BasicTensor<T>&, const BasicTensor<T>&);                          \
  template BasicTensor<T> mul(const BasicTensor<T>&, const BasicTensor<T>&);                          \
  template BasicTensor<T> div(const BasicTensor<T>&, const BasicTensor<T>&);                          \
  template BasicTensor<T> add_scalar(const BasicTensor<T>&, T);                                       \
  template BasicTensor<T> rsub_scalar(T, const BasicTensor<T>&);                                      \
  template BasicTensor<T> mul_scalar(const BasicTensor<T>&, T);                                       \
  template BasicTensor<T> rdiv_scalar(T, const BasicTensor<T>&);                                      \
  template BasicTensor<T> neg(const BasicTensor<T>&);                                                 \
  template BasicTensor<T> exp(const BasicTensor<T>&);                                                 \
  template BasicTensor<T> log(const BasicTensor<T>&);                                                 \
  template BasicTensor<T> sqrt(const BasicTensor<T>&);                                                \
  template BasicTensor<T> pow(const BasicTensor<T>&, T);                                              \
  template BasicTensor<T> abs(const BasicTensor<T>&);                                                 \
  template BasicTensor<T> sigmoid(const BasicTensor<T>&);                                             \
  template BasicTensor<T> tanh(const BasicTensor<T>&);                                                \
  template BasicTensor<T> relu(const BasicTensor<T>&);                                                \
  template BasicTensor<T> softplus(const BasicTensor<T>&);                                            \
  template BasicTensor<T> clamp(const BasicTensor<T>&, T, T);                                         \
  template BasicTensor<T> sin(const BasicTensor<T>&);                                                 \
  template BasicTensor<T> cos(const BasicTensor<T>&);                                                 \
  template BasicTensor<T> erf(const BasicTensor<T>&);                                                 \
  template BasicTensor<T> gelu(const BasicTensor<T>&);                                                \
  template BasicTensor<T> silu(const BasicTensor<T>&);                                                \
  template BasicTensor<T> leaky_relu(const BasicTensor<T>&, T);                                       \
  template BasicTensor<T> elu(const BasicTensor<T>&, T);                                              \
  template BasicTensor<T> maximum(const BasicTensor<T>&, const BasicTensor<T>&);                      \
  template BasicTensor<T> minimum(const BasicTensor<T>&, const BasicTensor<T>&);                      \
  template BasicTensor<T> where(const BasicTensor<T>&, const BasicTensor<T>&, const BasicTensor<T>&); \
  template BasicTensor<T> mask(const BasicTensor<T>&, const BasicTensor<T>&);                         \
  template BasicTensor<T> mask(BasicTensor<T>&&, const BasicTensor<T>&);                              \
  template BasicTensor<T> masked_fill(const BasicTensor<T>&, const xt::xarray<bool>&, T);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad
