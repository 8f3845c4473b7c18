// Reductions: each forward sits next to its derivative rule. Axis-wise ops
// view a contiguous row-major tensor as (outer, n, inner), with n the
// reduced axis, and loop over it directly.
#include "xgrad/autograd/reduction.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/shape_ops.hpp"

namespace xgrad {

namespace {

Shape reduced_shape(const Shape& shape, const std::vector<bool>& reduced, bool keepdims) {
  Shape out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (!reduced[i])
      out.push_back(shape[i]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

std::vector<bool> axes_mask(const char* op, const Axes& axes, std::size_t rank) {
  std::vector<bool> mask(rank, false);
  for (auto ax : axes) {
    const std::size_t a = normalize_axis(op, ax, rank);
    if (mask[a]) throw_op_error(op, "axis " + std::to_string(ax) + " is repeated");
    mask[a] = true;
  }
  return mask;
}

// The number of elements each output element of a reduction over `mask`
// gathers; throws if it is 0 (a mean or variance of nothing).
std::size_t reduced_count(const char* op, const Shape& shape, const std::vector<bool>& mask) {
  std::size_t count = 1;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) count *= shape[i];
  if (count == 0) throw_op_error(op, "reduced axes are empty");
  return count;
}

Shape drop_axis(const Shape& shape, std::size_t axis, bool keepdims) {
  Shape s = shape;
  if (keepdims)
    s[axis] = 1;
  else
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(axis));
  return s;
}

// Broadcasts g (shape of the reduction with keepdims) back over a's shape,
// scaled, into a's gradient.
template <class T>
void accumulate_broadcast_back(const BasicTensor<T>& a, const xt::xarray<T>& g, const Shape& keep_shape, T scale) {
  xt::xarray<T> gk = g;
  gk.reshape(keep_shape);
  accumulate_grad(a, xt::broadcast(gk * scale, a.value().shape()));
}

template <class T, class S>
xt::xarray<T> filled(const S& shape, T v) {
  xt::xarray<T> out = xt::empty<T>(shape);
  out.fill(v);
  return out;
}

// Sum of all elements, accumulated in double for accuracy.
template <class T>
double sum_all(const BasicTensor<T>& a) {
  const T* x = a.data();
  double total = 0.0;
  for (std::size_t i = 0, n = a.size(); i < n; ++i) total += x[i];
  return total;
}

}  // namespace

template <class T>
BasicTensor<T> sum(const BasicTensor<T>& a) {
  xt::xarray<T> out = xt::empty<T>(Shape{});
  out() = static_cast<T>(sum_all(a));
  return record_op<T>("sum", std::move(out), requires_grad_any(a),
                      [a](const xt::xarray<T>& g) { accumulate_grad(a, filled<T>(a.value().shape(), g())); });
}

template <class T>
BasicTensor<T> sum(const BasicTensor<T>& a, const Axes& axes, bool keepdims) {
  const Shape shape = a.shape();
  const auto mask = axes_mask("sum", axes, shape.size());
  const Shape keep = reduced_shape(shape, mask, true);
  xt::xarray<T> out = sum_to_shape(a.value(), keep);
  out.reshape(reduced_shape(shape, mask, keepdims));
  return record_op<T>("sum", std::move(out), requires_grad_any(a),
                      [a, keep](const xt::xarray<T>& g) { accumulate_broadcast_back(a, g, keep, T(1)); });
}

template <class T>
BasicTensor<T> mean(const BasicTensor<T>& a) {
  if (a.size() == 0) throw_op_error("mean", "tensor is empty");
  const T scale = T(1) / static_cast<T>(a.size());
  xt::xarray<T> out = xt::empty<T>(Shape{});
  out() = static_cast<T>(sum_all(a) * scale);
  return record_op<T>("mean", std::move(out), requires_grad_any(a), [a, scale](const xt::xarray<T>& g) {
    accumulate_grad(a, filled<T>(a.value().shape(), g() * scale));
  });
}

template <class T>
BasicTensor<T> mean(const BasicTensor<T>& a, const Axes& axes, bool keepdims) {
  const Shape shape = a.shape();
  const auto mask = axes_mask("mean", axes, shape.size());
  const std::size_t count = reduced_count("mean", shape, mask);
  const T scale = T(1) / static_cast<T>(count);
  const Shape keep = reduced_shape(shape, mask, true);
  xt::xarray<T> out = sum_to_shape(a.value(), keep);
  out *= scale;
  out.reshape(reduced_shape(shape, mask, keepdims));
  return record_op<T>("mean", std::move(out), requires_grad_any(a),
                      [a, keep, scale](const xt::xarray<T>& g) { accumulate_broadcast_back(a, g, keep, scale); });
}

template <class T>
BasicTensor<T> max(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("max", axis, shape.size());
  const AxisSplit s = split_at(shape, ax);
  if (s.n == 0) throw_op_error("max", "cannot reduce an empty axis");
  xt::xarray<T> out = xt::empty<T>(drop_axis(shape, ax, keepdims));
  std::vector<std::size_t> argmax(s.outer * s.inner);
  const T* x = a.data();
  T* y = out.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const T* line = x + o * s.n * s.inner + i;
      std::size_t best = 0;
      for (std::size_t k = 1; k < s.n; ++k)
        if (line[k * s.inner] > line[best * s.inner] || std::isnan(line[k * s.inner])) {
          best = k;
          if (std::isnan(line[k * s.inner])) break;
        }
      argmax[o * s.inner + i] = best;
      y[o * s.inner + i] = line[best * s.inner];
    }
  return record_op<T>("max", std::move(out), requires_grad_any(a),
                      [a, s, argmax = std::move(argmax)](const xt::xarray<T>& g) {
                        xt::xarray<T> ga = xt::zeros<T>(a.value().shape());
                        for (std::size_t o = 0; o < s.outer; ++o)
                          for (std::size_t i = 0; i < s.inner; ++i)
                            ga.data()[(o * s.n + argmax[o * s.inner + i]) * s.inner + i] = g.data()[o * s.inner + i];
                        accumulate_grad(a, std::move(ga));
                      });
}

template <class T>
BasicTensor<T> logsumexp(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("logsumexp", axis, shape.size());
  const AxisSplit s = split_at(shape, ax);
  xt::xarray<T> out = xt::empty<T>(drop_axis(shape, ax, keepdims));
  const T* x = a.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const T* line = x + o * s.n * s.inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (std::size_t k = 0; k < s.n; ++k) m = std::max(m, line[k * s.inner]);
      const T shift = std::isfinite(m) ? m : T(0);
      T total = 0;
      for (std::size_t k = 0; k < s.n; ++k) total += std::exp(line[k * s.inner] - shift);
      out.data()[o * s.inner + i] = std::log(total) + shift;
    }
  // d lse / d x_k = exp(x_k - lse) = softmax_k.
  return record_op<T>("logsumexp", std::move(out), requires_grad_any(a),
                      [a, s](const xt::xarray<T>& g, const xt::xarray<T>& out) {
                        xt::xarray<T> ga = xt::empty<T>(a.value().shape());
                        const T* x = a.data();
                        for (std::size_t o = 0; o < s.outer; ++o)
                          for (std::size_t i = 0; i < s.inner; ++i) {
                            const T lse = out.data()[o * s.inner + i];
                            const T go = g.data()[o * s.inner + i];
                            for (std::size_t k = 0; k < s.n; ++k) {
                              const std::size_t idx = (o * s.n + k) * s.inner + i;
                              ga.data()[idx] = go * std::exp(x[idx] - lse);
                            }
                          }
                        accumulate_grad(a, std::move(ga));
                      });
}

namespace {
// Writes log_softmax (log_output true) or softmax of each line.
template <class T>
void softmax_lines(const T* x, T* y, const AxisSplit& s, bool log_output) {
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const std::size_t base = o * s.n * s.inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (std::size_t k = 0; k < s.n; ++k) m = std::max(m, x[base + k * s.inner]);
      T total = 0;
      for (std::size_t k = 0; k < s.n; ++k) {
        const T e = std::exp(x[base + k * s.inner] - m);
        if (!log_output) y[base + k * s.inner] = e;
        total += e;
      }
      if (log_output) {
        // (x - m) - log(total): subtracting the large max first keeps the
        // small differences exact, as PyTorch does.
        const T log_total = std::log(total);
        for (std::size_t k = 0; k < s.n; ++k) y[base + k * s.inner] = (x[base + k * s.inner] - m) - log_total;
      } else {
        const T inv = T(1) / total;
        for (std::size_t k = 0; k < s.n; ++k) y[base + k * s.inner] *= inv;
      }
    }
}
}  // namespace

template <class T>
BasicTensor<T> softmax(const BasicTensor<T>& a, std::ptrdiff_t axis) {
  const Shape shape = a.shape();
  const AxisSplit s = split_at(shape, normalize_axis("softmax", axis, shape.size()));
  xt::xarray<T> out = xt::empty<T>(shape);
  softmax_lines(a.data(), out.data(), s, false);
  // Saves the output: da_k = out_k (g_k - sum_j g_j out_j).
  return record_op<T>("softmax", std::move(out), requires_grad_any(a),
                      [a, s](const xt::xarray<T>& g, const xt::xarray<T>& out) {
                        xt::xarray<T> ga = xt::empty<T>(out.shape());
                        for (std::size_t o = 0; o < s.outer; ++o)
                          for (std::size_t i = 0; i < s.inner; ++i) {
                            const std::size_t base = o * s.n * s.inner + i;
                            T dot = 0;
                            for (std::size_t k = 0; k < s.n; ++k)
                              dot += g.data()[base + k * s.inner] * out.data()[base + k * s.inner];
                            for (std::size_t k = 0; k < s.n; ++k) {
                              const std::size_t idx = base + k * s.inner;
                              ga.data()[idx] = out.data()[idx] * (g.data()[idx] - dot);
                            }
                          }
                        accumulate_grad(a, std::move(ga));
                      });
}

template <class T>
BasicTensor<T> log_softmax(const BasicTensor<T>& a, std::ptrdiff_t axis) {
  const Shape shape = a.shape();
  const AxisSplit s = split_at(shape, normalize_axis("log_softmax", axis, shape.size()));
  xt::xarray<T> out = xt::empty<T>(shape);
  softmax_lines(a.data(), out.data(), s, true);
  // Saves the output: da_k = g_k - exp(out_k) sum_j g_j.
  return record_op<T>("log_softmax", std::move(out), requires_grad_any(a),
                      [a, s](const xt::xarray<T>& g, const xt::xarray<T>& out) {
                        xt::xarray<T> ga = xt::empty<T>(out.shape());
                        for (std::size_t o = 0; o < s.outer; ++o)
                          for (std::size_t i = 0; i < s.inner; ++i) {
                            const std::size_t base = o * s.n * s.inner + i;
                            T total = 0;
                            for (std::size_t k = 0; k < s.n; ++k) total += g.data()[base + k * s.inner];
                            for (std::size_t k = 0; k < s.n; ++k) {
                              const std::size_t idx = base + k * s.inner;
                              ga.data()[idx] = g.data()[idx] - std::exp(out.data()[idx]) * total;
                            }
                          }
                        accumulate_grad(a, std::move(ga));
                      });
}

namespace {
// The index of the first largest (Better = greater) or smallest (less)
// element of each line along `axis`; NaN counts as the extreme, as in torch.
template <class T, class Better>
xt::xarray<std::int64_t> arg_extreme(const char* op, const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims,
                                     Better better) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis(op, axis, shape.size());
  const AxisSplit s = split_at(shape, ax);
  if (s.n == 0) throw_op_error(op, "cannot reduce an empty axis");
  xt::xarray<std::int64_t> out = xt::empty<std::int64_t>(drop_axis(shape, ax, keepdims));
  const T* x = a.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const T* line = x + o * s.n * s.inner + i;
      std::size_t best = 0;
      for (std::size_t k = 1; k < s.n && !std::isnan(line[best * s.inner]); ++k)
        if (better(line[k * s.inner], line[best * s.inner]) || std::isnan(line[k * s.inner])) best = k;
      out.data()[o * s.inner + i] = static_cast<std::int64_t>(best);
    }
  return out;
}
}  // namespace

template <class T>
xt::xarray<std::int64_t> argmax(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims) {
  return arg_extreme("argmax", a, axis, keepdims, [](T x, T best) { return x > best; });
}
template <class T>
xt::xarray<std::int64_t> argmin(const BasicTensor<T>& a, std::ptrdiff_t axis, bool keepdims) {
  return arg_extreme("argmin", a, axis, keepdims, [](T x, T best) { return x < best; });
}

template <class T>
std::pair<BasicTensor<T>, xt::xarray<std::int64_t>> topk(const BasicTensor<T>& a, std::size_t k, std::ptrdiff_t axis,
                                                         bool largest) {
  const Shape shape = a.shape();
  const std::size_t ax = normalize_axis("topk", axis, shape.size());
  const AxisSplit s = split_at(shape, ax);
  if (k > s.n) {
    throw_op_error("topk", "k = " + std::to_string(k) + " exceeds the length " + std::to_string(s.n) + " of axis " +
                               std::to_string(ax));
  }
  Shape out_shape = shape;
  out_shape[ax] = k;
  xt::xarray<std::int64_t> indices = xt::empty<std::int64_t>(out_shape);
  std::vector<std::size_t> order(s.n);
  const T* x = a.data();
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) {
      const T* line = x + o * s.n * s.inner + i;
      std::iota(order.begin(), order.end(), std::size_t(0));
      // Sorted, ties by position (stable); NaN counts as the largest, as in torch.
      auto greater = [](T u, T v) { return std::isnan(v) ? false : std::isnan(u) || u > v; };
      auto less = [](T u, T v) { return std::isnan(u) ? false : std::isnan(v) || u < v; };
      auto before = [&](std::size_t p, std::size_t q) {
        const T u = line[p * s.inner], v = line[q * s.inner];
        return largest ? greater(u, v) : less(u, v);
      };
      std::stable_sort(order.begin(), order.end(), before);
      for (std::size_t j = 0; j < k; ++j)
        indices.data()[(o * k + j) * s.inner + i] = static_cast<std::int64_t>(order[j]);
    }
  // The values are a gather: their gradient scatters back to the chosen elements.
  return {gather(a, static_cast<std::ptrdiff_t>(ax), indices), indices};
}

template <class T>
BasicTensor<T> cumsum(const BasicTensor<T>& a, std::ptrdiff_t axis) {
  const Shape shape = a.shape();
  const AxisSplit s = split_at(shape, normalize_axis("cumsum", axis, shape.size()));
  // out[k] = sum_{j <= k} a[j] along the axis; line by line over (outer, n, inner).
  auto running_sum = [s](const T* in, T* out, bool reverse) {
    for (std::size_t o = 0; o < s.outer; ++o)
      for (std::size_t i = 0; i < s.inner; ++i) {
        T total = T(0);
        for (std::size_t step = 0; step < s.n; ++step) {
          const std::size_t k = reverse ? s.n - 1 - step : step;
          const std::size_t idx = (o * s.n + k) * s.inner + i;
          total += in[idx];
          out[idx] = total;
        }
      }
  };
  xt::xarray<T> out = xt::empty<T>(shape);
  running_sum(a.data(), out.data(), false);
  // da[j] = sum_{k >= j} g[k]: the running sum taken from the end.
  return record_op<T>("cumsum", std::move(out), requires_grad_any(a), [a, running_sum](const xt::xarray<T>& g) {
    xt::xarray<T> ga = xt::empty<T>(g.shape());
    running_sum(g.data(), ga.data(), true);
    accumulate_grad(a, std::move(ga));
  });
}

template <class T>
BasicTensor<T> var(const BasicTensor<T>& a, const Axes& axes, bool unbiased, bool keepdims) {
  const Shape shape = a.shape();
  const std::size_t count = reduced_count("var", shape, axes_mask("var", axes, shape.size()));
  // Composed from differentiable ops: the tape derives the gradient.
  const BasicTensor<T> centered = a - mean(a, axes, true);
  const BasicTensor<T> mean_square = mean(centered * centered, axes, keepdims);
  if (!unbiased) return mean_square;
  // count - 1 = 0 gives inf/NaN, as torch.var does for one element.
  return mean_square * (static_cast<T>(count) / static_cast<T>(count - 1));
}
template <class T>
BasicTensor<T> stddev(const BasicTensor<T>& a, const Axes& axes, bool unbiased, bool keepdims) {
  return sqrt(var(a, axes, unbiased, keepdims));
}

template <class T>
BasicTensor<T> norm(const BasicTensor<T>& a, const Axes& axes, bool keepdims) {
  const Shape shape = a.shape();
  Axes all;
  for (std::size_t i = 0; i < shape.size(); ++i) all.push_back(static_cast<std::ptrdiff_t>(i));
  const auto mask = axes_mask("norm", axes.empty() ? all : axes, shape.size());
  const Shape keep = reduced_shape(shape, mask, true);
  xt::xarray<T> out = sum_to_shape(xt::xarray<T>(a.value() * a.value()), keep);
  out = xt::sqrt(out);
  xt::xarray<T> norms = out;  // keepdims shape, for the rule
  out.reshape(reduced_shape(shape, mask, keepdims));
  // da = g a / |a|, and 0 where the norm is 0 (torch's subgradient).
  return record_op<T>("norm", std::move(out), requires_grad_any(a), [a, keep, norms](const xt::xarray<T>& g) {
    xt::xarray<T> gk = g;
    gk.reshape(keep);
    accumulate_grad(a, xt::where(xt::broadcast(norms, a.value().shape()) > T(0),
                                 xt::broadcast(gk / norms, a.value().shape()) * a.value(), T(0)));
  });
}

#define XGRAD_INSTANTIATE(T)                                                                            \
  template BasicTensor<T> sum(const BasicTensor<T>&);                                                   \
  template BasicTensor<T> sum(const BasicTensor<T>&, const Axes&, bool);                                \
  template BasicTensor<T> mean(const BasicTensor<T>&);                                                  \
  template BasicTensor<T> mean(const BasicTensor<T>&, const Axes&, bool);                               \
  template BasicTensor<T> max(const BasicTensor<T>&, std::ptrdiff_t, bool);                             \
  template BasicTensor<T> logsumexp(const BasicTensor<T>&, std::ptrdiff_t, bool);                       \
  template BasicTensor<T> softmax(const BasicTensor<T>&, std::ptrdiff_t);                               \
  template BasicTensor<T> log_softmax(const BasicTensor<T>&, std::ptrdiff_t);                           \
  template xt::xarray<std::int64_t> argmax(const BasicTensor<T>&, std::ptrdiff_t, bool);                \
  template xt::xarray<std::int64_t> argmin(const BasicTensor<T>&, std::ptrdiff_t, bool);                \
  template BasicTensor<T> cumsum(const BasicTensor<T>&, std::ptrdiff_t);                                \
  template BasicTensor<T> var(const BasicTensor<T>&, const Axes&, bool, bool);                          \
  template BasicTensor<T> stddev(const BasicTensor<T>&, const Axes&, bool, bool);                       \
  template BasicTensor<T> norm(const BasicTensor<T>&, const Axes&, bool);                               \
  template std::pair<BasicTensor<T>, xt::xarray<std::int64_t>> topk(const BasicTensor<T>&, std::size_t, \
                                                                    std::ptrdiff_t, bool);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad
