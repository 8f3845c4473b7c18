// Elementwise ops: each forward sits next to its derivative rule.
#include "autograd/elementwise.hpp"

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "autograd/function.hpp"

namespace xgrad {

namespace {

template <class T>
bool same_shape(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  const auto& sa = a.value().shape();
  const auto& sb = b.value().shape();
  return sa.size() == sb.size() && std::equal(sa.begin(), sa.end(), sb.begin());
}

// Evaluates a lazy expression of the given shape into a fresh array through
// xtensor's linear (SIMD) assignment.
template <class T, class S, class E>
xt::xarray<T> evaluate(const S& shape, const E& expr) {
  xt::xarray<T> out = xt::empty<T>(shape);
  xt::noalias(out) = expr;
  return out;
}

// Binary op with broadcasting. forward(a, b) is an expression; grad_a and
// grad_b map (grad_out, a, b, out) to an expression of the broadcast shape.
template <class T, class Forward, class GradA, class GradB>
BasicTensor<T> binary_op(const char* name, const BasicTensor<T>& a, const BasicTensor<T>& b,
                         Forward forward, GradA grad_a, GradB grad_b) {
  const bool same = same_shape(a, b);
  xt::xarray<T> out;
  if (same) {
    out = evaluate<T>(a.value().shape(), forward(a.value(), b.value()));
  } else {
    const Shape shape = broadcast_shapes(name, a.shape(), b.shape());
    out = evaluate<T>(shape, forward(a.value(), b.value()));
  }
  return record_op<T>(name, std::move(out), requires_grad_any(a, b),
                      [a, b, same, grad_a, grad_b](const xt::xarray<T>& g, const xt::xarray<T>& y) {
                        if (same) {
                          accumulate_grad(a, grad_a(g, a.value(), b.value(), y));
                          accumulate_grad(b, grad_b(g, a.value(), b.value(), y));
                          return;
                        }
                        if (a.requires_grad()) {
                          xt::xarray<T> ga = grad_a(g, a.value(), b.value(), y);
                          accumulate_grad_unbroadcast(a, ga);
                        }
                        if (b.requires_grad()) {
                          xt::xarray<T> gb = grad_b(g, a.value(), b.value(), y);
                          accumulate_grad_unbroadcast(b, gb);
                        }
                      });
}

// Unary op: forward(x) an expression; grad(grad_out, x, out) an expression.
template <class T, class Forward, class Grad>
BasicTensor<T> unary_op(const char* name, const BasicTensor<T>& a, Forward forward, Grad grad) {
  xt::xarray<T> out = evaluate<T>(a.value().shape(), forward(a.value()));
  return record_op<T>(name, std::move(out), requires_grad_any(a),
                      [a, grad](const xt::xarray<T>& g, const xt::xarray<T>& y) {
                        accumulate_grad(a, grad(g, a.value(), y));
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
                          accumulate_grad_unbroadcast(a, ga);
                        }
                        if (b.requires_grad()) {
                          xt::xarray<T> gb = evaluate<T>(shape, xt::where(taken, T(0), g));
                          accumulate_grad_unbroadcast(b, gb);
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
