#include "xgrad/autograd/gradcheck_catalog.hpp"

#include <cmath>
#include <cstdio>
#include <ostream>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"

namespace xgrad {

GradcheckCase make_gradcheck_case(std::string name, GradcheckFunction function, std::vector<TensorD> inputs,
                                  GradcheckOptions options) {
  std::string shapes;
  for (std::size_t i = 0; i < inputs.size(); ++i) shapes += (i ? ", " : "") + shape_to_string(inputs[i].shape());
  return GradcheckCase{std::move(name), std::move(shapes), std::move(function), std::move(inputs), options};
}

namespace {

using V = const std::vector<TensorD>&;

// Random inputs kept at least `margin` away from zero, where abs, relu and
// clamp have kinks that finite differences would straddle.
TensorD away_from_zero(const Shape& shape, Generator& gen, double margin = 0.1) {
  TensorD t = randn<double>(shape, gen, true);
  for (auto& v : t.mutable_value())
    if (std::abs(v) < margin) v = v < 0 ? v - margin : v + margin;
  return t;
}
TensorD positive(const Shape& shape, Generator& gen) { return uniform<double>(shape, 0.5, 2.0, gen, true); }

}  // namespace

std::vector<GradcheckCase> autograd_gradcheck_cases(std::uint32_t seed) {
  Generator gen(seed);
  auto r = [&](const Shape& s) { return randn<double>(s, gen, true); };
  std::vector<GradcheckCase> c;
  auto add_case = [&](std::string name, GradcheckFunction fn, std::vector<TensorD> in) {
    c.push_back(make_gradcheck_case(std::move(name), std::move(fn), std::move(in)));
  };

  // Elementwise, with broadcasting.
  add_case("add", [](V x) { return x[0] + x[1]; }, {r({3, 4}), r({3, 4})});
  add_case("add (broadcast)", [](V x) { return x[0] + x[1]; }, {r({3, 1}), r({1, 4})});
  add_case("sub (broadcast)", [](V x) { return x[0] - x[1]; }, {r({2, 3}), r({3})});
  add_case("mul (broadcast)", [](V x) { return x[0] * x[1]; }, {r({2, 3, 4}), r({4})});
  add_case("div", [](V x) { return x[0] / x[1]; }, {r({3, 4}), positive({3, 4}, gen)});
  add_case("div (broadcast)", [](V x) { return x[0] / x[1]; }, {r({2, 3}), positive({2, 1}, gen)});
  // Blocks of >= 16 elements repeated along leading axes take the block path.
  add_case("mul (repeat along leading axes)", [](V x) { return x[0] * x[1]; }, {r({3, 2, 16}), r({1, 2, 16})});
  add_case("add (repeat, 1-D second)", [](V x) { return x[0] + x[1]; }, {r({4, 17}), r({17})});
  add_case("div (repeat, full second)", [](V x) { return x[0] / x[1]; }, {r({20}), positive({2, 3, 20}, gen)});
  add_case("scalar ops", [](V x) { return (x[0] + 2.0) * 1.5 - 0.5 + (3.0 - x[0]) / 4.0; }, {r({3, 4})});
  add_case("add_scalar", [](V x) { return x[0] + 2.0; }, {r({3, 4})});
  add_case("mul_scalar", [](V x) { return x[0] * 1.5; }, {r({3, 4})});
  add_case("rsub_scalar", [](V x) { return 3.0 - x[0]; }, {r({3, 4})});
  add_case("rdiv_scalar", [](V x) { return 2.0 / x[0]; }, {positive({3, 4}, gen)});
  add_case("neg", [](V x) { return -x[0]; }, {r({5})});
  add_case("exp", [](V x) { return exp(x[0]); }, {r({3, 4})});
  add_case("log", [](V x) { return log(x[0]); }, {positive({3, 4}, gen)});
  add_case("sqrt", [](V x) { return sqrt(x[0]); }, {positive({3, 4}, gen)});
  add_case("pow", [](V x) { return pow(x[0], 3.0); }, {r({3, 4})});
  add_case("pow (fractional)", [](V x) { return pow(x[0], 0.5); }, {positive({3, 4}, gen)});
  add_case("abs", [](V x) { return abs(x[0]); }, {away_from_zero({3, 4}, gen)});
  add_case("sigmoid", [](V x) { return sigmoid(x[0]); }, {r({3, 4})});
  add_case("tanh", [](V x) { return tanh(x[0]); }, {r({3, 4})});
  add_case("softplus", [](V x) { return softplus(x[0] * 10.0); }, {r({3, 4})});
  add_case("relu", [](V x) { return relu(x[0]); }, {away_from_zero({3, 4}, gen)});
  add_case("sin", [](V x) { return sin(x[0]); }, {r({3, 4})});
  add_case("cos", [](V x) { return cos(x[0]); }, {r({3, 4})});
  add_case("erf", [](V x) { return erf(x[0]); }, {r({3, 4})});
  add_case("gelu", [](V x) { return gelu(x[0]); }, {r({3, 4})});
  add_case("silu", [](V x) { return silu(x[0]); }, {r({3, 4})});
  add_case("leaky_relu", [](V x) { return leaky_relu(x[0], 0.2); }, {away_from_zero({3, 4}, gen)});
  add_case("elu", [](V x) { return elu(x[0], 1.5); }, {away_from_zero({3, 4}, gen)});
  {
    // Inputs kept apart so no difference straddles a tie.
    TensorD a = r({3, 4}), b = r({3, 4});
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::abs(a.value().data()[i] - b.value().data()[i]) < 0.1) a.mutable_value().data()[i] += 0.3;
    add_case("maximum", [](V x) { return maximum(x[0], x[1]); }, {a, b});
    add_case("minimum", [](V x) { return minimum(x[0], x[1]); }, {a, b});
    add_case("maximum (broadcast)", [](V x) { return maximum(x[0], x[1]); },
             {a, TensorD::of({0.05, -0.05, 2.0, -2.0}).requires_grad_(true)});
  }
  {
    TensorD a = away_from_zero({4, 5}, gen);
    for (auto& v : a.mutable_value())
      if (std::abs(std::abs(v) - 0.5) < 0.05) v += 0.1;  // keep off the clamp bounds
    add_case("clamp", [](V x) { return clamp(x[0], -0.5, 0.5); }, {a});
  }
  {
    TensorD cond = TensorD::of({{1.0, 0.0, 1.0, 0.0}, {0.0, 0.0, 1.0, 1.0}, {1.0, 1.0, 0.0, 0.0}});
    add_case("where (broadcast)", [cond](V x) { return where(cond, x[0], x[1]); }, {r({3, 4}), r({3, 1})});
  }
  add_case("mask", [](V x) { return mask(x[0], TensorD::of({0.0, 2.0, 2.0})); }, {r({2, 3})});
  {
    // Masks the result's shape or repeating in whole blocks of 16+ (the
    // rule that reads only the mask), and an input whose value is freed
    // once only gradient targets reach it (Note [gradient targets]).
    const TensorD full = TensorD::from_vector({2, 3}, {0.0, 2.0, 2.0, 2.0, 0.0, 2.0});
    add_case("mask (same shape)", [full](V x) { return mask(x[0], full); }, {r({2, 3})});
    xt::xarray<double> per_sequence = xt::ones<double>({4, 5});
    for (std::size_t i = 0; i < per_sequence.size(); i += 3) per_sequence.data()[i] = 0.0;
    const TensorD repeating(per_sequence * 1.25);
    add_case("mask (repeating per sequence)", [repeating](V x) { return mask(x[0], repeating); }, {r({3, 4, 5})});
    add_case("mask and stack of a freed intermediate",
             [full](V x) {
               const TensorD y = concat(std::vector<TensorD>{x[0], x[0] * 3.0}, 1);  // (2, 6)
               const TensorD m = concat(std::vector<TensorD>{full, full}, 1);
               return stack(std::vector<TensorD>{mask(y, m), y}, 0);
             },
             {r({2, 3})});
  }
  add_case("reuse: x*x + x", [](V x) { return x[0] * x[0] + x[0]; }, {r({3, 4})});
  {
    const xt::xarray<bool> filled = {{true, false, false, true}, {false, false, true, false}};
    add_case("masked_fill", [filled](V x) { return masked_fill(x[0], filled, -1.0); }, {r({2, 4})});
    xt::xarray<bool> rows = xt::xarray<bool>::from_shape({3, 1});  // broadcast over columns
    rows(0, 0) = true;
    rows(1, 0) = false;
    rows(2, 0) = true;
    add_case("masked_fill (broadcast mask)", [rows](V x) { return masked_fill(x[0], rows, 0.0) * x[0]; }, {r({3, 4})});
  }

  // Reductions.
  add_case("sum", [](V x) { return sum(x[0]); }, {r({3, 4})});
  add_case("sum axes keepdims", [](V x) { return sum(x[0], {1}, true); }, {r({2, 3, 4})});
  add_case("sum axes (0, 2)", [](V x) { return sum(x[0], {0, 2}); }, {r({2, 3, 4})});
  add_case("mean", [](V x) { return mean(x[0]); }, {r({3, 4})});
  add_case("mean axis -1", [](V x) { return mean(x[0], {-1}); }, {r({2, 3, 4})});
  add_case("max axis 1", [](V x) { return max(x[0], 1); }, {r({3, 5, 2})});
  add_case("max axis 0 keepdims", [](V x) { return max(x[0], 0, true); }, {r({4, 3})});
  add_case("logsumexp", [](V x) { return logsumexp(x[0], 1); }, {r({3, 5})});
  add_case("softmax axis 1", [](V x) { return softmax(x[0], 1); }, {r({3, 5})});
  add_case("softmax axis 0", [](V x) { return softmax(x[0], 0); }, {r({4, 2, 3})});
  add_case("log_softmax", [](V x) { return log_softmax(x[0], -1); }, {r({3, 5})});
  add_case("topk (values)", [](V x) { return topk(x[0], 2, 1).first; }, {r({3, 5})});
  add_case("topk smallest axis 0", [](V x) { return topk(x[0], 3, 0, false).first * 2.0; }, {r({4, 2})});
  add_case("cumsum axis 1", [](V x) { return cumsum(x[0], 1); }, {r({2, 4, 3})});
  add_case("cumsum axis -1", [](V x) { return cumsum(x[0], -1) * x[0]; }, {r({3, 4})});
  add_case("var (unbiased)", [](V x) { return var(x[0], {1}); }, {r({3, 5})});
  add_case("var (biased, keepdims, 2 axes)", [](V x) { return var(x[0], {0, 2}, false, true); }, {r({2, 3, 4})});
  add_case("stddev", [](V x) { return stddev(x[0], {-1}); }, {r({3, 6})});
  add_case("norm (all)", [](V x) { return norm(x[0]); }, {r({3, 4})});
  add_case("norm axis 1 keepdims", [](V x) { return norm(x[0], {1}, true) * x[0]; }, {r({3, 4})});
  add_case("layer_norm", [](V x) { return layer_norm(x[0], 1, x[1], x[2]); }, {r({3, 5}), r({5}), r({5})});
  add_case("layer_norm (2 axes, no affine)", [](V x) { return layer_norm(x[0], 2, TensorD(), TensorD()) * x[1]; },
           {r({2, 3, 4}), r({3, 4})});

  // Linear algebra.
  add_case("matmul", [](V x) { return matmul(x[0], x[1]); }, {r({3, 4}), r({4, 5})});
  add_case("matmul 3-D x 2-D", [](V x) { return matmul(x[0], x[1]); }, {r({2, 3, 4}), r({4, 5})});
  add_case("matmul a^T", [](V x) { return matmul(x[0], x[1], true, false); }, {r({4, 3}), r({4, 5})});
  add_case("matmul b^T", [](V x) { return matmul(x[0], x[1], false, true); }, {r({3, 4}), r({5, 4})});
  add_case("matmul a^T b^T", [](V x) { return matmul(x[0], x[1], true, true); }, {r({4, 3}), r({5, 4})});
  // One row or one column of C: matrix-vector products (GEMV), every layout.
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      const std::string flags = std::string(ta ? " a^T" : "") + (tb ? " b^T" : "");
      add_case("matmul (one row)" + flags, [ta, tb](V x) { return matmul(x[0], x[1], ta, tb); },
               {r(ta ? Shape{4, 1} : Shape{1, 4}), r(tb ? Shape{5, 4} : Shape{4, 5})});
      add_case("matmul (one column)" + flags, [ta, tb](V x) { return matmul(x[0], x[1], ta, tb); },
               {r(ta ? Shape{4, 3} : Shape{3, 4}), r(tb ? Shape{1, 4} : Shape{4, 1})});
    }
  add_case("addmm (one row, bias added)", [](V x) { return addmm(x[0], x[1], x[2], false, true); },
           {r({1, 5}), r({1, 4}), r({5, 4})});
  add_case("addmm bias (N)", [](V x) { return addmm(x[0], x[1], x[2]); }, {r({5}), r({3, 4}), r({4, 5})});
  add_case("addmm bias (M, 1)", [](V x) { return addmm(x[0], x[1], x[2]); }, {r({3, 1}), r({3, 4}), r({4, 5})});
  add_case("addmm bias (M, N) b^T", [](V x) { return addmm(x[0], x[1], x[2], false, true); },
           {r({3, 5}), r({3, 4}), r({5, 4})});
  add_case("linear 3-D", [](V x) { return linear(x[0], x[1], x[2]); }, {r({2, 3, 4}), r({5, 4}), r({5})});
  add_case("bmm", [](V x) { return bmm(x[0], x[1]); }, {r({2, 3, 4}), r({2, 4, 5})});
  add_case("bmm (same tensor twice)", [](V x) { return bmm(x[0], x[0]); }, {r({2, 3, 3})});
  add_case("transpose", [](V x) { return transpose(x[0]); }, {r({3, 4})});
  add_case("transpose axes (0, 2)", [](V x) { return transpose(x[0], 0, 2); }, {r({2, 3, 4})});
  add_case("transpose axes (1, 0) 3-D", [](V x) { return transpose(x[0], 1, 0) * x[1]; }, {r({2, 3, 4}), r({3, 2, 4})});

  // Shape.
  add_case("reshape", [](V x) { return reshape(x[0], {6, -1}); }, {r({2, 3, 4})});
  add_case("reshape consuming a concat (its buffer taken)",
           [](V x) {
             return reshape(concat(std::vector<TensorD>{x[0], x[1] * x[1]}, 0), {-1, 6}) * 1.5;
           },
           {r({2, 3}), r({4, 3})});
  add_case("narrow", [](V x) { return narrow(x[0], 1, 1, 2); }, {r({2, 4, 3})});
  add_case("select", [](V x) { return select(x[0], 1, 2); }, {r({2, 4, 3})});
  add_case("slice", [](V x) { return slice(x[0], -1, 0, 2); }, {r({3, 4})});
  add_case("slice step 2, negative start", [](V x) { return slice(x[0], 1, -5, slice_end, 2); }, {r({2, 6, 3})});
  add_case("select negative", [](V x) { return select(x[0], 0, -1); }, {r({3, 4})});
  add_case("chunk (reordered)",
           [](V x) {
             auto p = chunk(x[0], 3, 1);
             return concat(std::vector<TensorD>{p[2], p[0] * 2.0, p[1]}, 1);
           },
           {r({2, 7})});
  add_case("split",
           [](V x) {
             auto p = split(x[0], {1, 3}, 0);
             return p[0] * sum(p[1], {0}, true);
           },
           {r({4, 3})});
  add_case("split, a piece unused",
           [](V x) {
             auto p = split(x[0], {2, 1, 2}, 1);
             return p[0] * p[2];
           },
           {r({3, 5})});
  add_case("unbind axis 0 (steps reused)",
           [](V x) {
             auto steps = unbind(x[0], 0);
             return steps[0] * steps[2] + steps[2];
           },
           {r({4, 2, 3})});
  add_case("unbind axis 1", [](V x) { return stack(unbind(x[0], 1), 0); }, {r({2, 3, 2})});
  add_case("concat axis 1", [](V x) { return concat(std::vector<TensorD>{x[0], x[1]}, 1); }, {r({2, 3}), r({2, 2})});
  add_case("stack axis 1",
           [](V x) {
             return stack(std::vector<TensorD>{x[0], x[1], x[0]}, 1);
           },
           {r({2, 3}), r({2, 3})});
  {
    xt::xarray<std::int64_t> rows = {{0, 2}, {2, 1}};
    add_case("index_select rows (repeats)", [rows](V x) { return index_select(x[0], rows, 0); }, {r({3, 4})});
    xt::xarray<std::int64_t> cols = {3, 0, 3};
    add_case("index_select axis 1", [cols](V x) { return index_select(x[0], cols, 1); }, {r({2, 4, 2})});
  }
  add_case("unsqueeze", [](V x) { return unsqueeze(x[0], 1) * x[1]; }, {r({2, 3}), r({4, 1})});
  add_case("squeeze", [](V x) { return squeeze(x[0], 1); }, {r({3, 1, 2})});
  add_case("expand", [](V x) { return expand(x[0], Shape{2, 3, 4}) * x[1]; }, {r({3, 1}), r({2, 3, 4})});
  add_case("repeat", [](V x) { return repeat(x[0], {2, 1, 3}) * x[1]; }, {r({2, 3, 2}), r({4, 3, 6})});
  add_case("flatten", [](V x) { return flatten(x[0], 1) * x[1]; }, {r({2, 3, 4}), r({2, 12})});
  add_case("permute", [](V x) { return permute(x[0], {2, 0, 1}) * x[1]; }, {r({2, 3, 4}), r({4, 2, 3})});
  {
    const xt::xarray<std::int64_t> index = {{0, 2, 2}, {1, 1, 0}};  // repeats accumulate
    add_case("gather axis 1", [index](V x) { return gather(x[0], 1, index); }, {r({2, 4})});
    const xt::xarray<std::int64_t> rows = {{2, 0, 1, 0}};
    add_case("gather axis 0", [rows](V x) { return gather(x[0], 0, rows); }, {r({3, 4})});
    add_case("scatter_add axis 1", [index](V x) { return scatter_add(x[0], 1, index, x[1]) * x[0]; },
             {r({2, 4}), r({2, 3})});
  }

  // Fused pointwise functions: every primitive of xgrad::pointwise, chunked
  // inputs read in place, a tensor given twice, an output nobody uses, and
  // sizes that leave a SIMD tail.
  add_case("fused_pointwise (every primitive)",
           [](V x) {
             auto [y] = fused_pointwise<3, 1>(
                 "every_primitive",
                 [](auto a, auto b, auto p) {
                   using namespace xgrad::pointwise;
                   return exp(a) * sigmoid(b) - tanh(a / p) + log(p) * sqrt(p) + relu(b) / (2.0 + p) - (1.5 - a) * 0.5 +
                          3.0 / p - -b + abs(b) * log1p(p);
                 },
                 x[0], x[1], x[2]);
             return y;
           },
           {r({3, 5}), away_from_zero({3, 5}, gen), positive({3, 5}, gen)});
  // (The LSTM and GRU cells' own functions are checked with their layers.)
  add_case("fused_pointwise (two outputs of four chunks and a tensor)",
           [](V x) {
             auto [u, v] = fused_pointwise<5, 2>(
                 "gated_pair",
                 [](auto p, auto q, auto r_, auto s, auto t) {
                   using namespace xgrad::pointwise;
                   const auto mixed = tanh(p) * t + sigmoid(q) * r_;
                   return std::tuple{mixed * sigmoid(s), exp(-mixed * mixed)};
                 },
                 in_chunks(x[0], 4), x[1]);
             return u * 2.0 + v;
           },
           {r({3, 4 * 19}), r({3, 19})});
  add_case("fused_pointwise (one tensor twice, one output unused)",
           [](V x) {
             auto [unused, y] = fused_pointwise<3, 2>(
                 "twice",
                 [](auto a, auto a_again, auto b) {
                   using namespace xgrad::pointwise;
                   return std::tuple{a + b, a * a_again * b};
                 },
                 x[0], x[0], x[1]);
             return y;
           },
           {r({37}), r({37})});
  add_case("fused_pointwise (chunks of one tensor combined)",
           [](V x) {
             auto [y] = fused_pointwise<3, 1>(
                 "chunks_combined",
                 [](auto a, auto b, auto c) {
                   using namespace xgrad::pointwise;
                   return a * b - c * a;
                 },
                 in_chunks(x[0], 2), x[1]);
             return y * x[1];
           },
           {r({2, 3, 2 * 17}), r({2, 3, 17})});

  // Composite: an LSTM-style step built from the ops above.
  add_case("composite gate step",
           [](V x) {
             auto gates = chunk(addmm(x[3], x[0], x[1], false, true) + matmul(x[2], x[4], false, true), 4, 1);
             auto c = sigmoid(gates[1]) * x[5] + sigmoid(gates[0]) * tanh(gates[2]);
             return sigmoid(gates[3]) * tanh(c);
           },
           {r({2, 3}), r({8, 3}), r({2, 2}), r({8}), r({8, 2}), r({2, 2})});
  add_case("composite loss",
           [](V x) {
             auto logits = linear(x[0], x[1], x[2]);
             return mean(logsumexp(logits, 1) - sum(logits * x[3], {1}));
           },
           {r({4, 3}), r({5, 3}), r({5}),
            TensorD::of({{1.0, 0, 0, 0, 0}, {0, 0, 1.0, 0, 0}, {0, 0, 0, 0, 1.0}, {0, 1.0, 0, 0, 0}})});
  return c;
}

bool run_gradcheck_table(const std::vector<GradcheckCase>& cases, std::ostream& out, bool verbose) {
  char line[256];
  std::snprintf(line, sizeof line, "%-44s %-28s %12s %12s  %s\n", "op", "input shapes", "max abs err", "max rel err",
                "result");
  out << line << std::string(106, '-') << "\n";
  std::size_t failed = 0;
  for (const auto& cs : cases) {
    const GradcheckResult r = gradcheck(cs.function, cs.inputs, cs.options);
    std::string shapes = cs.shapes.size() > 28 ? cs.shapes.substr(0, 25) + "..." : cs.shapes;
    std::snprintf(line, sizeof line, "%-44s %-28s %12.3e %12.3e  %s\n", cs.name.c_str(), shapes.c_str(),
                  r.max_abs_error, r.max_rel_error, r.passed ? "pass" : "FAIL");
    out << line;
    if (!r.passed) {
      ++failed;
      out << r.report();
    } else if (verbose) {
      out << "  " << r.report();
    }
  }
  out << std::string(106, '-') << "\n" << cases.size() - failed << " passed, " << failed << " failed\n";
  return failed == 0;
}

}  // namespace xgrad
