#include "xgrad/train/metrics.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "xgrad/autograd/reduction.hpp"

namespace xgrad::train {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_totals(const std::vector<double>& t, std::size_t n) {
  if (t.size() != n) {
    throw std::invalid_argument("Metric::set_totals: expected " + std::to_string(n) + " totals, got " +
                                std::to_string(t.size()));
  }
}

// The 0/1 truth of a binary batch: labels if given, else targets.
double truth_at(const Tensor& targets, const xt::xarray<std::int64_t>& labels, std::size_t i) {
  return labels.size() ? static_cast<double>(labels.data()[i]) : static_cast<double>(targets.data()[i]);
}

void check_binary(const std::string& who, const Tensor& predictions, const Tensor& targets,
                  const xt::xarray<std::int64_t>& labels) {
  const std::size_t n = predictions.size();
  const std::size_t truths = labels.size() ? labels.size() : targets.defined() ? targets.size() : 0;
  if (truths != n || (predictions.dim() == 2 && predictions.shape()[1] != 1) || predictions.dim() > 2) {
    throw std::invalid_argument(who + ": needs predictions (B) or (B, 1) and B targets or labels, got predictions " +
                                shape_to_string(predictions.shape()) + " and " + std::to_string(truths) + " truths");
  }
}

// Counts of a binary epoch: true/false positives and negatives.
class BinaryCounts : public Metric {
 public:
  BinaryCounts(std::string name, double threshold, bool from_logits)
      : name_(std::move(name)),
        // A logit is positive exactly where its probability exceeds 0.5 and so on: compare in logit space.
        cut_(from_logits ? std::log(threshold / (1 - threshold)) : threshold) {}
  std::string name() const override { return name_; }
  void reset() override { tp_ = fp_ = tn_ = fn_ = 0; }
  std::vector<double> totals() const override {
    return {static_cast<double>(tp_), static_cast<double>(fp_), static_cast<double>(tn_), static_cast<double>(fn_)};
  }
  void set_totals(const std::vector<double>& t) override {
    check_totals(t, 4);
    tp_ = static_cast<std::size_t>(t[0]);
    fp_ = static_cast<std::size_t>(t[1]);
    tn_ = static_cast<std::size_t>(t[2]);
    fn_ = static_cast<std::size_t>(t[3]);
  }
  void update(const Tensor& predictions, const Tensor& targets, const xt::xarray<std::int64_t>& labels) override {
    check_binary(name_, predictions, targets, labels);
    for (std::size_t i = 0; i < predictions.size(); ++i) {
      const bool predicted = static_cast<double>(predictions.data()[i]) > cut_;
      const bool actual = truth_at(targets, labels, i) > 0.5;
      (predicted ? (actual ? tp_ : fp_) : (actual ? fn_ : tn_)) += 1;
    }
  }

 protected:
  std::string name_;
  double cut_;
  std::size_t tp_ = 0, fp_ = 0, tn_ = 0, fn_ = 0;
};

class BinaryAccuracy final : public BinaryCounts {
 public:
  using BinaryCounts::BinaryCounts;
  double result() const override {
    const std::size_t n = tp_ + fp_ + tn_ + fn_;
    return n ? static_cast<double>(tp_ + tn_) / static_cast<double>(n) : kNaN;
  }
};

class F1 final : public BinaryCounts {
 public:
  using BinaryCounts::BinaryCounts;
  double result() const override {
    if (tp_ + fp_ + fn_ + tn_ == 0) return kNaN;
    const double denominator = 2.0 * static_cast<double>(tp_) + static_cast<double>(fp_ + fn_);
    return denominator > 0 ? 2.0 * static_cast<double>(tp_) / denominator : 0.0;  // no positives at all: 0, as sklearn
  }
};

class MultiClassAccuracy final : public Metric {
 public:
  std::string name() const override { return "accuracy"; }
  void reset() override { correct_ = total_ = 0; }
  std::vector<double> totals() const override { return {static_cast<double>(correct_), static_cast<double>(total_)}; }
  void set_totals(const std::vector<double>& t) override {
    check_totals(t, 2);
    correct_ = static_cast<std::size_t>(t[0]);
    total_ = static_cast<std::size_t>(t[1]);
  }
  void update(const Tensor& predictions, const Tensor&, const xt::xarray<std::int64_t>& labels) override {
    if (predictions.dim() != 2 || labels.dimension() != 1 || labels.size() != predictions.shape()[0]) {
      throw std::invalid_argument("accuracy: needs predictions (B, C) and int64 labels (B), got predictions " +
                                  shape_to_string(predictions.shape()) + " and " + std::to_string(labels.size()) +
                                  " labels");
    }
    const xt::xarray<std::int64_t> predicted = argmax(predictions, 1);
    for (std::size_t i = 0; i < labels.size(); ++i) correct_ += predicted.data()[i] == labels.data()[i];
    total_ += labels.size();
  }
  double result() const override { return total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : kNaN; }

 private:
  std::size_t correct_ = 0, total_ = 0;
};

class SquaredError final : public Metric {
 public:
  explicit SquaredError(bool root) : root_(root) {}
  std::string name() const override { return root_ ? "rmse" : "mse"; }
  void reset() override {
    sum_ = 0;
    count_ = 0;
  }
  void update(const Tensor& predictions, const Tensor& targets, const xt::xarray<std::int64_t>&) override {
    if (!targets.defined() || targets.shape() != predictions.shape()) {
      throw std::invalid_argument(name() + ": needs float targets of the predictions' shape " +
                                  shape_to_string(predictions.shape()) + ", got " +
                                  (targets.defined() ? shape_to_string(targets.shape()) : std::string("none")));
    }
    for (std::size_t i = 0; i < predictions.size(); ++i) {
      const double d = static_cast<double>(predictions.data()[i]) - static_cast<double>(targets.data()[i]);
      sum_ += d * d;
    }
    count_ += predictions.size();
  }
  double result() const override {
    if (!count_) return kNaN;
    const double mse = sum_ / static_cast<double>(count_);
    return root_ ? std::sqrt(mse) : mse;
  }

 private:
  bool root_;
  double sum_ = 0;
  std::size_t count_ = 0;

 public:
  std::vector<double> totals() const override { return {sum_, static_cast<double>(count_)}; }
  void set_totals(const std::vector<double>& t) override {
    check_totals(t, 2);
    sum_ = t[0];
    count_ = static_cast<std::size_t>(t[1]);
  }
};

}  // namespace

std::vector<double> Metric::totals() const {
  throw std::logic_error("metric " + name() + " has no totals() to reduce over the ranks of a data-parallel job");
}
void Metric::set_totals(const std::vector<double>&) {
  throw std::logic_error("metric " + name() + " has no set_totals() to reduce over the ranks of a data-parallel job");
}

std::shared_ptr<Metric> binary_accuracy(double threshold, bool from_logits) {
  return std::make_shared<BinaryAccuracy>("accuracy", threshold, from_logits);
}
std::shared_ptr<Metric> f1_score(double threshold, bool from_logits) {
  return std::make_shared<F1>("f1", threshold, from_logits);
}
std::shared_ptr<Metric> accuracy() { return std::make_shared<MultiClassAccuracy>(); }
std::shared_ptr<Metric> mean_squared_error() { return std::make_shared<SquaredError>(false); }
std::shared_ptr<Metric> root_mean_squared_error() { return std::make_shared<SquaredError>(true); }

}  // namespace xgrad::train
