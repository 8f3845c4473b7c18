#include <doctest/doctest.h>

#include <cmath>

#include <xtensor/xarray.hpp>

#include "helpers.hpp"
#include "xgrad/datasets/sequence.hpp"

using namespace xgrad::data;
using xgrad::data::testing::contains;
using xgrad::data::testing::error_of;

TEST_CASE("sine_wave: lab L2's np.sin(np.linspace(0, 100, 1000)) as float") {
  const xt::xarray<float> y = sine_wave();
  REQUIRE(y.dimension() == 1);
  REQUIRE(y.shape(0) == 1000);
  CHECK(y(0) == 0.0f);
  // linspace's step is 100/999; the last point is exactly 100.
  CHECK(y(1) == static_cast<float>(std::sin(100.0 / 999.0)));
  CHECK(y(500) == static_cast<float>(std::sin(500 * (100.0 / 999.0))));
  CHECK(y(999) == static_cast<float>(std::sin(100.0)));
  CHECK(sine_wave(1, 2.0, 5.0)(0) == static_cast<float>(std::sin(2.0)));
}

TEST_CASE("windows: L2 shapes and next-value targets") {
  const xt::xarray<float> y = sine_wave();
  const xt::xarray<float> x = window_inputs(y, 50);
  const xt::xarray<float> t = window_targets(y, 50);
  CHECK(x.shape() == std::vector<std::size_t>{950, 50, 1});
  CHECK(t.shape() == std::vector<std::size_t>{950, 1});
  CHECK(x(0, 0, 0) == y(0));
  CHECK(x(7, 49, 0) == y(56));
  CHECK(t(0, 0) == y(50));  // the value right after window 0
  CHECK(t(949, 0) == y(999));
  CHECK(window_count(1000, 50) == 950);
}

TEST_CASE("windows: multi-feature series and a horizon") {
  // series (T=6, F=2): value = 10 * t + f
  xt::xarray<float> s = xt::xarray<float>::from_shape({6, 2});
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t f = 0; f < 2; ++f) s(i, f) = static_cast<float>(10 * i + f);
  const xt::xarray<float> x = window_inputs(s, 3, 2);
  const xt::xarray<float> t = window_targets(s, 3, 2);
  CHECK(x.shape() == std::vector<std::size_t>{2, 3, 2});  // 6 - 3 - 2 + 1
  CHECK(x(1, 2, 1) == 31.0f);
  CHECK(t(0, 0) == 40.0f);  // window 0 ends at step 2; horizon 2 -> step 4
  CHECK(t(1, 1) == 51.0f);
}

TEST_CASE("windows: bad input throws naming the problem") {
  const xt::xarray<float> y = sine_wave(10);
  CHECK(contains(error_of([&] { window_inputs(y, 10); }), "too short"));
  CHECK(contains(error_of([&] { window_targets(y, 0); }), "window must be at least 1"));
  CHECK(contains(error_of([&] { window_inputs(y, 3, 0); }), "horizon"));
  const xt::xarray<float> cube = xt::xarray<float>::from_shape({2, 2, 2});
  CHECK(contains(error_of([&] { window_inputs(cube, 1); }), "(2, 2, 2)"));
}
