// train::fit end to end: it learns, logs what Keras logs, and its callbacks
// (History, EarlyStopping, ModelCheckpoint, LambdaCallback) do what Keras's
// do; a NaN loss, an interrupt and a resume behave.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "xgrad/nn.hpp"
#include "xgrad/train/fit.hpp"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

fs::path scratch() {
  const fs::path dir = fs::temp_directory_path() / ("xgrad-fit-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// y = 2 x0 - 3 x1 + 0.5 plus a small deterministic wiggle (so the loss
// stays well above float rounding): linear regression recovers the line.
struct Regression {
  Tensor x, y;
  explicit Regression(std::size_t n) {
    Generator g(5);
    x = randn<float>({n, 2}, g);
    xt::xarray<float> t = xt::xarray<float>::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i)
      t(i, 0) = 2 * x.value()(i, 0) - 3 * x.value()(i, 1) + 0.5f + 0.05f * std::sin(1.7f * static_cast<float>(i));
    y = Tensor(t);
  }
};

data::LoaderOptions batches(std::size_t size, bool shuffle, std::uint32_t seed = 1) {
  data::LoaderOptions o;
  o.batch_size = size;
  o.shuffle = shuffle;
  o.seed = seed;
  return o;
}

// Regression with mean squared error, model(inputs) against the float targets.
train::Task<data::Batch> mse_task(nn::Module<float>& model) {
  return train::task(model, [](const Tensor& p, const Tensor& t) { return nn::mse_loss(p, t); });
}

// A metric whose epoch results follow a script (1 value per epoch).
class Scripted : public train::Metric {
 public:
  explicit Scripted(std::vector<double> values) : values_(std::move(values)) {}
  std::string name() const override { return "score"; }
  void reset() override { ++epoch_; }
  void update(const Tensor&, const Tensor&, const xt::xarray<std::int64_t>&) override {}
  double result() const override { return values_.at(epoch_ - 1); }

 private:
  std::vector<double> values_;
  std::size_t epoch_ = 0;
};

}  // namespace

TEST_CASE("fit learns a linear regression and logs loss, metrics, validation and lr per epoch") {
  manual_seed(0);
  Regression train_data(256), val_data(64);
  data::DataLoader train(train_data.x, train_data.y, batches(32, true));
  data::DataLoader val(val_data.x, val_data.y, batches(64, false));
  nn::Linear<> model(2, 1);
  nn::SGD<> opt(model.parameters(), {.lr = 0.1});
  train::FitOptions options;
  options.epochs = 60;
  options.verbose = false;
  options.metrics = {train::root_mean_squared_error()};
  const train::History h = train::fit(model, opt, mse_task(model), train, options, &val);
  REQUIRE(h.epochs.size() == 60);
  for (const char* key : {"loss", "rmse", "val_loss", "val_rmse", "lr"}) CHECK(h.epochs.back().count(key) == 1);
  CHECK(h.epochs.back().at("lr") == doctest::Approx(0.1));
  // The loss is the batch-size-weighted mean: rmse^2 of the same pass is
  // close to it (the weights move during the pass), and validation's is exact.
  CHECK(h.epochs.back().at("val_rmse") * h.epochs.back().at("val_rmse") ==
        doctest::Approx(h.epochs.back().at("val_loss")).epsilon(1e-4));
  CHECK(h.values("loss").front() > 100 * h.values("loss").back());
  CHECK(model.weight.value()(0, 0) == doctest::Approx(2.0).epsilon(1e-2));
  CHECK(model.weight.value()(0, 1) == doctest::Approx(-3.0).epsilon(1e-2));
  CHECK(model.bias.value()(0) == doctest::Approx(0.5).epsilon(5e-2));
  // evaluate: the same figures as the last validation pass.
  const train::Logs v = train::evaluate(model, mse_task(model), val, {train::root_mean_squared_error()});
  CHECK(v.at("loss") == doctest::Approx(h.epochs.back().at("val_loss")));
  CHECK(model.is_training());
}

TEST_CASE("fit with int64 labels and cross_entropy reaches full accuracy on separable classes") {
  manual_seed(1);
  const std::size_t n = 120;
  Generator g(2);
  Tensor x = randn<float>({n, 2}, g);
  xt::xarray<std::int64_t> labels = xt::xarray<std::int64_t>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) {
    const float a = x.value()(i, 0), b = x.value()(i, 1);
    labels(i) = a + b > 0 ? (a > b ? 0 : 1) : 2;  // three regions split by lines
  }
  data::DataLoader loader(x, labels, batches(16, true));
  nn::Linear<> model(2, 3);
  nn::Adam<> opt(model.parameters(), {.lr = 0.1});
  train::FitOptions options;
  options.epochs = 80;
  options.verbose = false;
  options.metrics = {train::accuracy()};
  const auto h =
      train::fit(model, opt,
                 train::task_with_labels(
                     model, [](const Tensor& p, const xt::xarray<std::int64_t>& y) { return nn::cross_entropy(p, y); }),
                 loader, options);
  CHECK(h.epochs.back().at("accuracy") >= 0.95);
  CHECK(h.epochs.front().at("accuracy") < h.epochs.back().at("accuracy"));
}

TEST_CASE("EarlyStopping stops after `patience` epochs without improvement and restores the best weights") {
  manual_seed(2);
  Regression d(32);
  data::DataLoader loader(d.x, d.y, batches(8, false));
  nn::Linear<> model(2, 1);
  nn::SGD<> opt(model.parameters(), {.lr = 0.01});
  std::vector<nn::Module<float>::StateDict> weights;  // after each epoch
  auto stopper = std::make_shared<train::EarlyStopping>(
      train::EarlyStoppingOptions{.monitor = "score", .patience = 1, .restore_best_weights = true});
  train::FitOptions options;
  options.epochs = 10;
  options.verbose = false;
  options.metrics = {std::make_shared<Scripted>(std::vector<double>{0.1, 0.5, 0.4, 0.3, 0.9, 1, 1, 1, 1, 1})};
  options.callbacks = {std::make_shared<train::LambdaCallback>(
                           [&](const train::Logs&, train::TrainState& s) { weights.push_back(s.model.state_dict()); }),
                       stopper};
  const auto h = train::fit(model, opt, mse_task(model), loader, options);
  // "score" (auto mode: larger is better? no: not acc/f1, so smaller) ...
  // 0.1 is the best (min), then 0.5 and 0.4 are worse: stop after epoch 2.
  CHECK(h.epochs.size() == 3);
  CHECK(stopper->best_epoch() == 0u);
  CHECK(stopper->stopped_epoch() == 2u);
  CHECK(model.state_dict() == weights.at(0));
  CHECK(model.state_dict() != weights.at(2));

  // mode max: 0.5 at epoch 1 is the best until 0.9 at epoch 4 comes too late (patience 1).
  auto max_stopper = std::make_shared<train::EarlyStopping>(
      train::EarlyStoppingOptions{.monitor = "score", .patience = 1, .mode = train::Mode::max});
  options.callbacks = {max_stopper};
  options.metrics = {std::make_shared<Scripted>(std::vector<double>{0.1, 0.5, 0.4, 0.3, 0.9, 1, 1, 1, 1, 1})};
  const auto h2 = train::fit(model, opt, mse_task(model), loader, options);
  CHECK(h2.epochs.size() == 4);
  CHECK(max_stopper->best_epoch() == 1u);
  // A missing key is named, with the keys there are.
  options.callbacks = {std::make_shared<train::EarlyStopping>()};  // val_loss, but no validation loader
  options.metrics = {};
  CHECK_THROWS_WITH_AS(train::fit(model, opt, mse_task(model), loader, options),
                       doctest::Contains("no 'val_loss' (they have loss, lr)"), std::invalid_argument);
}

TEST_CASE("ModelCheckpoint saves the best epoch; History writes CSV and JSON") {
  manual_seed(3);
  const fs::path dir = scratch();
  Regression d(32);
  data::DataLoader loader(d.x, d.y, batches(8, false));
  nn::Linear<> model(2, 1);
  nn::SGD<> opt(model.parameters(), {.lr = 0.01});
  auto checkpoint = std::make_shared<train::ModelCheckpoint>((dir / "best.npz").string(),
                                                             train::ModelCheckpointOptions{.monitor = "score"});
  std::vector<nn::Module<float>::StateDict> weights;
  train::FitOptions options;
  options.epochs = 5;
  options.verbose = false;
  options.metrics = {std::make_shared<Scripted>(std::vector<double>{0.5, 0.2, 0.3, 0.1, 0.4})};
  options.callbacks = {checkpoint,
                       std::make_shared<train::LambdaCallback>(
                           [&](const train::Logs&, train::TrainState& s) { weights.push_back(s.model.state_dict()); })};
  const auto h = train::fit(model, opt, mse_task(model), loader, options);
  CHECK(checkpoint->last_saved_epoch() == 3u);
  nn::Linear<> restored(2, 1);
  const auto info = nn::load_checkpoint((dir / "best.npz").string(), restored);
  CHECK(info.epoch == 3);
  CHECK(restored.state_dict() == weights.at(3));
  CHECK(nlohmann::json::parse(info.extra_json).at("score") == doctest::Approx(0.1));

  h.write_csv((dir / "history.csv").string());
  h.write_json((dir / "history.json").string());
  std::ifstream csv(dir / "history.csv");
  std::string header, first;
  std::getline(csv, header);
  std::getline(csv, first);
  CHECK(header == "epoch,loss,lr,score");
  CHECK(first.rfind("1,", 0) == 0);
  std::ifstream json_file(dir / "history.json");
  const auto j = nlohmann::json::parse(json_file);
  CHECK(j.at("epochs").size() == 5);
  CHECK(j.at("epochs")[4].at("score") == doctest::Approx(0.4));
  CHECK(j.at("epochs")[2].at("loss") == doctest::Approx(h.epochs[2].at("loss")));
  fs::remove_all(dir);
}

TEST_CASE("fit: a NaN loss is named with its epoch and batch; Ctrl-C stops cleanly") {
  manual_seed(4);
  Regression d(32);
  data::DataLoader loader(d.x, d.y, batches(8, false));
  nn::Linear<> model(2, 1);
  nn::SGD<> opt(model.parameters(), {.lr = 0.01});
  train::FitOptions options;
  options.epochs = 3;
  options.verbose = false;
  std::size_t calls = 0;
  train::Task<data::Batch> poisoned{[&](const data::Batch& b) {
                                      Tensor p = model.forward(b.inputs);
                                      return ++calls == 6 ? p * std::nanf("") : p;
                                    },
                                    mse_task(model).loss};
  CHECK_THROWS_WITH_AS(train::fit(model, opt, poisoned, loader, options),
                       doctest::Contains("fit: epoch 2, batch 2: mse_loss: the loss is NaN"), std::domain_error);
  // A loss that does not check itself: fit's own check.
  calls = 0;
  train::Task<data::Batch> unchecked{poisoned.predict,
                                     [](const Tensor& p, const data::Batch& b) { return mean(p - b.targets); }};
  CHECK_THROWS_WITH_AS(train::fit(model, opt, unchecked, loader, options),
                       doctest::Contains("fit: epoch 2, batch 2: the loss is NaN"), std::domain_error);

  // SIGINT during the second epoch: the first is logged, the second is not,
  // and the program's own handler is back afterwards.
  struct sigaction mine {
  }, seen{};
  mine.sa_handler = SIG_IGN;
  sigaction(SIGINT, &mine, nullptr);
  calls = 0;
  train::Task<data::Batch> interrupting{[&](const data::Batch& b) {
                                          if (++calls == 6) std::raise(SIGINT);
                                          return model.forward(b.inputs);
                                        },
                                        mse_task(model).loss};
  const auto h = train::fit(model, opt, interrupting, loader, options);
  CHECK(h.epochs.size() == 1);
  CHECK(calls == 6);  // the batch that was running finished, no more
  sigaction(SIGINT, nullptr, &seen);
  CHECK((seen.sa_handler == SIG_IGN));
  sigaction(SIGINT, nullptr, nullptr);
  mine.sa_handler = SIG_DFL;
  sigaction(SIGINT, &mine, nullptr);
}

TEST_CASE("fit resumed from a checkpoint continues bit-exactly") {
  const fs::path dir = scratch();
  Regression d(64);
  auto run = [&](std::size_t epochs, std::size_t initial_epoch, nn::Linear<>& model, nn::Adam<>& opt) {
    data::DataLoader loader(d.x, d.y, batches(8, true, 9));  // shuffled: the resume must replay the permutations
    train::FitOptions options;
    options.epochs = epochs;
    options.initial_epoch = initial_epoch;
    options.verbose = false;
    train::fit(model, opt, mse_task(model), loader, options);
  };
  manual_seed(6);
  nn::Linear<> straight(2, 1);
  nn::Adam<> straight_opt(straight.parameters(), {.lr = 0.01});
  run(4, 0, straight, straight_opt);

  manual_seed(6);
  nn::Linear<> first(2, 1);
  nn::Adam<> first_opt(first.parameters(), {.lr = 0.01});
  run(2, 0, first, first_opt);
  nn::save_checkpoint((dir / "ckpt.npz").string(), first, &first_opt, {.epoch = 2});
  nn::Linear<> resumed(2, 1);
  nn::Adam<> resumed_opt(resumed.parameters(), {.lr = 0.01});
  const auto info = nn::load_checkpoint((dir / "ckpt.npz").string(), resumed, &resumed_opt, {.restore_rng = true});
  run(4, info.epoch, resumed, resumed_opt);
  CHECK(resumed.state_dict() == straight.state_dict());
  fs::remove_all(dir);
}

namespace {
// Records what fit tells a callback, in order.
class Recorder : public train::Callback {
 public:
  void on_epoch_begin(train::TrainState& s) override { events.push_back("begin " + std::to_string(s.epoch)); }
  void on_epoch_end(const train::Logs&, train::TrainState& s) override {
    events.push_back("end " + std::to_string(s.epoch));
  }
  void on_train_end(train::TrainState& s) override {
    reason = s.stop_reason;
    message = s.stop_message;
  }
  std::vector<std::string> events;
  train::StopReason reason = train::StopReason::completed;
  std::string message;
};
}  // namespace

TEST_CASE("fit: divergence is named with the learning rate, callbacks see it, and nothing steps with it") {
  manual_seed(4);
  Regression d(32);
  data::DataLoader loader(d.x, d.y, batches(8, false));
  nn::Linear<> model(2, 1);
  train::FitOptions options;
  options.epochs = 50;
  options.verbose = false;
  auto seen = std::make_shared<Recorder>();
  options.callbacks = {seen};
  // SGD at 1e30 overflows the weights in the first steps: the gradient norm
  // (or the loss) turns inf, and the step that would use it is not taken.
  nn::SGD<> opt(model.parameters(), {.lr = 1e30});
  CHECK_THROWS_WITH_AS(train::fit(model, opt, train::task(model, nn::mse_loss), loader, options),
                       doctest::Contains("training diverged (learning rate 1e+30)"), train::Diverged);
  CHECK(seen->reason == train::StopReason::diverged);
  CHECK(seen->message.find("fit: epoch 1, batch ") == 0);
  CHECK(seen->events == std::vector<std::string>{"begin 0"});  // no epoch ended with non-finite figures
  // The weights a diverged fit leaves are those of the last finite step
  // (the first inf shows in the loss or the gradients, before it is applied)
  // or of an overflow found at the epoch's end, never a NaN mixed in silently.
  bool finite = true;
  for (const auto& p : model.parameters()) finite = finite && all_finite(p.value());
  const std::string message = seen->message;
  CHECK((finite || message.find("weights overflowed") != std::string::npos));
}

TEST_CASE("fit: on_epoch_begin/on_epoch_end order, stop reasons, predict, and losses by name") {
  manual_seed(4);
  Regression d(32);
  data::DataLoader loader(d.x, d.y, batches(8, false));
  nn::Linear<> model(2, 1);
  nn::Adam<> opt(model.parameters(), {.lr = 0.05});
  train::FitOptions options;
  options.epochs = 3;
  options.verbose = false;
  auto seen = std::make_shared<Recorder>();
  options.callbacks = {seen};
  const auto h = train::fit(model, opt, train::task(model, nn::mse_loss), loader, options);
  CHECK(seen->events == std::vector<std::string>{"begin 0", "end 0", "begin 1", "end 1", "begin 2", "end 2"});
  CHECK(seen->reason == train::StopReason::completed);
  CHECK(h.stop_reason == train::StopReason::completed);
  // predict: eval mode and no tape, the mode restored; the same numbers as forward.
  model.train();
  const Tensor p = train::predict(model, d.x);
  CHECK(model.is_training());
  CHECK_FALSE(p.requires_grad());
  CHECK(xt::allclose(p.value(), model.forward(d.x).value()));
  // EarlyStopping's stop shows as StopReason::stopped.
  options.epochs = 20;
  options.callbacks = {
      seen, std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{.monitor = "loss", .min_delta = 1e9})};
  const auto stopped = train::fit(model, opt, train::task(model, nn::mse_loss), loader, options);
  CHECK(stopped.epochs.size() == 2);  // the first sets the best, the second does not beat it by 1e9
  CHECK(stopped.stop_reason == train::StopReason::stopped);
}

TEST_CASE("binary_accuracy on a loader's float (B, 1) targets; ModelCheckpoint's initial_value_threshold") {
  // Labels 1 for x0 > 0 as float targets (B, 1), predicted by the sign of a logit.
  manual_seed(2);
  Generator g(3);
  Tensor x = randn<float>({64, 2}, g);
  xt::xarray<float> t = xt::xarray<float>::from_shape({64, 1});
  for (std::size_t i = 0; i < 64; ++i) t(i, 0) = x.value()(i, 0) > 0 ? 1.f : 0.f;
  data::DataLoader loader(x, Tensor(t), batches(16, false));
  nn::Linear<> model(2, 1);
  nn::Adam<> opt(model.parameters(), {.lr = 0.1});
  train::FitOptions options;
  options.epochs = 30;
  options.verbose = false;
  options.metrics = {train::binary_accuracy(0.5, /*from_logits=*/true)};
  const fs::path dir = scratch();
  // A threshold above anything reachable: no epoch is "best", no file.
  options.callbacks = {std::make_shared<train::ModelCheckpoint>(
      (dir / "never.npz").string(),
      train::ModelCheckpointOptions{.monitor = "accuracy", .mode = train::Mode::max, .initial_value_threshold = 1.5})};
  const auto h = train::fit(model, opt, train::task(model, nn::binary_cross_entropy_with_logits), loader, options);
  CHECK(h.values("accuracy").back() > 0.9);
  CHECK_FALSE(fs::exists(dir / "never.npz"));
  fs::remove_all(dir);
}
