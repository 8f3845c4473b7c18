#pragma once
// Access to the PyTorch reference fixtures in tests/fixtures (made by
// tests/fixtures/make_fixtures.py with Debian's python3-torch; see its
// README), and a tolerance check that reports the worst element.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "xgrad/autograd/npz.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace fixtures {

inline const xgrad::io::NpzContents& npz(const std::string& file) {
  static std::map<std::string, xgrad::io::NpzContents> cache;
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(file, xgrad::io::read_npz(std::string(XGRAD_FIXTURES_DIR) + "/" + file)).first;
  return it->second;
}

inline nlohmann::json json(const std::string& file) {
  std::ifstream in(std::string(XGRAD_FIXTURES_DIR) + "/" + file);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

template <class T>
xt::xarray<T> array(const std::string& file, const std::string& name) {
  return npz(file).at(name).to_array<T>();
}

inline bool has(const std::string& file, const std::string& name) { return npz(file).arrays.count(name) > 0; }

// |actual - expected| <= atol + rtol |expected| everywhere; on failure the
// message names the array and the worst element.
template <class T>
void check_close(const std::string& what, const xt::xarray<T>& actual, const xt::xarray<double>& expected, double rtol,
                 double atol) {
  INFO(what);
  REQUIRE(xgrad::Shape(actual.shape().begin(), actual.shape().end()) ==
          xgrad::Shape(expected.shape().begin(), expected.shape().end()));
  double worst = 0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual.data()[i], e = expected.data()[i];
    const double excess = std::abs(a - e) - (atol + rtol * std::abs(e));
    if (excess > worst || std::isnan(a)) {
      worst = std::isnan(a) ? INFINITY : excess;
      worst_at = i;
    }
  }
  INFO("worst element " << worst_at << ": " << actual.data()[worst_at] << " vs " << expected.data()[worst_at]);
  CHECK(worst <= 0);
}

}  // namespace fixtures
