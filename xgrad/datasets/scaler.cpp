#include "xgrad/datasets/scaler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

namespace {

std::size_t feature_axis_size(const xt::xarray<float>& x) { return x.dimension() <= 1 ? 1 : x.shape().back(); }

std::string shape_of(const xt::xarray<float>& x) { return shape_to_string(Shape(x.shape().begin(), x.shape().end())); }

// Checks x before fit: a 0-d array or no samples cannot be fitted.
std::size_t check_fit_input(const xt::xarray<float>& x, const char* who) {
  if (x.dimension() == 0) {
    throw std::invalid_argument(std::string(who) + ".fit: expected (N,) or (..., F), got a scalar");
  }
  const std::size_t features = feature_axis_size(x);
  if (features == 0 || x.size() == 0) {
    throw std::invalid_argument(std::string(who) + ".fit: no samples in data of shape " + shape_of(x));
  }
  return features;
}

// The two per-feature affine maps every scaler needs.
enum class Affine { multiply_add, subtract_divide };

// Applies x * scale[f] + offset[f] (multiply_add) or (x - offset[f]) / scale[f]
// (subtract_divide) per feature f, after checking that the scaler is fitted
// and that x has the fitted feature count.
xt::xarray<float> apply_affine(const xt::xarray<float>& x, const std::vector<double>& scale,
                               const std::vector<double>& offset, Affine map, const char* who, const char* method) {
  const std::string name = std::string(who) + "." + method;
  if (scale.empty()) {
    throw std::logic_error(name + ": the scaler is not fitted; call fit or fit_transform first");
  }
  if (x.dimension() == 0) throw std::invalid_argument(name + ": expected (N,) or (..., F), got a scalar");
  const std::size_t features = feature_axis_size(x);
  if (features != scale.size()) {
    throw std::invalid_argument(name + ": the scaler was fitted on " + std::to_string(scale.size()) +
                                " feature(s) but the data of shape " + shape_of(x) + " has " +
                                std::to_string(features));
  }
  xt::xarray<float> out = x;
  float* v = out.data();
  for (std::size_t i = 0, n = out.size(); i < n; ++i) {
    const std::size_t f = i % features;
    const double d = v[i];
    v[i] = static_cast<float>(map == Affine::subtract_divide ? (d - offset[f]) / scale[f] : d * scale[f] + offset[f]);
  }
  return out;
}

}  // namespace

MinMaxScaler::MinMaxScaler(double range_min, double range_max) : range_min_(range_min), range_max_(range_max) {
  if (!(range_min < range_max)) {
    throw std::invalid_argument("MinMaxScaler: the feature range minimum " + std::to_string(range_min) +
                                " must be below the maximum " + std::to_string(range_max));
  }
}

void MinMaxScaler::fit(const xt::xarray<float>& x) {
  const std::size_t features = check_fit_input(x, "MinMaxScaler");
  std::vector<double> lo(features, std::numeric_limits<double>::infinity());
  std::vector<double> hi(features, -std::numeric_limits<double>::infinity());
  const float* v = x.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) {
    const std::size_t f = i % features;
    lo[f] = std::min(lo[f], static_cast<double>(v[i]));
    hi[f] = std::max(hi[f], static_cast<double>(v[i]));
  }
  std::vector<double> scale(features), offset(features);
  for (std::size_t f = 0; f < features; ++f) {
    const double range = hi[f] - lo[f];
    // sklearn's _handle_zeros_in_scale: a zero data range divides by 1.
    scale[f] = (range_max_ - range_min_) / (range == 0.0 ? 1.0 : range);
    offset[f] = range_min_ - lo[f] * scale[f];
  }
  data_min_ = std::move(lo);
  data_max_ = std::move(hi);
  scale_ = std::move(scale);
  offset_ = std::move(offset);
}

xt::xarray<float> MinMaxScaler::transform(const xt::xarray<float>& x) const {
  return apply_affine(x, scale_, offset_, Affine::multiply_add, "MinMaxScaler", "transform");
}

xt::xarray<float> MinMaxScaler::inverse_transform(const xt::xarray<float>& x) const {
  return apply_affine(x, scale_, offset_, Affine::subtract_divide, "MinMaxScaler", "inverse_transform");
}

xt::xarray<float> MinMaxScaler::fit_transform(const xt::xarray<float>& x) {
  fit(x);
  return transform(x);
}

void StandardScaler::fit(const xt::xarray<float>& x) {
  const std::size_t features = check_fit_input(x, "StandardScaler");
  const std::size_t samples = x.size() / features;
  std::vector<double> mean(features, 0.0), sq(features, 0.0);
  const float* v = x.data();
  for (std::size_t i = 0, n = x.size(); i < n; ++i) mean[i % features] += v[i];
  for (auto& m : mean) m /= static_cast<double>(samples);
  // Two passes (mean, then squared deviations) for accuracy on large offsets.
  for (std::size_t i = 0, n = x.size(); i < n; ++i) {
    const double d = v[i] - mean[i % features];
    sq[i % features] += d * d;
  }
  std::vector<double> scale(features);
  for (std::size_t f = 0; f < features; ++f) {
    const double sd = std::sqrt(sq[f] / static_cast<double>(samples));
    scale[f] = sd == 0.0 ? 1.0 : sd;
  }
  mean_ = std::move(mean);
  scale_ = std::move(scale);
}

xt::xarray<float> StandardScaler::transform(const xt::xarray<float>& x) const {
  return apply_affine(x, scale_, mean_, Affine::subtract_divide, "StandardScaler", "transform");
}

xt::xarray<float> StandardScaler::inverse_transform(const xt::xarray<float>& x) const {
  return apply_affine(x, scale_, mean_, Affine::multiply_add, "StandardScaler", "inverse_transform");
}

xt::xarray<float> StandardScaler::fit_transform(const xt::xarray<float>& x) {
  fit(x);
  return transform(x);
}

}  // namespace xgrad::data
