#include "xgrad/nn/loss.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape_ops.hpp"

namespace xgrad::nn {

namespace {

template <class T>
void check_same_shape(const char* loss, const BasicTensor<T>& input, const BasicTensor<T>& target) {
  if (!input.defined() || !target.defined()) throw std::invalid_argument(std::string(loss) + ": undefined tensor");
  if (input.shape() != target.shape()) {
    throw std::invalid_argument(std::string(loss) + ": input shape " + shape_to_string(input.shape()) +
                                " differs from target shape " + shape_to_string(target.shape()));
  }
}

template <class T>
BasicTensor<T> reduce(const char* loss, const BasicTensor<T>& elementwise, Reduction r) {
  BasicTensor<T> out = r == Reduction::Mean ? mean(elementwise) : r == Reduction::Sum ? sum(elementwise) : elementwise;
  for (T v : out.value()) {
    if (std::isnan(v)) {
      throw std::domain_error(std::string(loss) + ": the loss is NaN (the input or target contains NaN or inf)");
    }
  }
  return out;
}

}  // namespace

template <class T>
BasicTensor<T> mse_loss(const BasicTensor<T>& input, const BasicTensor<T>& target, Reduction r) {
  check_same_shape("mse_loss", input, target);
  const BasicTensor<T> diff = input - target;
  return reduce("mse_loss", diff * diff, r);
}

template <class T>
BasicTensor<T> l1_loss(const BasicTensor<T>& input, const BasicTensor<T>& target, Reduction r) {
  check_same_shape("l1_loss", input, target);
  return reduce("l1_loss", abs(input - target), r);
}

template <class T>
BasicTensor<T> binary_cross_entropy(const BasicTensor<T>& p, const BasicTensor<T>& target, Reduction r) {
  check_same_shape("binary_cross_entropy", p, target);
  for (T v : p.value()) {
    if (!(v >= T(0) && v <= T(1))) {
      throw std::invalid_argument("binary_cross_entropy: input must be probabilities in [0, 1], found " +
                                  std::to_string(v) + " (use binary_cross_entropy_with_logits on logits)");
    }
  }
  const T big = std::numeric_limits<T>::max();
  const BasicTensor<T> log_p = clamp(log(p), T(-100), big);
  const BasicTensor<T> log_1mp = clamp(log(T(1) - p), T(-100), big);
  return reduce("binary_cross_entropy", -(target * log_p + (T(1) - target) * log_1mp), r);
}

template <class T>
BasicTensor<T> binary_cross_entropy_with_logits(const BasicTensor<T>& logits, const BasicTensor<T>& target,
                                                Reduction r) {
  check_same_shape("binary_cross_entropy_with_logits", logits, target);
  return reduce("binary_cross_entropy_with_logits", softplus(logits) - logits * target, r);
}

template <class T>
BasicTensor<T> nll_loss(const BasicTensor<T>& log_probs, const xt::xarray<std::int64_t>& targets, Reduction r) {
  if (!log_probs.defined() || log_probs.dim() != 2) {
    throw std::invalid_argument("nll_loss: expected input (N, C), got shape " +
                                (log_probs.defined() ? shape_to_string(log_probs.shape()) : "undefined"));
  }
  const std::size_t n = log_probs.size(0), classes = log_probs.size(1);
  if (targets.dimension() != 1 || targets.size() != n) {
    throw std::invalid_argument("nll_loss: expected " + std::to_string(n) + " class indices, got shape " +
                                shape_to_string(Shape(targets.shape().begin(), targets.shape().end())));
  }
  // Pick log_probs[i, target_i] from the flattened (N*C) view.
  xt::xarray<std::int64_t> flat = xt::xarray<std::int64_t>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t t = targets(i);
    if (t < 0 || static_cast<std::size_t>(t) >= classes) {
      throw std::invalid_argument("nll_loss: target " + std::to_string(t) + " at position " + std::to_string(i) +
                                  " is out of range [0, " + std::to_string(classes) + ")");
    }
    flat(i) = static_cast<std::int64_t>(i * classes) + t;
  }
  return reduce("nll_loss", -index_select(reshape(log_probs, {-1}), flat, 0), r);
}

template <class T>
BasicTensor<T> cross_entropy(const BasicTensor<T>& logits, const xt::xarray<std::int64_t>& targets, Reduction r) {
  if (!logits.defined() || logits.dim() != 2) {
    throw std::invalid_argument("cross_entropy: expected logits (N, C), got shape " +
                                (logits.defined() ? shape_to_string(logits.shape()) : "undefined"));
  }
  try {
    return nll_loss(log_softmax(logits, 1), targets, r);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("cross_entropy: ") + e.what());
  } catch (const std::domain_error& e) {
    throw std::domain_error(std::string("cross_entropy: ") + e.what());
  }
}

#define XGRAD_INSTANTIATE(T)                                                                                         \
  template BasicTensor<T> mse_loss(const BasicTensor<T>&, const BasicTensor<T>&, Reduction);                         \
  template BasicTensor<T> l1_loss(const BasicTensor<T>&, const BasicTensor<T>&, Reduction);                          \
  template BasicTensor<T> binary_cross_entropy(const BasicTensor<T>&, const BasicTensor<T>&, Reduction);             \
  template BasicTensor<T> binary_cross_entropy_with_logits(const BasicTensor<T>&, const BasicTensor<T>&, Reduction); \
  template BasicTensor<T> nll_loss(const BasicTensor<T>&, const xt::xarray<std::int64_t>&, Reduction);               \
  template BasicTensor<T> cross_entropy(const BasicTensor<T>&, const xt::xarray<std::int64_t>&, Reduction);
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad::nn
