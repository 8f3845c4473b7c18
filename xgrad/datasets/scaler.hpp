#pragma once
// Feature scaling with scikit-learn's semantics, per feature = last axis.
//
// Input layout: (N,) is one feature of N samples; (..., F) has F features and
// every leading axis counts as samples (so a (S, T, F) window tensor is scaled
// per feature over all samples and steps). Statistics are computed in double.
// fit on the training part only, then transform train and test with it; the
// inverse maps model outputs back to the original units.

#include <cstddef>
#include <vector>

// xstorage completes xt::uvector, which the xt::xarray alias needs even in declarations.
#include <xtensor/xstorage.hpp>
#include <xtensor/xtensor_forward.hpp>

namespace xgrad::data {

// Maps each feature linearly so that its fitted [min, max] becomes
// [range_min, range_max] (sklearn MinMaxScaler). A constant feature gets
// scale 1 (it maps to range_min), as sklearn does.
class MinMaxScaler {
 public:
  // Throws std::invalid_argument unless range_min < range_max.
  explicit MinMaxScaler(double range_min = 0.0, double range_max = 1.0);

  // Learns per-feature min and max from x, shape (N,) or (..., F) with at
  // least one sample. Refitting replaces the previous statistics.
  void fit(const xt::xarray<float>& x);
  // x * scale + offset per feature; same shape as x. Throws std::logic_error
  // when unfitted, std::invalid_argument when x's feature count differs from fit's.
  xt::xarray<float> transform(const xt::xarray<float>& x) const;
  // (x - offset) / scale; the inverse of transform, same shape and errors.
  xt::xarray<float> inverse_transform(const xt::xarray<float>& x) const;
  xt::xarray<float> fit_transform(const xt::xarray<float>& x);

  bool fitted() const { return !scale_.empty(); }
  std::size_t feature_count() const { return scale_.size(); }
  const std::vector<double>& data_min() const { return data_min_; }  // (F,)
  const std::vector<double>& data_max() const { return data_max_; }  // (F,)

 private:
  double range_min_, range_max_;
  std::vector<double> data_min_, data_max_, scale_, offset_;
};

// Standardizes each feature to zero mean and unit variance (sklearn
// StandardScaler: population standard deviation, ddof = 0). A constant
// feature gets scale 1 (it maps to 0).
class StandardScaler {
 public:
  // Learns per-feature mean and standard deviation from x, (N,) or (..., F).
  void fit(const xt::xarray<float>& x);
  // (x - mean) / std per feature; same shape. Errors as MinMaxScaler::transform.
  xt::xarray<float> transform(const xt::xarray<float>& x) const;
  // x * std + mean.
  xt::xarray<float> inverse_transform(const xt::xarray<float>& x) const;
  xt::xarray<float> fit_transform(const xt::xarray<float>& x);

  bool fitted() const { return !scale_.empty(); }
  std::size_t feature_count() const { return scale_.size(); }
  const std::vector<double>& mean() const { return mean_; }    // (F,)
  const std::vector<double>& scale() const { return scale_; }  // (F,) std, 1 for constant features

 private:
  std::vector<double> mean_, scale_;
};

}  // namespace xgrad::data
