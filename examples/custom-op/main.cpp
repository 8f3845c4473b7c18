// A new differentiable op written outside xgrad: GELU (exact, with erf),
//   gelu(x)  = x * Phi(x),        Phi(x) = (1 + erf(x / sqrt 2)) / 2
//   gelu'(x) = Phi(x) + x * phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// The forward computes the value; record_op puts the derivative rule on the
// tape beside it. Then the public gradient checker compares the rule with
// finite differences, and a small model trains through the op.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <xtensor/xmath.hpp>

#include <xgrad/autograd/function.hpp>  // record_op, accumulate_grad: the op-authoring API
#include <xgrad/nn.hpp>

namespace {

template <class T>
xgrad::BasicTensor<T> gelu(const xgrad::BasicTensor<T>& x) {
  const T inv_sqrt2 = T(1) / std::sqrt(T(2));
  const T inv_sqrt_2pi = T(1) / std::sqrt(T(2) * T(3.14159265358979323846));
  xt::xarray<T> out = x.value() * (T(0.5) * (T(1) + xt::erf(x.value() * inv_sqrt2)));
  return xgrad::record_op<T>("gelu", std::move(out), xgrad::requires_grad_any(x),
                             [x, inv_sqrt2, inv_sqrt_2pi](const xt::xarray<T>& g) {
                               const auto& a = x.value();
                               const xt::xarray<T> cdf = T(0.5) * (T(1) + xt::erf(a * inv_sqrt2));
                               const xt::xarray<T> pdf = inv_sqrt_2pi * xt::exp(T(-0.5) * a * a);
                               xgrad::accumulate_grad(x, g * (cdf + a * pdf));
                             });
}

}  // namespace

int main() {
  using namespace xgrad;

  // 1. The derivative rule against central finite differences, in double,
  //    with inputs that cover both tails and the kink-free middle.
  Generator gen(7);
  const TensorD x = normal<double>({4, 5}, 0.0, 2.0, gen, /*requires_grad=*/true);
  const GradcheckResult check = gradcheck([](const std::vector<TensorD>& in) { return gelu(in[0]); }, {x});
  std::printf("gradcheck gelu (4, 5): %s, max abs error %.2e, max rel error %.2e over %zu comparisons\n",
              check.passed ? "passed" : "FAILED", check.max_abs_error, check.max_rel_error, check.checked);
  if (!check.passed) {
    std::printf("%s\n", check.report().c_str());
    return 1;
  }

  // 2. Known values: gelu(0) = 0, gelu(1) = Phi(1) = 0.8413447, gelu(-1) = -0.1586553.
  const Tensor probe = gelu(Tensor::of({0.0f, 1.0f, -1.0f}));
  const float expected[3] = {0.0f, 0.8413447f, -0.1586553f};
  for (int i = 0; i < 3; ++i) {
    if (std::fabs(probe.value()(i) - expected[i]) > 1e-6f) {
      std::printf("gelu value %d: %.7f, expected %.7f\n", i, probe.value()(i), expected[i]);
      return 1;
    }
  }

  // 3. The op inside a model: a 2-layer MLP with GELU fits y = sin(3x).
  manual_seed(0);
  nn::Linear<> hidden(1, 32), out(32, 1);
  std::vector<Tensor> params = hidden.parameters();
  for (const auto& p : out.parameters()) params.push_back(p);
  nn::Adam<> opt(params, {.lr = 0.01});
  const Tensor inputs = uniform<float>({256, 1}, -1.0f, 1.0f, default_generator());
  const Tensor targets(xt::sin(3.0f * inputs.value()));
  float first = 0, last = 0;
  for (int step = 0; step < 500; ++step) {
    opt.zero_grad();
    Tensor loss = nn::mse_loss(out.forward(gelu(hidden.forward(inputs))), targets);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  std::printf("MLP with gelu on sin(3x): MSE %.3e -> %.3e after 500 Adam steps\n", first, last);
  return last < 0.1f * first ? 0 : 1;
}
