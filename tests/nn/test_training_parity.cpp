// Embedding, losses, optimizers, schedulers and clipping against PyTorch
// 1.13 (tests/fixtures/*.npz; see tests/fixtures/README.md).
#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>

#include "fixtures/fixtures.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/nn/clip.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/scheduler.hpp"

using namespace xgrad;
using namespace xgrad::nn;

TEST_CASE_TEMPLATE("Embedding with padding_idx matches PyTorch", T, float, double) {
  Embedding<T> emb(10, 4, 0);
  emb.weight.mutable_value() = fixtures::array<T>("embedding.npz", "embedding.param.weight");
  const auto idx = fixtures::array<std::int64_t>("embedding.npz", "embedding.indices");
  BasicTensor<T> out = emb.forward(idx);
  fixtures::check_close("embedding output", out.value(), fixtures::array<double>("embedding.npz", "embedding.output"),
                        1e-6, 1e-7);
  sum(out * BasicTensor<T>(fixtures::array<T>("embedding.npz", "embedding.dout.output"))).backward();
  const auto expected = fixtures::array<double>("embedding.npz", "embedding.grad.param.weight");
  fixtures::check_close("embedding weight grad", emb.weight.grad(), expected, 1e-6, 1e-7);
  for (std::size_t j = 0; j < 4; ++j) CHECK(emb.weight.grad()(0, j) == T(0));  // the padding row
}

namespace {

template <class T>
BasicTensor<T> run_loss(const std::string& loss, const BasicTensor<T>& input, const std::string& prefix, Reduction r) {
  if (loss == "cross_entropy" || loss == "nll") {
    const auto target = fixtures::array<std::int64_t>("losses.npz", prefix + ".target");
    return loss == "nll" ? nll_loss(input, target, r) : cross_entropy(input, target, r);
  }
  BasicTensor<T> target(fixtures::array<T>("losses.npz", prefix + ".target"));
  if (loss == "mse") return mse_loss(input, target, r);
  if (loss == "l1") return l1_loss(input, target, r);
  if (loss == "bce") return binary_cross_entropy(input, target, r);
  return binary_cross_entropy_with_logits(input, target, r);
}

}  // namespace

TEST_CASE_TEMPLATE("every loss and reduction matches PyTorch, values and input gradients", T, float, double) {
  const double rtol = sizeof(T) == 4 ? 1e-5 : 1e-10, atol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  int checked = 0;
  for (std::string loss : {"mse", "l1", "bce", "bce_with_logits", "cross_entropy", "nll"}) {
    for (auto [reduction, r] :
         {std::pair{"mean", Reduction::Mean}, std::pair{"sum", Reduction::Sum}, std::pair{"none", Reduction::None}}) {
      const std::string prefix = loss + "_" + reduction;
      // BCE's inputs include p within 1e-3 of 1: in float32, 1 - p itself
      // is only good to ~1e-4 relative (PyTorch's float32 BCE shares this).
      const double loss_rtol = sizeof(T) == 4 && loss == "bce" ? 2e-4 : rtol;
      BasicTensor<T> input(fixtures::array<T>("losses.npz", prefix + ".input"), true);
      BasicTensor<T> out = run_loss(loss, input, prefix, r);
      fixtures::check_close(prefix + " value", out.value(), fixtures::array<double>("losses.npz", prefix + ".output"),
                            loss_rtol, atol);
      if (r == Reduction::None) {
        sum(out * BasicTensor<T>(fixtures::array<T>("losses.npz", prefix + ".dout.output"))).backward();
      } else {
        out.backward();
      }
      fixtures::check_close(prefix + " grad", input.grad(),
                            fixtures::array<double>("losses.npz", prefix + ".grad.input"), loss_rtol, atol);
      ++checked;
    }
  }
  CHECK(checked == 18);
}

namespace {

template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const nlohmann::json& c, std::vector<BasicTensor<T>> params) {
  const std::string type = c["type"];
  if (type == "sgd") {
    return std::make_unique<SGD<T>>(params, SGDOptions{.lr = c["lr"],
                                                       .momentum = c["momentum"],
                                                       .dampening = c["dampening"],
                                                       .weight_decay = c["weight_decay"],
                                                       .nesterov = c["nesterov"]});
  }
  if (type == "adam" || type == "adamw") {
    AdamOptions o{.lr = c["lr"],
                  .beta1 = c["betas"][0],
                  .beta2 = c["betas"][1],
                  .eps = c["eps"],
                  .weight_decay = c["weight_decay"]};
    if (type == "adamw") return std::make_unique<AdamW<T>>(params, o);
    return std::make_unique<Adam<T>>(params, o);
  }
  REQUIRE(type == "rmsprop");
  return std::make_unique<RMSprop<T>>(params, RMSpropOptions{.lr = c["lr"],
                                                             .alpha = c["alpha"],
                                                             .eps = c["eps"],
                                                             .weight_decay = c["weight_decay"],
                                                             .momentum = c["momentum"],
                                                             .centered = c["centered"]});
}

}  // namespace

TEST_CASE_TEMPLATE("5 steps of every optimizer match PyTorch", T, float, double) {
  const double rtol = sizeof(T) == 4 ? 1e-5 : 1e-11, atol = sizeof(T) == 4 ? 1e-6 : 1e-12;
  const auto configs = fixtures::json("optimizer_configs.json");
  int checked = 0;
  for (const auto& [cfg, c] : configs.items()) {
    CAPTURE(cfg);
    BasicTensor<T> p0(fixtures::array<T>("optimizers.npz", "opt.p0.init"), true);
    BasicTensor<T> p1(fixtures::array<T>("optimizers.npz", "opt.p1.init"), true);
    auto opt = make_optimizer<T>(c, {p0, p1});
    for (int k = 0; k < 5; ++k) {
      p0.mutable_value() += T(0);  // values only change through the optimizer
      opt->zero_grad();
      sum(p0 * BasicTensor<T>(fixtures::array<T>("optimizers.npz", "opt.p0.grad." + std::to_string(k)))).backward();
      sum(p1 * BasicTensor<T>(fixtures::array<T>("optimizers.npz", "opt.p1.grad." + std::to_string(k)))).backward();
      opt->step();
      const std::string step = ".step" + std::to_string(k + 1);
      fixtures::check_close(cfg + " p0" + step, p0.value(),
                            fixtures::array<double>("optimizers.npz", cfg + ".p0" + step), rtol, atol);
      fixtures::check_close(cfg + " p1" + step, p1.value(),
                            fixtures::array<double>("optimizers.npz", cfg + ".p1" + step), rtol, atol);
    }
    ++checked;
  }
  CHECK(checked == 9);
}

TEST_CASE("StepLR and ReduceLROnPlateau follow PyTorch's schedules") {
  BasicTensor<float> p = Tensor::zeros({1}, true);
  SGD<float> sgd({p}, {.lr = 1.0});
  StepLR<float> step_lr(sgd, 2, 0.5);
  const auto expected = fixtures::array<double>("optimizers.npz", "steplr.lrs");
  for (std::size_t i = 0; i < expected.size(); ++i) {
    step_lr.step();
    CHECK(sgd.lr() == doctest::Approx(expected(i)));
  }
  SGD<float> sgd2({p}, {.lr = 1.0});
  ReduceLROnPlateau<float> plateau(sgd2, {.factor = 0.5, .patience = 2, .threshold = 1e-4});
  const auto losses = fixtures::array<double>("optimizers.npz", "plateau.losses");
  const auto lrs = fixtures::array<double>("optimizers.npz", "plateau.lrs");
  for (std::size_t i = 0; i < losses.size(); ++i) {
    plateau.step(losses(i));
    CHECK(sgd2.lr() == doctest::Approx(lrs(i)));
  }
  CHECK_THROWS_AS(plateau.step(std::nan("")), std::invalid_argument);
}

TEST_CASE("clip_grad_norm matches PyTorch; clip_grad_value clamps") {
  TensorD a = TensorD::zeros({3, 4}, true), b = TensorD::zeros({4}, true);
  a.backward(TensorD(fixtures::array<double>("optimizers.npz", "clip.g0")));
  b.backward(TensorD(fixtures::array<double>("optimizers.npz", "clip.g1")));
  const double total = clip_grad_norm<double>({a, b}, 1.0);
  CHECK(total == doctest::Approx(fixtures::array<double>("optimizers.npz", "clip.norm_total")()).epsilon(1e-12));
  fixtures::check_close("clipped g0", a.grad(), fixtures::array<double>("optimizers.npz", "clip.g0_clipped"), 1e-12,
                        1e-14);
  fixtures::check_close("clipped g1", b.grad(), fixtures::array<double>("optimizers.npz", "clip.g1_clipped"), 1e-12,
                        1e-14);
  clip_grad_value<double>({a}, 0.01);
  for (double g : a.grad()) CHECK(std::abs(g) <= 0.01);
  a.mutable_grad()(0, 0) = std::nan("");
  CHECK_THROWS_AS(clip_grad_norm<double>({a}, 1.0), std::domain_error);
}
