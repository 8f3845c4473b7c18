// Single ops against PyTorch in double precision: outputs and gradients,
// including the conventions at kinks and ties. Reference values:
// tests/fixtures/ops.npz, made by tests/fixtures/make_op_fixtures.py.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>

#include <xtensor/xarray.hpp>

#include "fixtures/fixtures.hpp"
#include "xgrad/autograd/autograd.hpp"

using namespace xgrad;

namespace {

using Unary = std::function<TensorD(const TensorD&)>;
using Binary = std::function<TensorD(const TensorD&, const TensorD&)>;

// L = sum(out * dout), as the fixture script differentiates.
void check_against_torch(const std::string& name, const std::vector<TensorD>& inputs, const TensorD& out) {
  const std::string file = "ops.npz";
  fixtures::check_close(name + ".out", out.value(), fixtures::array<double>(file, name + ".out"), 1e-12, 1e-14);
  TensorD dout(fixtures::array<double>(file, name + ".dout"));
  sum(out * dout).backward();
  const char* keys[] = {"a", "b"};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string key = name + ".grad." + keys[i];
    fixtures::check_close(key, inputs[i].grad(), fixtures::array<double>(file, key), 1e-12, 1e-14);
  }
}

TensorD input(const std::string& name, const char* key) {
  return TensorD(fixtures::array<double>("ops.npz", name + "." + key), true);
}

}  // namespace

TEST_CASE("unary ops match PyTorch: values and gradients, at 0 too") {
  const std::map<std::string, Unary> ops = {
      {"sin", [](const TensorD& a) { return sin(a); }},
      {"cos", [](const TensorD& a) { return cos(a); }},
      {"erf", [](const TensorD& a) { return erf(a); }},
      {"gelu", [](const TensorD& a) { return gelu(a); }},
      {"silu", [](const TensorD& a) { return silu(a); }},
      {"leaky_relu", [](const TensorD& a) { return leaky_relu(a, 0.2); }},
      {"elu", [](const TensorD& a) { return elu(a, 1.5); }},
  };
  for (const auto& [name, op] : ops) {
    CAPTURE(name);
    TensorD a = input(name, "a");
    check_against_torch(name, {a}, op(a));
  }
}

TEST_CASE("maximum and minimum match PyTorch, ties and broadcasting included") {
  const std::map<std::string, Binary> ops = {
      {"maximum", [](const TensorD& a, const TensorD& b) { return maximum(a, b); }},
      {"minimum", [](const TensorD& a, const TensorD& b) { return minimum(a, b); }},
  };
  for (const auto& [op_name, op] : ops) {
    for (const std::string& name : {op_name, op_name + "_broadcast"}) {
      CAPTURE(name);
      TensorD a = input(name, "a"), b = input(name, "b");
      check_against_torch(name, {a, b}, op(a, b));
    }
  }
}
