// The generator must reproduce NumPy's legacy RandomState bit for bit.
// Expected values printed by Debian's python3-numpy 1.24:
//   np.random.seed(42); np.random.rand(3)
//   np.random.seed(0); np.random.randn(3)
//   np.random.seed(123); np.random.rand(2); np.random.randn(3)
#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/random.hpp"

using namespace xgrad;

TEST_CASE("Generator::uniform matches np.random.rand") {
  Generator g(42);
  CHECK(g.uniform() == 0.3745401188473625);
  CHECK(g.uniform() == 0.9507143064099162);
  CHECK(g.uniform() == 0.7319939418114051);
}

TEST_CASE("Generator::normal matches np.random.randn, including the cached second value") {
  Generator g(0);
  CHECK(g.normal() == 1.764052345967664);
  CHECK(g.normal() == 0.4001572083672233);
  CHECK(g.normal() == 0.9787379841057392);
  Generator h(123);
  CHECK(h.uniform() == 0.6964691855978616);
  CHECK(h.uniform() == 0.28613933495037946);
  CHECK(h.normal() == 0.28297849805199204);
  CHECK(h.normal() == -1.506294713918092);
  CHECK(h.normal() == -0.5786002519685364);
}

TEST_CASE("Generator state round-trips mid-stream") {
  Generator g(5);
  g.uniform();
  g.normal();  // leaves a cached normal
  const std::string saved = g.state();
  const double a = g.normal(), b = g.uniform();
  Generator h(99);
  h.set_state(saved);
  CHECK(h.normal() == a);
  CHECK(h.uniform() == b);
  CHECK_THROWS_AS(h.set_state("not a state"), std::invalid_argument);
}

TEST_CASE("Generator::below is in range and covers it") {
  Generator g(1);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const auto v = g.below(7);
    REQUIRE(v < 7);
    ++seen[v];
  }
  for (int count : seen) CHECK(count > 800);  // ~1000 each
  CHECK_THROWS_AS(g.below(0), std::invalid_argument);
}

TEST_CASE("random tensors: shapes, ranges, float rounding kept below high") {
  Generator g(3);
  Tensor u = uniform<float>({100, 10}, -0.5f, 0.5f, g);
  CHECK(u.shape() == Shape{100, 10});
  for (float v : u.value()) {
    CHECK(v >= -0.5f);
    CHECK(v < 0.5f);
  }
  Generator a(11), b(11);
  CHECK(randn<double>({4}, a).value() == randn<double>({4}, b).value());
  TensorD n = normal<double>({20000}, 2.0, 3.0, a);
  double mean = 0, var = 0;
  for (double v : n.value()) mean += v;
  mean /= n.size();
  for (double v : n.value()) var += (v - mean) * (v - mean);
  var /= n.size();
  CHECK(mean == doctest::Approx(2.0).epsilon(0.05));
  CHECK(std::sqrt(var) == doctest::Approx(3.0).epsilon(0.05));
}
