#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>

#include "helpers.hpp"
#include "xgrad/datasets/scaler.hpp"

using namespace xgrad::data;
using xgrad::data::testing::contains;
using xgrad::data::testing::error_of;

TEST_CASE("MinMaxScaler: per-feature [0, 1], round trip, constant feature") {
  // 3 samples x 3 features; the last feature is constant.
  const xt::xarray<float> x = {{1.f, -10.f, 5.f}, {3.f, 0.f, 5.f}, {5.f, 10.f, 5.f}};
  MinMaxScaler scaler;
  const xt::xarray<float> s = scaler.fit_transform(x);
  CHECK(s(0, 0) == 0.0f);
  CHECK(s(1, 0) == 0.5f);
  CHECK(s(2, 1) == 1.0f);
  CHECK(s(1, 2) == 0.0f);  // constant: scale 1, maps to the range minimum (sklearn)
  CHECK(scaler.data_min()[1] == -10.0);
  CHECK(scaler.data_max()[1] == 10.0);
  const xt::xarray<float> back = scaler.inverse_transform(s);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(back.data()[i] == doctest::Approx(x.data()[i]));
  // Fitted on the training part, applied to unseen data: may leave [0, 1].
  const xt::xarray<float> test = {{7.f, 0.f, 6.f}};
  CHECK(scaler.transform(test)(0, 0) == 1.5f);
  CHECK(scaler.transform(test)(0, 2) == 1.0f);
}

TEST_CASE("MinMaxScaler: a given range, 1-D series and (S, T, F) windows") {
  MinMaxScaler scaler(-1.0, 1.0);
  xt::xarray<float> series = xt::xarray<float>::from_shape({3});
  series(0) = 104.f, series(1) = 622.f, series(2) = 363.f;
  const xt::xarray<float> s = scaler.fit_transform(series);
  CHECK(s(0) == -1.0f);
  CHECK(s(1) == 1.0f);
  CHECK(s(2) == doctest::Approx(0.0).epsilon(1e-6));  // x * scale + offset, as sklearn: rounding may leave ~1e-17
  CHECK(scaler.feature_count() == 1);
  xt::xarray<float> windows = xt::xarray<float>::from_shape({2, 2, 1});  // (S=2, T=2, F=1)
  windows(0, 0, 0) = 104.f, windows(0, 1, 0) = 622.f, windows(1, 0, 0) = 363.f, windows(1, 1, 0) = 104.f;
  CHECK(scaler.transform(windows)(1, 0, 0) == doctest::Approx(0.0).epsilon(1e-6));
  CHECK_THROWS_AS(MinMaxScaler(1.0, 1.0), std::invalid_argument);
}

TEST_CASE("StandardScaler: zero mean, unit population std, round trip, constant feature") {
  const xt::xarray<float> x = {{1.f, 7.f}, {2.f, 7.f}, {3.f, 7.f}, {4.f, 7.f}};
  StandardScaler scaler;
  const xt::xarray<float> s = scaler.fit_transform(x);
  CHECK(scaler.mean()[0] == 2.5);
  CHECK(scaler.scale()[0] == doctest::Approx(std::sqrt(1.25)));  // ddof = 0
  CHECK(scaler.scale()[1] == 1.0);                               // constant feature
  CHECK(s(0, 0) == doctest::Approx(-1.5 / std::sqrt(1.25)));
  CHECK(s(2, 1) == 0.0f);
  const xt::xarray<float> back = scaler.inverse_transform(s);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(back.data()[i] == doctest::Approx(x.data()[i]));
}

TEST_CASE("scalers: unfitted use and a wrong feature count throw naming the problem") {
  MinMaxScaler mm;
  StandardScaler st;
  const xt::xarray<float> two = {{1.f, 2.f}, {3.f, 4.f}};
  const xt::xarray<float> three = {{1.f, 2.f, 3.f}};
  CHECK_THROWS_AS(mm.transform(two), std::logic_error);
  CHECK(contains(error_of([&] { mm.transform(two); }), "not fitted"));
  CHECK(contains(error_of([&] { st.inverse_transform(two); }), "not fitted"));
  mm.fit(two);
  st.fit(two);
  CHECK_THROWS_AS(mm.transform(three), std::invalid_argument);
  const std::string msg = error_of([&] { st.transform(three); });
  CHECK(contains(msg, "fitted on 2 feature(s)"));
  CHECK(contains(msg, "(1, 3)"));
  CHECK(contains(error_of([&] { mm.fit(xt::xarray<float>::from_shape({0, 2})); }), "no samples"));
}
