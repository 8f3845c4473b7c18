// Every op passes the gradient checker, and the checker catches wrong
// derivatives.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/gradcheck_catalog.hpp"

using namespace xgrad;

TEST_CASE("every autograd op passes gradcheck (three random seeds)") {
  for (std::uint32_t seed : {0u, 1u, 2u}) {
    for (const auto& c : autograd_gradcheck_cases(seed)) {
      CAPTURE(seed);
      CAPTURE(c.name);
      const GradcheckResult r = gradcheck(c.function, c.inputs, c.options);
      INFO(r.report());
      CHECK(r.passed);
      CHECK(r.checked > 0);
    }
  }
}

// The catalog can never fall behind the API: every differentiable op that a
// public op header declares (a function returning a tensor) must have a
// gradcheck case named after it ("op" or "op (variant)").
TEST_CASE("every op declared in a public op header has a gradcheck case") {
  std::set<std::string> covered;
  for (const auto& c : autograd_gradcheck_cases(0)) covered.insert(c.name.substr(0, c.name.find(' ')));
  const std::regex declaration(R"((?:BasicTensor<T>|std::vector<BasicTensor<T>>)\s+([a-z_0-9]+)\s*\()");
  // Constants that no gradient flows through.
  const std::set<std::string> not_differentiable = {"one_hot"};
  std::size_t declared = 0;
  for (const char* header : {"elementwise.hpp", "reduction.hpp", "linalg.hpp", "shape_ops.hpp", "normalization.hpp"}) {
    const std::string path = std::string(XGRAD_SOURCE_DIR) + "/xgrad/autograd/" + header;
    std::ifstream in(path);
    REQUIRE_MESSAGE(in, "cannot read " << path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (std::sregex_iterator it(s.begin(), s.end(), declaration), end; it != end; ++it) {
      const std::string op = (*it)[1];
      ++declared;
      if (not_differentiable.count(op)) continue;
      CAPTURE(header);
      CHECK_MESSAGE(covered.count(op) == 1, "no gradcheck case for '" << op << "' in gradcheck_catalog.cpp");
    }
  }
  CHECK(declared >= 50);  // the regex still finds the declarations
}

namespace {
// sin with a deliberately wrong derivative (-cos instead of cos).
TensorD wrong_sin(const TensorD& x) {
  xt::xarray<double> y = xt::sin(x.value());
  return record_op<double>("wrong_sin", std::move(y), requires_grad_any(x),
                           [x](const xt::xarray<double>& g) { accumulate_grad(x, -g * xt::cos(x.value())); });
}
// The correct one, to show the failure is the rule's fault.
TensorD right_sin(const TensorD& x) {
  xt::xarray<double> y = xt::sin(x.value());
  return record_op<double>("sin", std::move(y), requires_grad_any(x),
                           [x](const xt::xarray<double>& g) { accumulate_grad(x, g * xt::cos(x.value())); });
}
}  // namespace

TEST_CASE("gradcheck catches a wrong derivative and says where") {
  Generator gen(4);
  TensorD a = randn<double>({2, 3}, gen, true);
  TensorD b = randn<double>({2, 3}, gen, true);
  const auto good = gradcheck([](const std::vector<TensorD>& x) { return right_sin(x[0]) * x[1]; }, {a, b});
  CHECK(good.passed);
  const auto bad = gradcheck([](const std::vector<TensorD>& x) { return wrong_sin(x[0]) * x[1]; }, {a, b});
  CHECK_FALSE(bad.passed);
  REQUIRE_FALSE(bad.failures.empty());
  CHECK(bad.failures[0].input == 0);  // b's gradient is right; a's is wrong
  for (const auto& f : bad.failures) {
    CHECK(f.input == 0);
    CHECK(f.analytic == doctest::Approx(-f.numeric).epsilon(1e-5));
  }
  CHECK(bad.report().find("analytic") != std::string::npos);
  CHECK(bad.report().find("FAILED") != std::string::npos);
}

TEST_CASE("gradcheck's direction mode catches a wrong derivative on a large input") {
  Generator gen(5);
  TensorD a = randn<double>({80, 80}, gen, true);
  GradcheckOptions options;
  options.max_elements_per_input = 100;
  const auto good = gradcheck([](const std::vector<TensorD>& x) { return sum(right_sin(x[0])); }, {a}, options);
  CHECK(good.passed);
  CHECK(good.checked == options.random_directions);
  const auto bad = gradcheck([](const std::vector<TensorD>& x) { return sum(wrong_sin(x[0])); }, {a}, options);
  CHECK_FALSE(bad.passed);
  CHECK(bad.failures[0].direction);
}

TEST_CASE("gradcheck reports an error from the function instead of crashing") {
  TensorD a = TensorD::of({1.0, 2.0}, true);
  const auto r = gradcheck([](const std::vector<TensorD>& x) { return matmul(x[0], x[0]); }, {a});
  CHECK_FALSE(r.passed);
  CHECK(r.error.find("matmul") != std::string::npos);
}

TEST_CASE("gradcheck leaves the caller's tensors untouched") {
  TensorD a = TensorD::of({1.0, 2.0}, true);
  gradcheck([](const std::vector<TensorD>& x) { return sum(x[0] * x[0]); }, {a});
  CHECK_FALSE(a.has_grad());
  CHECK(a.value() == xt::xarray<double>({1.0, 2.0}));
}

TEST_CASE("the gradcheck table prints every case and the verdict") {
  std::ostringstream out;
  const auto cases = autograd_gradcheck_cases(0);
  CHECK(run_gradcheck_table(cases, out));
  CHECK(out.str().find("matmul a^T b^T") != std::string::npos);
  CHECK(out.str().find(std::to_string(cases.size()) + " passed, 0 failed") != std::string::npos);
}
