#pragma once
// One zoo run (internal to models/): what turns an experiment's recipe
// (data -> model -> fit -> report) into a run folder that is safe to kill,
// resume and trust. A recipe reads:
//
//   ZooRun run(options, "sine", "L2", config);      // settings, threads, seed, folder
//   ... data, model, optimizer, loader ...
//   run.fit(model, opt, train::task(model, nn::mse_loss), loader, {.epochs = epochs});
//   run.print_epochs({"train_loss"});                // ours beside the lab's
//   return run.finish(final, plots);
//
// Note [the run folder after a kill]: checkpoint.npz is the run's truth: it
// holds the model, the optimizer, the default generator, the history rows
// and the experiment's own state, and is replaced atomically (temporary
// file, fsync, rename) at the start of every fit and after every epoch.
// history.csv and metrics.json are views of it written right after;
// metrics.json names the epoch of the checkpoint it describes
// ("checkpoint_epoch"). A kill at any moment leaves a checkpoint that
// loads, and at worst views one epoch behind it; --resume rewrites them
// from the checkpoint and continues bit-exactly (same build, seed and
// threads).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xgrad/models/run_record.hpp"
#include "xgrad/models/zoo.hpp"
#include "xgrad/train/fit.hpp"
#include "xgrad/train/interrupt.hpp"

namespace xgrad::zoo {

// What a lab reported (its entry of xgrad/models/labs.json): final figures
// by name, KEY_per_epoch lists and KEY_at_epoch maps.
const nlohmann::json& lab_reported(const std::string& experiment);

struct FitSettings {
  std::size_t epochs = 1;
  std::vector<std::shared_ptr<train::Metric>> metrics{};
  std::vector<std::shared_ptr<train::Callback>> callbacks{};
  // The history rows' prefix for the held-out loader's figures: "val", or
  // "test" when the held-out set is the lab's test set.
  std::string held_out = "val";
  double clip_grad_norm = 0.0;
  std::size_t print_every = 1;
  // Runs that train several models in turn (rnn-vs-lstm): whether this fit
  // continues from --resume's checkpoint (only the model that was training
  // when the run stopped does), the experiment state saved with each of its
  // checkpoints, and fields added to each of its history rows.
  bool continues_checkpoint = true;
  nlohmann::json state = nlohmann::json::object();
  nlohmann::json row_fields = nlohmann::json::object();
};

class ZooRun {
 public:
  // Applies --threads and --seed, prints the header, picks the run folder
  // (refusing one in use unless --resume/--overwrite) and, with --resume,
  // reads the checkpoint's history and state after checking that the same
  // experiment and settings made it (only --epochs and --threads may change).
  ZooRun(const RunOptions& options, std::string name, std::string lab, nlohmann::json config);

  // train::fit with the run's checkpoints: resumes from the folder's
  // checkpoint (model, optimizer, default generator) or saves the untrained
  // model as epoch 0; after every epoch adds a history row ("epoch",
  // "train_loss", "train_<metric>", "<held_out>_loss", "<held_out>_<metric>",
  // "lr", "seconds" and settings.row_fields), saves the checkpoint and
  // rewrites the views. Divergence writes history and metrics with status
  // "diverged" (checkpoint.npz stays the last finite epoch) and throws
  // zoo::Diverged; Ctrl-C/SIGTERM end it after the current step.
  train::History fit(nn::Module<>& model, nn::Optimizer<>& optimizer, const train::Task<data::Batch>& task,
                     data::DataLoader& train, const FitSettings& settings, data::DataLoader* held_out = nullptr);
  train::History fit(nn::Module<>& model, nn::Optimizer<>& optimizer, const train::Task<data::TokenBatch>& task,
                     data::TokenDataLoader& train, const FitSettings& settings,
                     data::TokenDataLoader* held_out = nullptr);

  const RunOptions& options() const { return options_; }
  const std::string& name() const { return name_; }
  bool quiet() const { return options_.quiet; }
  bool interrupted() const { return train::interrupted(); }
  std::string path(const std::string& file) const { return recorder_.path(file); }
  const nlohmann::json& reported() const { return lab_reported(name_); }
  // The state saved with the checkpoint --resume continues from (empty
  // object for a new run).
  const nlohmann::json& resumed_state() const { return resumed_state_; }
  // One figure over the history rows, resumed ones included; with `where`,
  // only rows whose fields equal it.
  std::vector<double> column(const std::string& key, const nlohmann::json& where = nlohmann::json::object()) const;

  // Prints our per-epoch figures beside the lab's (KEY_per_epoch or
  // KEY_at_epoch of the lab's entry); epochs the lab reported, the first
  // `first` epochs and the last one.
  void print_epochs(const std::vector<std::string>& keys, std::size_t first = 10) const;
  // Prints "figure | xgrad | lab" for final figures the lab reported too.
  void print_finals(const nlohmann::json& final, const std::vector<std::string>& keys) const;
  // A per-epoch curve of a history column, and of a lab's KEY_per_epoch/KEY_at_epoch.
  Series curve(const std::string& key, const std::string& title) const;
  Series lab_curve(const std::string& key, const std::string& title) const;

  // Records the final figures, the lab's and the plots; writes metrics,
  // history and plots (status finished or interrupted).
  RunSummary finish(nlohmann::json final, std::vector<Plot> plots);

 private:
  template <class Loader, class Batch>
  train::History fit_impl(nn::Module<>& model, nn::Optimizer<>& optimizer, const train::Task<Batch>& task,
                          Loader& train, const FitSettings& settings, Loader* held_out);
  // Loads --resume's checkpoint into the model and optimizer (or saves the
  // epoch-0 one); returns the epochs it had done.
  std::size_t start_fit(nn::Module<>& model, nn::Optimizer<>& optimizer, const FitSettings& settings);

  train::InterruptScope interrupts_;  // a signal during data loading counts too
  const RunOptions& options_;
  std::string name_, lab_;
  nlohmann::json config_;
  RunRecorder recorder_;
  nlohmann::json resumed_state_ = nlohmann::json::object();
};

}  // namespace xgrad::zoo
