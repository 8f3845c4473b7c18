#pragma once
// What makes a zoo run safe to kill, resume and trust (internal to models/).
// Every experiment's training loop goes through one TrainingSession:
//
//   TrainingSession session(options, recorder, model, opt, config);
//   nlohmann::json state = session.resume();            // --resume: epochs and state so far
//   for (epoch = session.epochs_done() + 1; ...) {
//     ... loss.backward();
//     session.check_step(loss.item(), epoch, step);      // NaN/inf loss or gradients: save, stop
//     opt.step(); ...
//     recorder.add_epoch(row);
//     session.end_epoch(epoch, state);                   // checkpoint, then history and metrics
//   }
//
// Note [the run folder after a kill]: checkpoint.npz is the run's truth: it
// holds the model, the optimizer, the default generator, the history rows
// and the experiment's own state (best epoch, ...), and is replaced
// atomically (temporary file, fsync, rename) at the start of the run and
// after every epoch. history.csv and metrics.json are views of it written
// right after; metrics.json names the epoch of the checkpoint it describes
// ("checkpoint_epoch"). A kill at any moment leaves a checkpoint that loads,
// and at worst views one epoch behind it; --resume rewrites them from the
// checkpoint and continues bit-exactly (same build, seed and threads).

#include <cstddef>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "xgrad/models/run_record.hpp"
#include "xgrad/models/zoo.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/optimizer.hpp"

namespace xgrad::zoo {

class TrainingSession {
 public:
  TrainingSession(const RunOptions& options, RunRecorder& recorder, nn::Module<>& model, nn::Optimizer<>& optimizer,
                  nlohmann::json config);

  // With --resume: loads the folder's checkpoint (model, optimizer, default
  // generator), puts its history rows back into the recorder and returns the
  // experiment state saved with it. Without: saves the untrained model as
  // the epoch-0 checkpoint and returns an empty object.
  nlohmann::json resume() { return resume(!options_.resume_dir.empty()); }
  // The same, for experiments that train several models one after another
  // (rnn-vs-lstm): only the model in training when the run stopped
  // continues from the checkpoint; the others start afresh, saving
  // `initial_state` with their epoch-0 checkpoint.
  nlohmann::json resume(bool from_checkpoint, const nlohmann::json& initial_state = nlohmann::json::object());
  std::size_t epochs_done() const { return epochs_done_; }
  // The experiment state saved with the checkpoint of a run folder (to find
  // where a multi-model run stopped before building its model).
  static nlohmann::json saved_state(const std::string& run_dir);

  // After backward, before optimizer.step(): if the loss or the global
  // gradient norm is NaN or inf, writes history and metrics (status
  // "diverged"; checkpoint.npz stays the last finite one) and throws Diverged.
  void check_step(double loss, std::size_t epoch, std::size_t step);

  // After recorder.add_epoch: saves the checkpoint (with `state`), then
  // history.csv and metrics.json. Also warns once when the loss has grown a
  // hundredfold over its best (divergence that has not reached inf yet).
  void end_epoch(std::size_t epoch, const nlohmann::json& state = nlohmann::json::object(),
                 const char* loss_key = "train_loss");

  // The end of the run: the final checkpoint, history, metrics and plots.
  RunSummary finish(bool quiet);

 private:
  void save_checkpoint(std::size_t epoch, const nlohmann::json& state);
  void write_views();
  // Writes history and metrics with status "diverged" and `message`, then throws Diverged.
  [[noreturn]] void stop_diverged(const std::string& message);
  const RunOptions& options_;
  RunRecorder& recorder_;
  nn::Module<>& model_;
  nn::Optimizer<>& optimizer_;
  nlohmann::json config_;
  nlohmann::json state_ = nlohmann::json::object();
  std::size_t epochs_done_ = 0;
  double best_loss_ = 0;
  bool warned_growth_ = false;
};

}  // namespace xgrad::zoo
