#include "xgrad/nn/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace xgrad::nn {

template <class T>
StepLR<T>::StepLR(Optimizer<T>& optimizer, std::size_t step_size, double gamma)
    : optimizer_(optimizer), step_size_(step_size), gamma_(gamma), initial_lr_(optimizer.lr()) {
  if (step_size == 0) throw std::invalid_argument("StepLR: step_size must be positive");
  if (!(gamma > 0)) throw std::invalid_argument("StepLR: gamma must be positive");
}

template <class T>
void StepLR<T>::step() {
  set_epoch(epoch_ + 1);
}

template <class T>
void StepLR<T>::set_epoch(std::size_t epoch) {
  epoch_ = epoch;
  optimizer_.set_lr(initial_lr_ * std::pow(gamma_, static_cast<double>(epoch_ / step_size_)));
}

template <class T>
ReduceLROnPlateau<T>::ReduceLROnPlateau(Optimizer<T>& optimizer, PlateauOptions options)
    : optimizer_(optimizer),
      options_(options),
      best_(options.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()) {
  if (!(options.factor > 0 && options.factor < 1)) {
    throw std::invalid_argument("ReduceLROnPlateau: factor must be in (0, 1)");
  }
}

template <class T>
bool ReduceLROnPlateau<T>::step(double metric) {
  if (std::isnan(metric)) throw std::invalid_argument("ReduceLROnPlateau: the monitored metric is NaN");
  const bool better =
      options_.maximize ? metric > best_ * (1.0 + options_.threshold) : metric < best_ * (1.0 - options_.threshold);
  if (better) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > options_.patience) {
    const double old_lr = optimizer_.lr();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    cooldown_left_ = options_.cooldown;
    bad_epochs_ = 0;
    if (old_lr - new_lr > options_.eps) {
      optimizer_.set_lr(new_lr);
      return true;
    }
  }
  return false;
}

template class StepLR<float>;
template class StepLR<double>;
template class ReduceLROnPlateau<float>;
template class ReduceLROnPlateau<double>;

}  // namespace xgrad::nn
