// A new differentiable op written outside xgrad: Mish (Misra, 2019),
//   mish(x)  = x * tanh(softplus(x)),  softplus(x) = log(1 + e^x)
//   mish'(x) = tanh(sp) + x * (1 - tanh(sp)^2) * sigmoid(x),  sp = softplus(x)
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

// softplus computed stably: max(x, 0) + log1p(exp(-|x|)).
template <class E>
auto softplus(const E& x) {
  return xt::maximum(x, 0.0) + xt::log1p(xt::exp(-xt::abs(x)));
}

template <class T>
xgrad::BasicTensor<T> mish(const xgrad::BasicTensor<T>& x) {
  xt::xarray<T> out = x.value() * xt::tanh(softplus(x.value()));
  return xgrad::record_op<T>("mish", std::move(out), xgrad::requires_grad_any(x), [x](const xt::xarray<T>& g) {
    const auto& a = x.value();
    const xt::xarray<T> t = xt::tanh(softplus(a));
    const xt::xarray<T> s = T(1) / (T(1) + xt::exp(-a));
    xgrad::accumulate_grad(x, g * (t + a * (T(1) - t * t) * s));
  });
}

}  // namespace

int main() {
  using namespace xgrad;

  // 1. The derivative rule against central finite differences, in double,
  //    with inputs that cover both tails and the kink-free middle.
  Generator gen(7);
  const TensorD x = normal<double>({4, 5}, 0.0, 2.0, gen, /*requires_grad=*/true);
  const GradcheckResult check = gradcheck([](const std::vector<TensorD>& in) { return mish(in[0]); }, {x});
  std::printf("gradcheck mish (4, 5): %s, max abs error %.2e, max rel error %.2e over %zu comparisons\n",
              check.passed ? "passed" : "FAILED", check.max_abs_error, check.max_rel_error, check.checked);
  if (!check.passed) {
    std::printf("%s\n", check.report().c_str());
    return 1;
  }

  // 2. Known values: mish(0) = 0, mish(1) = tanh(log(1 + e)) = 0.8650984, mish(-1) = -0.3034015.
  const Tensor probe = mish(Tensor::of({0.0f, 1.0f, -1.0f}));
  const float expected[3] = {0.0f, 0.8650984f, -0.3034015f};
  for (int i = 0; i < 3; ++i) {
    if (std::fabs(probe.value()(i) - expected[i]) > 1e-6f) {
      std::printf("mish value %d: %.7f, expected %.7f\n", i, probe.value()(i), expected[i]);
      return 1;
    }
  }

  // 3. The op inside a model: a 2-layer MLP with Mish fits y = sin(3x).
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
    Tensor loss = nn::mse_loss(out.forward(mish(hidden.forward(inputs))), targets);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  std::printf("MLP with mish on sin(3x): MSE %.3e -> %.3e after 500 Adam steps\n", first, last);
  return last < 0.1f * first ? 0 : 1;
}
