// detect_anomaly: the first op whose forward or backward makes NaN or inf is
// named with its shapes; outside the mode NaN flows silently, as in PyTorch.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"

using namespace xgrad;

TEST_CASE("detect_anomaly names the op whose forward produced NaN, with its shape") {
  Tensor x = Tensor::of({{1.0f, -1.0f, 2.0f}}, true);  // (1, 3)
  {
    DetectAnomalyGuard anomaly;
    Tensor y = mul_scalar(x, 2.0f);  // finite: no complaint
    CHECK_THROWS_WITH_AS(log(y), doctest::Contains("the forward of 'log' produced NaN in its output of shape (1, 3)"),
                         AnomalyError);
  }
  CHECK_FALSE(detect_anomaly_enabled());  // the guard restored the mode
  Tensor silent = log(x);                 // outside the mode: NaN, no error
  CHECK(std::isnan(silent.value()(0, 1)));
}

TEST_CASE("detect_anomaly names the op whose backward turned a finite gradient into inf") {
  // sqrt(0) = 0 is finite; its derivative 1 / (2 sqrt(0)) is inf.
  Tensor x = Tensor::of({0.0f, 4.0f}, true);
  DetectAnomalyGuard anomaly;
  Tensor loss = sum(mul_scalar(sqrt(x), 3.0f));
  try {
    loss.backward();
    FAIL("expected an AnomalyError");
  } catch (const AnomalyError& e) {
    const std::string m = e.what();
    CHECK(m.find("the backward of 'sqrt'") != std::string::npos);
    CHECK(m.find("inf in the gradient of its input of shape (2,)") != std::string::npos);
    CHECK(m.find("from a finite output gradient") != std::string::npos);
  }
}

TEST_CASE("detect_anomaly passes clean graphs, in float and double, through matmul's deferred jobs") {
  DetectAnomalyGuard anomaly;
  TensorD w = TensorD::of({{0.5, -1.0}, {2.0, 0.25}}, true);
  TensorD x = TensorD::of({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});
  TensorD loss = mean(pow(sigmoid(linear(x, w, TensorD())), 2.0));
  CHECK_NOTHROW(loss.backward());
  CHECK(std::isfinite(w.grad()(0, 0)));
  // A NaN in a leaf's data reaches the first op that reads it.
  Tensor big = Tensor::of({{std::nanf(""), 1.0f}, {2.0f, 3.0f}}, true);
  CHECK_THROWS_WITH_AS(matmul(big, big), doctest::Contains("'matmul'"), AnomalyError);
}

TEST_CASE("a backward that throws leaves no pending gradient for the next backward") {
  Tensor a = Tensor::of({0.0f, 4.0f}, true);
  {
    DetectAnomalyGuard anomaly;
    Tensor y = mul_scalar(a, 1.0f);  // its record gets sqrt's inf gradient, then the check throws
    Tensor loss = sum(sqrt(y));
    CHECK_THROWS_AS(loss.backward(), AnomalyError);
  }
  Tensor b = Tensor::of({1.0f, 1.0f}, true);
  Tensor other = sum(mul(a, b));
  other.backward();
  // Only this graph's gradient: b's values. Before the fix, mul_scalar's
  // stale record ran too and added inf into a's gradient.
  CHECK(b.grad()(0) == 0.0f);
  CHECK(b.grad()(1) == 4.0f);
  CHECK(a.grad()(0) == 1.0f);
  CHECK(a.grad()(1) == 1.0f);
}
