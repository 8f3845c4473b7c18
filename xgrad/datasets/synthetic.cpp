#include "xgrad/datasets/synthetic.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/random.hpp"

namespace xgrad::data {

namespace {

void check_sizes(std::size_t samples, std::size_t steps, std::size_t train_count, const char* who) {
  if (steps == 0) throw std::invalid_argument(std::string(who) + ": steps must be at least 1");
  if (train_count > samples) {
    throw std::invalid_argument(std::string(who) + ": train_count " + std::to_string(train_count) + " exceeds the " +
                                std::to_string(samples) + " samples");
  }
}

// Rows [first, first + count) of the (N, T, F) doubles as one split.
LabeledSequences make_split(const xt::xarray<double>& x, const std::vector<std::int64_t>& labels, std::size_t first,
                            std::size_t count) {
  const std::size_t steps = x.shape(1), features = x.shape(2), row = steps * features;
  xt::xarray<double> part = xt::empty<double>(Shape{count, steps, features});
  std::copy_n(x.data() + first * row, count * row, part.data());
  xt::xarray<float> part_f = xt::empty<float>(Shape{count, steps, features});
  std::transform(part.begin(), part.end(), part_f.begin(), [](double v) { return static_cast<float>(v); });
  return LabeledSequences{Tensor(std::move(part_f)), TensorD(std::move(part)),
                          std::vector<std::int64_t>(labels.begin() + static_cast<std::ptrdiff_t>(first),
                                                    labels.begin() + static_cast<std::ptrdiff_t>(first + count))};
}

SequenceClassificationData split_in_two(const xt::xarray<double>& x, const std::vector<std::int64_t>& labels,
                                        std::size_t train_count) {
  return {make_split(x, labels, 0, train_count), make_split(x, labels, train_count, labels.size() - train_count)};
}

}  // namespace

SequenceClassificationData sum_threshold_task(const SumThresholdOptions& o) {
  check_sizes(o.samples, o.steps, o.train_count, "sum_threshold_task");
  Generator gen(o.seed);
  xt::xarray<double> x = xt::empty<double>(Shape{o.samples, o.steps, 1});
  for (double& v : x) v = gen.uniform();  // C order, as np.random.rand fills its array
  std::vector<std::int64_t> labels(o.samples);
  for (std::size_t n = 0; n < o.samples; ++n) {
    // NumPy sums 10 doubles along axis 1 one after another (pairwise
    // summation only kicks in for contiguous runs of more than 8 elements
    // along the reduced axis, and axis 1 here is strided), so a left-to-right
    // double sum reproduces it.
    double sum = 0.0;
    for (std::size_t t = 0; t < o.steps; ++t) sum += x.data()[n * o.steps + t];
    labels[n] = sum > o.threshold ? 1 : 0;
  }
  return split_in_two(x, labels, o.train_count);
}

SequenceClassificationData long_dependency_task(const LongDependencyOptions& o) {
  check_sizes(o.samples, o.steps, o.train_count, "long_dependency_task");
  const std::size_t window =
      std::min(o.steps, std::max<std::size_t>(1, o.marker_window ? o.marker_window : o.steps / 10));
  Generator gen(o.seed);
  xt::xarray<double> x = xt::empty<double>(Shape{o.samples, o.steps, 2});
  std::vector<std::int64_t> labels(o.samples);
  for (std::size_t n = 0; n < o.samples; ++n) {
    labels[n] = gen.uniform() < 0.5 ? 0 : 1;
    const std::size_t marked = static_cast<std::size_t>(gen.below(window));
    double* row = x.data() + n * o.steps * 2;
    for (std::size_t t = 0; t < o.steps; ++t) {
      row[2 * t] = o.noise * (2.0 * gen.uniform() - 1.0);
      row[2 * t + 1] = 0.0;
    }
    row[2 * marked] = labels[n] ? 1.0 : -1.0;
    row[2 * marked + 1] = 1.0;
  }
  return split_in_two(x, labels, o.train_count);
}

}  // namespace xgrad::data
