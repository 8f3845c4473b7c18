#include "xgrad/datasets/sequence.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

xt::xarray<float> sine_wave(std::size_t n, double start, double stop) {
  xt::xarray<float> y = xt::empty<float>(Shape{n});
  if (n == 0) return y;
  // NumPy's linspace: i * step + start, and the endpoint set to `stop` exactly
  // (i * step can round past it).
  const double step = n > 1 ? (stop - start) / static_cast<double>(n - 1) : 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = (i + 1 == n && n > 1) ? stop : static_cast<double>(i) * step + start;
    y(i) = static_cast<float>(std::sin(x));
  }
  return y;
}

std::size_t window_count(std::size_t length, std::size_t window, std::size_t horizon) {
  return length >= window + horizon ? length - window - horizon + 1 : 0;
}

namespace {

// Rank and feature count of a (T,) or (T, F) series, with the checks shared by
// window_inputs and window_targets.
struct SeriesLayout {
  std::size_t steps;
  std::size_t features;
  std::size_t samples;
};

SeriesLayout check_series(const xt::xarray<float>& series, std::size_t window, std::size_t horizon, const char* who) {
  const std::string name(who);
  if (series.dimension() != 1 && series.dimension() != 2) {
    throw std::invalid_argument(name + ": series must be (T,) or (T, F), got shape " +
                                shape_to_string(Shape(series.shape().begin(), series.shape().end())));
  }
  if (window == 0) throw std::invalid_argument(name + ": window must be at least 1");
  if (horizon == 0) throw std::invalid_argument(name + ": horizon must be at least 1");
  SeriesLayout layout{series.shape(0), series.dimension() == 2 ? series.shape(1) : 1, 0};
  layout.samples = window_count(layout.steps, window, horizon);
  if (layout.samples == 0) {
    throw std::invalid_argument(name + ": a series of " + std::to_string(layout.steps) +
                                " steps is too short for window " + std::to_string(window) + " and horizon " +
                                std::to_string(horizon) + " (needs at least " + std::to_string(window + horizon) + ")");
  }
  return layout;
}

}  // namespace

xt::xarray<float> window_inputs(const xt::xarray<float>& series, std::size_t window, std::size_t horizon) {
  const SeriesLayout l = check_series(series, window, horizon, "window_inputs");
  xt::xarray<float> out = xt::empty<float>(Shape{l.samples, window, l.features});
  // Row-major series: the window of sample s is one contiguous block.
  const float* src = series.data();
  float* dst = out.data();
  const std::size_t block = window * l.features;
  for (std::size_t s = 0; s < l.samples; ++s) {
    std::copy_n(src + s * l.features, block, dst + s * block);
  }
  return out;
}

xt::xarray<float> window_targets(const xt::xarray<float>& series, std::size_t window, std::size_t horizon) {
  const SeriesLayout l = check_series(series, window, horizon, "window_targets");
  xt::xarray<float> out = xt::empty<float>(Shape{l.samples, l.features});
  const float* src = series.data();
  for (std::size_t s = 0; s < l.samples; ++s) {
    std::copy_n(src + (s + window - 1 + horizon) * l.features, l.features, out.data() + s * l.features);
  }
  return out;
}

}  // namespace xgrad::data
