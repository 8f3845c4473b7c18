// A new differentiable op written outside xgrad: Mish (Misra, 2019),
//   mish(x)  = x * tanh(softplus(x)),  softplus(x) = log(1 + e^x)
//   mish'(x) = tanh(sp) + x * (1 - tanh(sp)^2) * sigmoid(x),  sp = softplus(x)
// The forward computes the value; record_op puts the derivative rule on the
// tape beside it. Then the public gradient checker compares the rule with
// finite differences, and a small model trains through the op. Last, the
// same function as a fused pointwise op, whose derivative nobody writes.
// pytorch_equivalent.py beside this file is the same program in PyTorch.
#include <cstdio>

#include <xgrad/autograd/function.hpp>   // record_op, accumulate_grad: the op-authoring API
#include <xgrad/autograd/pointwise.hpp>  // fused_pointwise
#include <xgrad/nn.hpp>
#include <xtensor/xmath.hpp>

using namespace xgrad;

// softplus computed stably: max(x, 0) + log1p(exp(-|x|)).
template <class T>
xt::xarray<T> softplus(const xt::xarray<T>& x) {
  return xt::maximum(x, T(0)) + xt::log1p(xt::exp(-xt::abs(x)));
}

template <class T>
BasicTensor<T> mish(const BasicTensor<T>& x) {
  return record_op<T>("mish", x.value() * xt::tanh(softplus(x.value())), requires_grad_any(x),
                      [x](const xt::xarray<T>& g) {
                        const xt::xarray<T> t = xt::tanh(softplus(x.value()));
                        accumulate_grad(x, g * (t + x.value() * (T(1) - t * t) / (T(1) + xt::exp(-x.value()))));
                      });
}

// Mish again, as one fused pointwise op: the function is written once, for
// values and dual numbers alike, and backward differentiates it (forward
// mode) instead of a rule written by hand.
template <class T>
BasicTensor<T> mish_fused(const BasicTensor<T>& x) {
  auto [y] = fused_pointwise<1, 1>(
      "mish",
      [](auto v) {
        using namespace xgrad::pointwise;
        return v * tanh(relu(v) + log1p(exp(-abs(v))));  // the stable softplus above
      },
      x);
  return y;
}

int main() {
  // 1. The derivative rule against central finite differences, in double.
  Generator gen(7);
  const TensorD x = normal<double>({4, 5}, 0.0, 2.0, gen, /*requires_grad=*/true);
  const GradcheckResult check = gradcheck([](const std::vector<TensorD>& in) { return mish(in[0]); }, {x});
  std::printf("gradcheck mish (4, 5): %s, max rel error %.2e\n", check.passed ? "passed" : "FAILED",
              check.max_rel_error);
  if (!check.passed) return std::printf("%s\n", check.report().c_str()), 1;
  // 2. Known values: mish(0) = 0, mish(1) = 0.8650984, mish(-1) = -0.3034015.
  const Tensor probe = mish(Tensor::of({0.0f, 1.0f, -1.0f}));
  if (!xt::allclose(probe.value(), xt::xarray<float>({0.0f, 0.8650984f, -0.3034015f}), 0.0, 1e-6))
    return std::printf("mish values %s\n", probe.to_string().c_str()), 1;
  // 3. The op inside a model: a 2-layer MLP with Mish fits y = sin(3x).
  manual_seed(0);
  nn::Sequential<> model({std::make_shared<nn::Linear<>>(1, 32), std::make_shared<nn::Lambda<>>(mish<float>),
                          std::make_shared<nn::Linear<>>(32, 1)});
  nn::Adam<> opt(model.parameters(), {.lr = 0.01});
  const Tensor inputs = uniform<float>({256, 1}, -1.0f, 1.0f, default_generator());
  const Tensor targets(xt::sin(3.0f * inputs.value()));
  float first = 0, last = 0;
  for (int step = 0; step < 500; ++step) {
    opt.zero_grad();
    Tensor loss = nn::mse_loss(model(inputs), targets);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  std::printf("MLP with mish on sin(3x): MSE %.3e -> %.3e after 500 Adam steps\n", first, last);
  if (!(last < 0.1f * first)) return 1;
  // 4. The fused Mish: gradcheck, and the same values and gradients as the hand-written rule.
  const GradcheckResult fused_check = gradcheck([](const std::vector<TensorD>& in) { return mish_fused(in[0]); }, {x});
  std::printf("gradcheck fused mish (4, 5): %s, max rel error %.2e\n", fused_check.passed ? "passed" : "FAILED",
              fused_check.max_rel_error);
  if (!fused_check.passed) return std::printf("%s\n", fused_check.report().c_str()), 1;
  const TensorD by_rule = mish(x);
  sum(by_rule).backward();
  const xt::xarray<double> rule_grad = x.grad();
  const TensorD fused = mish_fused(x);
  sum(fused).backward();  // adds to x's gradient: twice the rule's if they agree
  const bool same = xt::allclose(fused.value(), by_rule.value(), 1e-14, 1e-14) &&
                    xt::allclose(x.grad(), 2.0 * rule_grad, 1e-12, 1e-14);
  std::printf("fused mish vs the rule: values and gradients %s\n", same ? "agree" : "DIFFER");
  return same ? 0 : 1;
}
