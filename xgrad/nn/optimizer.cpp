#include "xgrad/nn/optimizer.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <cmath>
#include <stdexcept>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "xgrad/autograd/anomaly.hpp"          // all_finite
#include "xgrad/autograd/detail/parallel.hpp"  // for_each_piece

namespace xgrad::nn {

namespace {
void check_non_negative(const std::string& who, const char* what, double v) {
  if (!(v >= 0.0) || !std::isfinite(v)) {
    throw std::invalid_argument(who + ": " + what + " must be a finite non-negative number, got " + std::to_string(v));
  }
}
}  // namespace

template <class T>
Optimizer<T>::Optimizer(std::vector<BasicTensor<T>> parameters, double lr)
    : parameters_(std::move(parameters)), lr_(lr), steps_(parameters_.size(), 0) {
  check_non_negative("optimizer", "lr", lr);
  if (parameters_.empty()) throw std::invalid_argument("optimizer: got an empty parameter list");
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (!parameters_[i].defined() || !parameters_[i].requires_grad()) {
      throw std::invalid_argument("optimizer: parameter " + std::to_string(i) + " does not require grad");
    }
  }
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : parameters_) p.zero_grad();
}

template <class T>
void Optimizer<T>::set_lr(double lr) {
  check_non_negative(type_name(), "lr", lr);
  lr_ = lr;
}

template <class T>
BasicTensor<T>& Optimizer<T>::buffer(const std::string& name, std::size_t i) {
  auto& list = buffers_[name];
  if (list.empty()) list.resize(parameters_.size());
  if (!list[i].defined()) list[i] = BasicTensor<T>::zeros(parameters_[i].shape());
  return list[i];
}

template <class T>
bool Optimizer<T>::has_buffer(const std::string& name, std::size_t i) const {
  auto it = buffers_.find(name);
  return it != buffers_.end() && i < it->second.size() && it->second[i].defined();
}

template <class T>
typename Optimizer<T>::State Optimizer<T>::state() const {
  State s;
  s.type = type_name();
  s.scalars = hyperparameters();
  s.scalars["lr"] = lr_;
  for (std::size_t i = 0; i < steps_.size(); ++i)
    s.scalars["step." + std::to_string(i)] = static_cast<double>(steps_[i]);
  for (const auto& [name, list] : buffers_)
    for (std::size_t i = 0; i < list.size(); ++i)
      if (list[i].defined()) s.buffers.emplace_back(std::to_string(i) + "." + name, list[i].detach());
  return s;
}

template <class T>
void Optimizer<T>::load_state(const State& s) {
  const std::string who = type_name();
  if (s.type != who) throw std::invalid_argument(who + ": cannot load the state of a " + s.type + " optimizer");
  std::vector<std::size_t> steps(parameters_.size(), 0);
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    auto it = s.scalars.find("step." + std::to_string(i));
    if (it == s.scalars.end()) {
      throw std::invalid_argument(who + ": saved state has no step count for parameter " + std::to_string(i) +
                                  " (saved for a different parameter list?)");
    }
    // A step count feeds Adam's bias correction 1 - beta^step: a negative,
    // fractional or huge count would turn every weight into NaN on the next
    // step. 2^53 is the largest count a double holds exactly.
    const double step = it->second;
    if (!(std::isfinite(step) && step >= 0 && step <= 9007199254740992.0 && std::trunc(step) == step)) {
      throw std::invalid_argument(who + ": saved step count for parameter " + std::to_string(i) + " is " +
                                  std::to_string(step) + ", expected a non-negative integer");
    }
    steps[i] = static_cast<std::size_t>(step);
  }
  for (const auto& [name, value] : s.scalars) {
    if (!std::isfinite(value)) throw std::invalid_argument(who + ": saved " + name + " is not finite");
  }
  std::map<std::string, std::vector<BasicTensor<T>>> buffers;
  for (const auto& [key, tensor] : s.buffers) {
    const auto dot = key.find('.');
    std::size_t index = 0;
    const char* digits_end = key.data() + (dot == std::string::npos ? key.size() : dot);
    const auto [end, ec] = std::from_chars(key.data(), digits_end, index);
    if (dot == std::string::npos || ec != std::errc() || end != digits_end) {
      throw std::invalid_argument(who + ": malformed buffer name '" + key + "' (expected <parameter index>.<buffer>)");
    }
    if (dot == std::string::npos || index >= parameters_.size()) {
      throw std::invalid_argument(who + ": buffer '" + key + "' does not match the " +
                                  std::to_string(parameters_.size()) + " parameters");
    }
    if (tensor.shape() != parameters_[index].shape()) {
      throw std::invalid_argument(who + ": buffer '" + key + "' has shape " + shape_to_string(tensor.shape()) +
                                  " but parameter " + std::to_string(index) + " has shape " +
                                  shape_to_string(parameters_[index].shape()));
    }
    if (!all_finite(tensor.value())) {
      throw std::invalid_argument(who + ": buffer '" + key + "' holds NaN or inf");
    }
    auto& list = buffers[key.substr(dot + 1)];
    if (list.empty()) list.resize(parameters_.size());
    if (list[index].defined()) throw std::invalid_argument(who + ": buffer '" + key + "' appears twice");
    list[index] = tensor.detach();
  }
  auto lr = s.scalars.find("lr");
  if (lr != s.scalars.end()) check_non_negative(who, "saved lr", lr->second);
  // Everything is checked: from here on nothing throws, so a failed load
  // leaves the optimizer as it was.
  if (lr != s.scalars.end()) lr_ = lr->second;
  steps_ = std::move(steps);
  buffers_ = std::move(buffers);
}

// SGD: g = grad + wd p; buf = g (first step) or momentum buf + (1 - dampening) g;
// g = g + momentum buf (Nesterov) or buf; p -= lr g.
template <class T>
SGD<T>::SGD(std::vector<BasicTensor<T>> parameters, SGDOptions o)
    : Optimizer<T>(std::move(parameters), o.lr), options(o) {
  check_non_negative("SGD", "momentum", o.momentum);
  check_non_negative("SGD", "weight_decay", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
    throw std::invalid_argument("SGD: Nesterov momentum requires a momentum and zero dampening");
  }
}

template <class T>
void SGD<T>::step() {
  const T lr = static_cast<T>(this->lr_), wd = static_cast<T>(options.weight_decay);
  const T momentum = static_cast<T>(options.momentum), dampening = static_cast<T>(options.dampening);
  for (std::size_t i = 0; i < this->parameters_.size(); ++i) {
    auto& p = this->parameters_[i];
    if (!p.has_grad()) continue;
    xt::xarray<T> g = p.grad();
    if (wd != T(0)) g += wd * p.value();
    if (momentum != T(0)) {
      const bool first = !this->has_buffer("momentum_buffer", i);
      auto& buf = this->buffer("momentum_buffer", i).mutable_value();
      if (first)
        buf = g;
      else
        buf = momentum * buf + (T(1) - dampening) * g;
      if (options.nesterov)
        g += momentum * buf;
      else
        g = buf;
    }
    xt::noalias(p.mutable_value()) -= lr * g;
    ++this->steps_[i];
  }
}

template <class T>
std::map<std::string, double> SGD<T>::hyperparameters() const {
  return {{"momentum", options.momentum},
          {"dampening", options.dampening},
          {"weight_decay", options.weight_decay},
          {"nesterov", options.nesterov ? 1.0 : 0.0}};
}

// Adam: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
template <class T>
Adam<T>::Adam(std::vector<BasicTensor<T>> parameters, AdamOptions o) : Adam(std::move(parameters), o, false) {}

template <class T>
Adam<T>::Adam(std::vector<BasicTensor<T>> parameters, AdamOptions o, bool decoupled)
    : Optimizer<T>(std::move(parameters), o.lr), options(o), decoupled_(decoupled) {
  check_non_negative(type_name(), "weight_decay", o.weight_decay);
  check_non_negative(type_name(), "eps", o.eps);
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1)) {
    throw std::invalid_argument(type_name() + ": betas must be in [0, 1)");
  }
}

// One pass per chunk of 16K elements (in cache for its three updates),
// chunks on both cores for a large parameter (an embedding table), and no
// copy of the gradient. Same arithmetic, element by element, as the
// tensor-wide form: m, then v, then the parameter.
template <class T>
void Adam<T>::step() {
  const T b1 = static_cast<T>(options.beta1), b2 = static_cast<T>(options.beta2);
  const T wd = static_cast<T>(options.weight_decay), eps = static_cast<T>(options.eps);
  const T decay = static_cast<T>(1.0 - this->lr_ * options.weight_decay);
  for (std::size_t i = 0; i < this->parameters_.size(); ++i) {
    auto& p = this->parameters_[i];
    if (!p.has_grad()) continue;
    const std::size_t t = ++this->steps_[i];
    const double bias1 = 1.0 - std::pow(options.beta1, static_cast<double>(t));
    const double bias2 = 1.0 - std::pow(options.beta2, static_cast<double>(t));
    const T step_size = static_cast<T>(this->lr_ / bias1);
    const T bias2_sqrt = static_cast<T>(std::sqrt(bias2));
    T* value = p.mutable_value().data();
    const T* grad = p.grad().data();
    T* m = this->buffer("exp_avg", i).mutable_value().data();
    T* v = this->buffer("exp_avg_sq", i).mutable_value().data();
    const std::size_t n = p.size();
    constexpr std::size_t kChunk = 16384;
    const bool decoupled = decoupled_;
    parallel::for_each_piece((n + kChunk - 1) / kChunk, n, [&](std::size_t c) {
      const std::size_t off = c * kChunk, len = std::min(kChunk, n - off);
      auto flat = [len, off](auto* data) {
        return xt::adapt(data + off, len, xt::no_ownership(), std::array<std::size_t, 1>{len});
      };
      auto pv = flat(value);
      auto mv = flat(m);
      auto vv = flat(v);
      const auto gv = flat(grad);
      if (decoupled && wd != T(0)) pv *= decay;
      if (!decoupled && wd != T(0)) {
        xt::noalias(mv) = b1 * mv + (T(1) - b1) * (gv + wd * pv);
        xt::noalias(vv) = b2 * vv + (T(1) - b2) * (gv + wd * pv) * (gv + wd * pv);
      } else {
        xt::noalias(mv) = b1 * mv + (T(1) - b1) * gv;
        xt::noalias(vv) = b2 * vv + (T(1) - b2) * gv * gv;
      }
      xt::noalias(pv) -= step_size * mv / (xt::sqrt(vv) / bias2_sqrt + eps);
    });
  }
}

template <class T>
std::map<std::string, double> Adam<T>::hyperparameters() const {
  return {
      {"beta1", options.beta1}, {"beta2", options.beta2}, {"eps", options.eps}, {"weight_decay", options.weight_decay}};
}

template <class T>
AdamW<T>::AdamW(std::vector<BasicTensor<T>> parameters, AdamOptions o) : Adam<T>(std::move(parameters), o, true) {}

// RMSprop: g = grad + wd p; v = alpha v + (1 - alpha) g^2; centered: a =
// alpha a + (1 - alpha) g, denom = sqrt(v - a^2) + eps, else sqrt(v) + eps;
// momentum: buf = momentum buf + g / denom, p -= lr buf; else p -= lr g / denom.
template <class T>
RMSprop<T>::RMSprop(std::vector<BasicTensor<T>> parameters, RMSpropOptions o)
    : Optimizer<T>(std::move(parameters), o.lr), options(o) {
  check_non_negative("RMSprop", "alpha", o.alpha);
  check_non_negative("RMSprop", "eps", o.eps);
  check_non_negative("RMSprop", "momentum", o.momentum);
  check_non_negative("RMSprop", "weight_decay", o.weight_decay);
}

template <class T>
void RMSprop<T>::step() {
  const T lr = static_cast<T>(this->lr_), alpha = static_cast<T>(options.alpha), eps = static_cast<T>(options.eps);
  const T wd = static_cast<T>(options.weight_decay), momentum = static_cast<T>(options.momentum);
  for (std::size_t i = 0; i < this->parameters_.size(); ++i) {
    auto& p = this->parameters_[i];
    if (!p.has_grad()) continue;
    ++this->steps_[i];
    auto& value = p.mutable_value();
    xt::xarray<T> g = p.grad();
    if (wd != T(0)) g += wd * value;
    auto& sq = this->buffer("square_avg", i).mutable_value();
    xt::noalias(sq) = alpha * sq + (T(1) - alpha) * g * g;
    xt::xarray<T> denom;
    if (options.centered) {
      auto& ga = this->buffer("grad_avg", i).mutable_value();
      xt::noalias(ga) = alpha * ga + (T(1) - alpha) * g;
      denom = xt::sqrt(sq - ga * ga) + eps;
    } else {
      denom = xt::sqrt(sq) + eps;
    }
    if (momentum > T(0)) {
      auto& buf = this->buffer("momentum_buffer", i).mutable_value();
      xt::noalias(buf) = momentum * buf + g / denom;
      xt::noalias(value) -= lr * buf;
    } else {
      xt::noalias(value) -= lr * g / denom;
    }
  }
}

template <class T>
std::map<std::string, double> RMSprop<T>::hyperparameters() const {
  return {{"alpha", options.alpha},
          {"eps", options.eps},
          {"weight_decay", options.weight_decay},
          {"momentum", options.momentum},
          {"centered", options.centered ? 1.0 : 0.0}};
}

#define XGRAD_INSTANTIATE(T)   \
  template class Optimizer<T>; \
  template class SGD<T>;       \
  template class Adam<T>;      \
  template class AdamW<T>;     \
  template class RMSprop<T>;
XGRAD_INSTANTIATE(float)
XGRAD_INSTANTIATE(double)
#undef XGRAD_INSTANTIATE

}  // namespace xgrad::nn
