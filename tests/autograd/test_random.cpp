// The generator must reproduce NumPy's legacy RandomState bit for bit.
// Expected values printed by Debian's python3-numpy 1.24:
//   np.random.seed(42); np.random.rand(3)
//   np.random.seed(0); np.random.randn(3)
//   np.random.seed(123); np.random.rand(2); np.random.randn(3)
#include <doctest/doctest.h>

#include <array>

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

TEST_CASE("multinomial: frequencies follow the weights; without replacement each class once; errors named") {
  Generator gen(12);
  const Tensor w = Tensor::of({1.0f, 2.0f, 7.0f});
  const auto draws = multinomial(w, 20000, true, gen);
  REQUIRE(draws.shape() == std::vector<std::size_t>{20000});
  std::array<double, 3> freq{};
  for (auto d : draws) freq.at(static_cast<std::size_t>(d)) += 1.0 / 20000;
  CHECK(freq[0] == doctest::Approx(0.1).epsilon(0.1));
  CHECK(freq[1] == doctest::Approx(0.2).epsilon(0.1));
  CHECK(freq[2] == doctest::Approx(0.7).epsilon(0.05));
  // Rows of (N, C); without replacement, every positive class exactly once.
  const Tensor rows = Tensor::of({{1.0f, 0.0f, 2.0f, 3.0f}, {0.0f, 5.0f, 5.0f, 0.0f}});
  const auto picks = multinomial(rows, 2, false, gen);
  REQUIRE(picks.shape() == std::vector<std::size_t>{2, 2});
  CHECK(picks(0, 0) != picks(0, 1));
  CHECK(picks(0, 0) != 1);
  CHECK(picks(0, 1) != 1);
  CHECK(((picks(1, 0) == 1 && picks(1, 1) == 2) || (picks(1, 0) == 2 && picks(1, 1) == 1)));
  // Seeded: the same draws again.
  Generator a(3), b(3);
  CHECK(multinomial(w, 50, true, a) == multinomial(w, 50, true, b));
  CHECK_THROWS_WITH_AS(multinomial(rows, 4, false, gen), doctest::Contains("4 samples without replacement from 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(multinomial(Tensor::of({1.0f, -1.0f}), 1, true, gen), doctest::Contains("non-negative"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(multinomial(Tensor::of({0.0f, 0.0f}), 1, true, gen), doctest::Contains("no positive weight"),
                       std::invalid_argument);
}
