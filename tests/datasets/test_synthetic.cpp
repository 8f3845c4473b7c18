#include <doctest/doctest.h>

#include <algorithm>

#include <xtensor/xarray.hpp>

#include "xgrad/datasets/synthetic.hpp"

using namespace xgrad::data;

TEST_CASE("sum_threshold_task: lab L6 is bit-identical to NumPy") {
  const SequenceClassificationData d = sum_threshold_task();
  const auto& x = d.train.inputs_f64.value();
  REQUIRE(x.shape() == std::vector<std::size_t>{800, 10, 1});
  CHECK(d.test.inputs.shape() == xgrad::Shape{200, 10, 1});
  // np.random.seed(42); np.random.rand(1000, 10, 1)[0, :3, 0]
  CHECK(x(0, 0, 0) == 0.3745401188473625);
  CHECK(x(0, 1, 0) == 0.9507143064099162);
  CHECK(x(0, 2, 0) == 0.7319939418114051);
  CHECK(d.train.inputs.value()(0, 1, 0) == static_cast<float>(0.9507143064099162));
  // The lab's confusion matrix [[0, 114], [0, 86]]: 114 negatives, 86 positives in test.
  CHECK(std::count(d.test.labels.begin(), d.test.labels.end(), 0) == 114);
  CHECK(std::count(d.test.labels.begin(), d.test.labels.end(), 1) == 86);
  CHECK(d.train.labels.size() == 800);
  // Labels follow the sums.
  for (std::size_t n = 0; n < 5; ++n) {
    double sum = 0;
    for (std::size_t t = 0; t < 10; ++t) sum += x(n, t, 0);
    CHECK(d.train.labels[n] == (sum > 5.0 ? 1 : 0));
  }
}

TEST_CASE("long_dependency_task: one marked early step holds the label, the rest is noise, seeded") {
  LongDependencyOptions o;
  o.samples = 200;
  o.steps = 30;
  o.train_count = 150;
  o.seed = 3;
  const SequenceClassificationData d = long_dependency_task(o);
  const auto& x = d.train.inputs.value();
  CHECK(x.shape() == std::vector<std::size_t>{150, 30, 2});
  CHECK(d.test.labels.size() == 50);
  for (std::size_t n = 0; n < 150; ++n) {
    std::size_t marks = 0;
    for (std::size_t t = 0; t < 30; ++t) {
      if (x(n, t, 1) == 1.0f) {
        ++marks;
        CHECK(t < 3);  // within the first tenth
        CHECK(x(n, t, 0) == (d.train.labels[n] ? 1.0f : -1.0f));
      } else {
        CHECK(x(n, t, 1) == 0.0f);
        CHECK(x(n, t, 0) >= -1.0f);
        CHECK(x(n, t, 0) < 1.0f);
      }
    }
    CHECK(marks == 1);
  }
  const auto positives = std::count(d.train.labels.begin(), d.train.labels.end(), 1);
  CHECK(positives > 45);  // balanced up to sampling noise
  CHECK(positives < 105);
  const SequenceClassificationData again = long_dependency_task(o);
  CHECK(again.train.labels == d.train.labels);
  CHECK(again.test.inputs.value() == d.test.inputs.value());
  o.train_count = 201;
  CHECK_THROWS_AS(long_dependency_task(o), std::invalid_argument);
}
