#pragma once
// Callbacks for xgrad::train::fit, after Keras's: each is told when training
// starts, after every epoch (with that epoch's logs) and when it ends, and
// may stop training early.

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>  // the best weights EarlyStopping keeps

#include "xgrad/nn/module.hpp"
#include "xgrad/nn/optimizer.hpp"

namespace xgrad::train {

// One epoch's figures by name: "loss", each metric, "val_loss", "val_<metric>", "lr".
using Logs = std::map<std::string, double>;

// Why training ended, as on_train_end sees it.
enum class StopReason {
  completed,    // every epoch ran
  stopped,      // a callback set stop_training (EarlyStopping)
  interrupted,  // Ctrl-C or SIGTERM: the epoch in progress was dropped
  diverged,     // a NaN or inf loss, gradient or weight; fit throws Diverged after on_train_end
};

// What a callback may see and change while fit runs.
struct TrainState {
  nn::Module<float>& model;
  nn::Optimizer<float>& optimizer;
  std::size_t epoch = 0;       // the epoch starting (on_epoch_begin) or just finished (on_epoch_end), 0-based
  bool stop_training = false;  // set to end training after this epoch
  StopReason stop_reason = StopReason::completed;  // set before on_train_end
  std::string stop_message{};                      // for diverged: what was not finite, where, and the rate
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(TrainState&) {}
  virtual void on_epoch_begin(TrainState&) {}
  virtual void on_epoch_end(const Logs&, TrainState&) {}
  virtual void on_train_end(TrainState&) {}
};

// Every epoch's logs, in order (what fit returns). write_csv/write_json
// replace the file atomically (a temporary renamed over it).
class History : public Callback {
 public:
  void on_epoch_end(const Logs& logs, TrainState&) override { epochs.push_back(logs); }
  void on_train_end(TrainState& state) override { stop_reason = state.stop_reason; }
  std::vector<Logs> epochs{};
  StopReason stop_reason = StopReason::completed;
  // The values of one key over the epochs (NaN where an epoch lacks it).
  std::vector<double> values(const std::string& key) const;
  // CSV: an "epoch" column (1-based), then every key any epoch has, sorted.
  void write_csv(const std::string& path) const;
  // JSON: {"epochs": [{"epoch": 1, "loss": ...}, ...]}.
  void write_json(const std::string& path) const;
};

// Whether a larger or a smaller monitored value is better; auto: larger for
// names containing "acc" or "f1", smaller otherwise (Keras's rule).
enum class Mode { automatic, min, max };

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;    // an improvement smaller than this does not count
  std::size_t patience = 0;  // epochs without improvement before stopping
  Mode mode = Mode::automatic;
  bool restore_best_weights = false;  // put the best epoch's weights back at the end
};

// Stops training once the monitored value has not improved for `patience`
// epochs (keras.callbacks.EarlyStopping). Throws std::invalid_argument at
// the first epoch whose logs lack the monitored key, naming the keys there are.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(TrainState& state) override;
  void on_epoch_end(const Logs& logs, TrainState& state) override;
  void on_train_end(TrainState& state) override;
  std::optional<std::size_t> best_epoch() const { return best_epoch_; }  // 0-based
  std::optional<std::size_t> stopped_epoch() const { return stopped_epoch_; }

 private:
  EarlyStoppingOptions options_;
  bool maximize_ = false;
  double best_ = 0;
  std::size_t wait_ = 0;
  std::optional<std::size_t> best_epoch_, stopped_epoch_;
  nn::Module<float>::StateDict best_weights_;
};

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = true;  // false: after every epoch
  Mode mode = Mode::automatic;
  bool save_optimizer = true;  // also the optimizer's state (to resume training)
  // The best value seen before this fit (Keras's name): a resumed run passes
  // the best of its earlier epochs, so a worse epoch does not overwrite the file.
  std::optional<double> initial_value_threshold{};
};

// Saves the model (nn::save_checkpoint, atomically) to `path` after an epoch
// whose monitored value is the best so far, or after every epoch
// (keras.callbacks.ModelCheckpoint). The checkpoint's epoch is the epoch's
// 0-based index and its extra JSON holds the epoch's logs. In a
// data-parallel job only rank 0 writes.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});
  void on_epoch_end(const Logs& logs, TrainState& state) override;
  std::optional<std::size_t> last_saved_epoch() const { return saved_; }

 private:
  std::string path_;
  ModelCheckpointOptions options_;
  std::optional<double> best_;
  std::optional<std::size_t> saved_;
};

// Calls a function at the end of every epoch, e.g. a learning-rate
// scheduler: LambdaCallback([&](const Logs&, TrainState&) { scheduler.step(); }).
class LambdaCallback : public Callback {
 public:
  using EpochEnd = std::function<void(const Logs&, TrainState&)>;
  explicit LambdaCallback(EpochEnd on_epoch_end) : on_epoch_end_(std::move(on_epoch_end)) {}
  void on_epoch_end(const Logs& logs, TrainState& state) override { on_epoch_end_(logs, state); }

 private:
  EpochEnd on_epoch_end_;
};

}  // namespace xgrad::train
