// Single ops against PyTorch in double precision: outputs and gradients,
// including the conventions at kinks and ties. Reference values:
// tests/fixtures/ops.npz, made by tests/fixtures/make_op_fixtures.py.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xoperation.hpp>

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
  const char* keys[] = {"a", "b", "c"};
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

TEST_CASE("reductions, normalization, bmm and indexing match PyTorch") {
  using Op = std::function<TensorD(const std::vector<TensorD>&)>;
  const auto index = fixtures::array<std::int64_t>("ops.npz", "gather.index");
  const xt::xarray<bool> mask = xt::not_equal(fixtures::array<std::int64_t>("ops.npz", "masked_fill.mask"), 0);
  const std::vector<std::pair<std::string, std::pair<std::size_t, Op>>> ops = {
      {"cumsum", {1, [](const auto& x) { return cumsum(x[0], 1); }}},
      {"topk", {1, [](const auto& x) { return topk(x[0], 2, 1).first; }}},
      {"var", {1, [](const auto& x) { return var(x[0], {1}); }}},
      {"var_biased", {1, [](const auto& x) { return var(x[0], {1}, false); }}},
      {"std", {1, [](const auto& x) { return stddev(x[0], {1}); }}},
      {"norm", {1, [](const auto& x) { return norm(x[0]); }}},
      {"norm_dim", {1, [](const auto& x) { return norm(x[0], {1}, true); }}},
      {"layer_norm", {3, [](const auto& x) { return layer_norm(x[0], 1, x[1], x[2]); }}},
      {"bmm", {2, [](const auto& x) { return bmm(x[0], x[1]); }}},
      {"permute",
       {1,
        [](const auto& x) {
          return permute(x[0], {2, 0, 1});
        }}},
      {"repeat",
       {1,
        [](const auto& x) {
          return repeat(x[0], std::vector<std::size_t>{2, 1, 3});
        }}},
      {"expand",
       {1,
        [](const auto& x) {
          return expand(x[0], Shape{2, 3, 4});
        }}},
      {"gather", {1, [index](const auto& x) { return gather(x[0], 1, index); }}},
      {"scatter_add", {2, [index](const auto& x) { return scatter_add(x[0], 1, index, x[1]); }}},
      {"masked_fill", {1, [mask](const auto& x) { return masked_fill(x[0], mask, -1.5); }}},
      {"slice_step", {1, [](const auto& x) { return slice(x[0], 1, 1, slice_end, 2); }}},
      {"slice_negative", {1, [](const auto& x) { return slice(x[0], 1, -5, -1, 3); }}},
      {"select_negative", {1, [](const auto& x) { return select(x[0], 1, -1); }}},
      {"narrow_negative", {1, [](const auto& x) { return narrow(x[0], 1, -3, 2); }}},
  };
  for (const auto& [name, arity_op] : ops) {
    CAPTURE(name);
    std::vector<TensorD> inputs;
    const char* keys[] = {"a", "b", "c"};
    for (std::size_t i = 0; i < arity_op.first; ++i) inputs.push_back(input(name, keys[i]));
    check_against_torch(name, inputs, arity_op.second(inputs));
  }
}

TEST_CASE("argmax, argmin and one_hot: the first extreme, as PyTorch") {
  const TensorD a = TensorD::of({{1.0, 3.0, 3.0, -2.0}, {-5.0, -5.0, 0.0, 7.0}});
  CHECK(argmax(a, 1) == xt::xarray<std::int64_t>({1, 3}));
  CHECK(argmin(a, 1) == xt::xarray<std::int64_t>({3, 0}));
  CHECK(argmax(a, 0, true) == xt::xarray<std::int64_t>({{0, 0, 0, 1}}));
  // 1-D along axis 0 (xtensor's argmax with an axis on 1-D data returns the argmin; this must not).
  CHECK(argmax(TensorD::of({0.5, 2.0, -1.0}), 0)() == 1);
  const TensorD h = one_hot<double>(xt::xarray<std::int64_t>({2, 0}), 3);
  CHECK(h.value() == xt::xarray<double>({{0.0, 0.0, 1.0}, {1.0, 0.0, 0.0}}));
  CHECK_FALSE(h.requires_grad());
  CHECK_THROWS_WITH_AS(one_hot<float>(xt::xarray<std::int64_t>({3}), 3),
                       doctest::Contains("class 3 is out of range [0, 3)"), std::invalid_argument);
}
