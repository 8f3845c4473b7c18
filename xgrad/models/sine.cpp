// Labs L2 (sine with a library LSTM) and L1 (the LSTM written from its gate
// equations): x = linspace(0, 100, 1000), y = sin(x); windows of 50 values
// predict the next; LSTM(1 -> 50) then Linear(50 -> 1) on the last step; MSE,
// Adam lr 0.01, 50 full-batch epochs.
#include <cmath>
#include <cstdio>
#include <memory>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/datasets/sequence.hpp"
#include "xgrad/models/experiment_support.hpp"
#include "xgrad/models/scratch_lstm.hpp"
#include "xgrad/models/zoo_run.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace xgrad::zoo {

namespace {

constexpr std::size_t kWindow = 50, kHidden = 50;

// L2's model: the library LSTM, the last step's hidden state, a Linear head.
struct SineModel : nn::Module<> {
  std::shared_ptr<nn::LSTM<>> lstm = register_module(
      "lstm",
      std::make_shared<nn::LSTM<>>(nn::LSTMOptions{.input_size = 1, .hidden_size = kHidden, .batch_first = true}));
  std::shared_ptr<nn::Linear<>> fc = register_module("fc", std::make_shared<nn::Linear<>>(kHidden, 1));
  Tensor forward(const Tensor& x) override {  // (B, T, 1) -> (B, 1)
    return fc->forward(select(lstm->forward(x, {}, {}).h_n, 0, 0));
  }
};

// L1's model: the gate-equation cell unrolled by user code, same head.
struct ScratchSineModel : nn::Module<> {
  std::shared_ptr<models::ScratchLSTMCell<>> cell =
      register_module("cell", std::make_shared<models::ScratchLSTMCell<>>(1, kHidden));
  std::shared_ptr<nn::Linear<>> fc = register_module("fc", std::make_shared<nn::Linear<>>(kHidden, 1));
  Tensor forward(const Tensor& x) override { return fc->forward(cell->run(x).h); }
};

// Shows that the scratch cell computes what nn::LSTM computes: the same
// weights give the same outputs and gradients on the lab's data.
void compare_with_library_lstm(const Tensor& x, bool quiet, nlohmann::json& final) {
  nn::LSTM<> lstm({.input_size = 1, .hidden_size = kHidden, .batch_first = true});
  models::ScratchLSTMCell<> cell(1, kHidden);
  cell.copy_from(lstm);
  Tensor x_small = narrow(x, 0, 0, 64);
  auto reference = lstm.forward(x_small, {}, {});
  auto mine = cell.run(x_small);
  const float out_diff = xt::amax(xt::abs(mine.outputs.value() - reference.output.value()))();
  sum(reference.output * reference.output).backward();
  sum(mine.outputs * mine.outputs).backward();
  const auto& dw_hh_f =
      xt::view(lstm.layer_parameters(0, 0).weight_hh.grad(), xt::range(kHidden, 2 * kHidden), xt::all());
  const float grad_diff = xt::amax(xt::abs(xt::view(cell.W_f.grad(), xt::all(), xt::range(0, kHidden)) - dw_hh_f))();
  final["scratch_vs_nn_lstm_max_output_diff"] = out_diff;
  final["scratch_vs_nn_lstm_max_grad_diff"] = grad_diff;
  if (!quiet) {
    std::printf(
        "L1 cell vs nn::LSTM with the same weights (64 windows): max |output diff| %.2e, max |dW_f diff| %.2e\n\n",
        out_diff, grad_diff);
  }
}

template <class Model>
RunSummary run_sine(const RunOptions& options, const std::string& name, const std::string& lab) {
  const std::size_t epochs = options.epochs.value_or(options.quick ? 20 : 50);
  const double lr = options.lr.value_or(0.01);
  nlohmann::json config = {{"epochs", epochs},          {"lr", lr},
                           {"window", kWindow},         {"hidden", kHidden},
                           {"batch", "full (950)"},     {"seed", options.seed},
                           {"threads", options.threads}};
  if (options.batch_size) config["batch"] = *options.batch_size;
  ZooRun run(options, name, lab, config);

  const xt::xarray<float> wave = data::sine_wave(1000, 0.0, 100.0);
  const Tensor x(data::window_inputs(wave, kWindow));   // (950, 50, 1)
  const Tensor y(data::window_targets(wave, kWindow));  // (950, 1)
  Model model;
  nlohmann::json final;
  if constexpr (std::is_same_v<Model, ScratchSineModel>) compare_with_library_lstm(x, options.quiet, final);
  nn::Adam<> opt(model.parameters(), {.lr = lr});
  data::DataLoader loader(x, y, {.batch_size = options.batch_size.value_or(x.size(0))});
  run.fit(model, opt, train::task(model, nn::mse_loss), loader, {.epochs = epochs});
  run.print_epochs({"train_loss"}, 0);

  // Predictions over every window, against the true next values.
  const Tensor predicted = train::predict(model, x);
  final["mse"] = nn::mse_loss(predicted, y).item();
  if (const auto losses = run.column("train_loss"); !losses.empty()) final["train_loss"] = losses.back();
  Series truth{"sin(x)", {}, {}}, pred{"xgrad LSTM", {}, {}};
  for (std::size_t i = 0; i < y.size(0); ++i) {
    const double t = 100.0 * static_cast<double>(i + kWindow) / 999.0;
    truth.x.push_back(t);
    truth.y.push_back(y.value()(i, 0));
    pred.x.push_back(t);
    pred.y.push_back(predicted.value()(i, 0));
  }
  if (!options.quiet) std::printf("final MSE over the 950 windows: %s\n", fixed(final["mse"]).c_str());
  return run.finish(final,
                    {{"loss",
                      name + ": training loss (MSE)",
                      "epoch",
                      "loss",
                      {run.curve("train_loss", "xgrad"), run.lab_curve("train_loss", "lab (L2)")},
                      true},
                     {"predictions", name + ": next-value predictions vs the true wave", "x", "value", {truth, pred}}});
}

// The `steps` values after the wave's end (x = 100), each predicted from
// the 50 before it: the wave's own values first, then the predictions.
template <class Model>
std::string predict_sine(const std::string& run_dir, const PredictOptions& request, const std::string& name) {
  const RunFolder folder = open_run_folder(run_dir, name);
  Model model;
  folder.load_into(model);
  const xt::xarray<float> wave = data::sine_wave(1000, 0.0, 100.0);
  std::vector<float> window(wave.end() - kWindow, wave.end());
  std::string out = "x         predicted  sin(x)\n";
  for (std::size_t i = 1; i <= request.steps; ++i) {
    xt::xarray<float> input = xt::xarray<float>::from_shape({1, kWindow, 1});
    std::copy(window.begin(), window.end(), input.begin());
    const float next = train::predict(model, Tensor(std::move(input))).item();
    const double x = 100.0 + 100.0 * static_cast<double>(i) / 999.0;
    char line[96];
    std::snprintf(line, sizeof line, "%-9.4f %-10.4f %.4f\n", x, next, std::sin(x));
    out += line;
    window.erase(window.begin());
    window.push_back(next);
  }
  return out;
}

}  // namespace

Experiment sine_experiment() {
  return {"sine",
          "L2",
          "sine-wave next-value forecasting with nn::LSTM (the default demo)",
          "none (generated)",
          [](const RunOptions& o) { return run_sine<SineModel>(o, "sine", "L2"); },
          [](const std::string& dir, const PredictOptions& p) { return predict_sine<SineModel>(dir, p, "sine"); }};
}

Experiment sine_scratch_experiment() {
  return {"sine-scratch",
          "L1",
          "the same task with an LSTM cell written from the gate equations as user code",
          "none (generated)",
          [](const RunOptions& o) { return run_sine<ScratchSineModel>(o, "sine-scratch", "L1"); },
          [](const std::string& dir, const PredictOptions& p) {
            return predict_sine<ScratchSineModel>(dir, p, "sine-scratch");
          }};
}

}  // namespace xgrad::zoo
