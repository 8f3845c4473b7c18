#pragma once
// Metrics a training loop reports per epoch (Keras's metrics): each
// accumulates over the batches of an epoch and gives one figure.
//
//   predictions: what the model returned for a batch, (B, ...);
//   targets:     the batch's float targets, (B, ...) (undefined if none);
//   labels:      the batch's int64 class labels, (B) (empty if none).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::train {

class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;  // the key in the epoch's logs, e.g. "accuracy"
  virtual void reset() = 0;
  // Adds one batch; throws std::invalid_argument naming the metric if the
  // shapes or the kind of target do not fit.
  virtual void update(const Tensor& predictions, const Tensor& targets, const xt::xarray<std::int64_t>& labels) = 0;
  virtual double result() const = 0;  // NaN before any update
  // The sums result() is computed from (counts, sums of errors), so that
  // data-parallel training adds them over the ranks (set_totals with the
  // sums) and every rank reports the figure of the whole data set. A
  // metric without them throws when trained on more than one process.
  virtual std::vector<double> totals() const;
  virtual void set_totals(const std::vector<double>& totals);
};

// Binary classification from probabilities (or logits with from_logits),
// predictions (B) or (B, 1) against 0/1 targets or labels of B elements.
std::shared_ptr<Metric> binary_accuracy(double threshold = 0.5, bool from_logits = false);
// F1 of the positive class, same inputs as binary_accuracy.
std::shared_ptr<Metric> f1_score(double threshold = 0.5, bool from_logits = false);
// Multi-class: argmax of predictions (B, C) against int64 labels (B).
std::shared_ptr<Metric> accuracy();
// Regression: mean squared error and its root over every element.
std::shared_ptr<Metric> mean_squared_error();
std::shared_ptr<Metric> root_mean_squared_error();

}  // namespace xgrad::train
