#include "xgrad/models/training_session.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/anomaly.hpp"
#include "xgrad/autograd/npz.hpp"
#include "xgrad/autograd/random.hpp"
#include "xgrad/models/progress.hpp"
#include "xgrad/nn/checkpoint.hpp"

namespace xgrad::zoo {

namespace fs = std::filesystem;

namespace {

// The settings that must match for a resumed run to continue the same
// training; epochs may grow and threads change.
nlohmann::json comparable(nlohmann::json config) {
  if (config.is_object()) {
    config.erase("epochs");
    config.erase("threads");
  }
  return config;
}

bool all_parameters_finite(const nn::Module<>& model) {
  for (const auto& p : model.parameters())
    if (!all_finite(p.value())) return false;
  return true;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

TrainingSession::TrainingSession(const RunOptions& options, RunRecorder& recorder, nn::Module<>& model,
                                 nn::Optimizer<>& optimizer, nlohmann::json config)
    : options_(options), recorder_(recorder), model_(model), optimizer_(optimizer), config_(std::move(config)) {}

namespace {
nlohmann::json checkpoint_extra(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "checkpoint.npz").string();
  if (!fs::exists(path)) throw std::runtime_error("--resume " + run_dir + ": no checkpoint.npz in that folder");
  try {
    const auto contents = io::read_npz(path);
    return nlohmann::json::parse(contents.others.at("manifest.json")).at("extra");
  } catch (const std::exception& e) {
    throw std::runtime_error("--resume " + run_dir + ": checkpoint.npz is not a zoo checkpoint (" + e.what() + ")");
  }
}
}  // namespace

nlohmann::json TrainingSession::saved_state(const std::string& run_dir) {
  const nlohmann::json extra = checkpoint_extra(run_dir);
  return extra.is_object() ? extra.value("state", nlohmann::json::object()) : nlohmann::json::object();
}

nlohmann::json TrainingSession::resume(bool from_checkpoint, const nlohmann::json& initial_state) {
  if (!from_checkpoint) {
    state_ = initial_state;
    save_checkpoint(0, state_);  // a kill before the first epoch ends still leaves a loadable folder
    write_views();
    return state_;
  }
  const std::string path = recorder_.path("checkpoint.npz");
  // Which experiment and settings made it, before anything is loaded.
  const nlohmann::json extra = checkpoint_extra(recorder_.out_dir());
  if (!extra.is_object() || extra.value("experiment", "") != recorder_.experiment()) {
    throw std::runtime_error("--resume " + options_.resume_dir + ": the checkpoint is not from a '" +
                             recorder_.experiment() + "' run (it says '" +
                             (extra.is_object() ? extra.value("experiment", "?") : "?") + "')");
  }
  if (comparable(extra.value("config", nlohmann::json())) != comparable(config_)) {
    throw std::runtime_error("--resume " + options_.resume_dir + ": the run was made with settings " +
                             comparable(extra.value("config", nlohmann::json())).dump() + " but this command gives " +
                             comparable(config_).dump() + " (only --epochs and --threads may change)");
  }
  // All-or-nothing: the model, the optimizer and the default generator
  // (dropout and shuffling draw from it).
  const nn::CheckpointInfo info = nn::load_checkpoint(path, model_, &optimizer_, {.restore_rng = true});
  epochs_done_ = info.epoch;
  std::vector<nlohmann::json> rows = extra.value("history", std::vector<nlohmann::json>{});
  if (rows.size() < epochs_done_) {
    throw std::runtime_error("--resume " + options_.resume_dir + ": the checkpoint's history has " +
                             std::to_string(rows.size()) + " rows for " + std::to_string(epochs_done_) + " epochs");
  }
  recorder_.set_epochs(std::move(rows));
  state_ = extra.value("state", nlohmann::json::object());
  for (const auto& row : recorder_.epochs()) {
    if (row.contains("train_loss") && row["train_loss"].is_number()) {
      const double l = row["train_loss"].get<double>();
      best_loss_ = best_loss_ == 0 ? l : std::min(best_loss_, l);
    }
  }
  write_views();
  if (!options_.quiet) std::printf("resumed %s after epoch %zu\n\n", options_.resume_dir.c_str(), epochs_done_);
  return state_;
}

void TrainingSession::check_step(double loss, std::size_t epoch, std::size_t step) {
  double squares = 0;
  for (const auto& p : model_.parameters()) {
    if (!p.has_grad()) continue;
    for (const float g : p.grad()) squares += static_cast<double>(g) * g;
  }
  const bool loss_ok = std::isfinite(loss), grad_ok = std::isfinite(squares);
  if (loss_ok && grad_ok) return;
  const std::string what =
      !loss_ok ? "the loss is " + number(loss) : "the gradient norm is " + number(std::sqrt(squares));
  const std::string message = "training diverged at epoch " + std::to_string(epoch) + ", step " + std::to_string(step) +
                              ": " + what + " (learning rate " + number(optimizer_.lr()) +
                              "); try a smaller --lr. checkpoint.npz holds the last finite state (after epoch " +
                              std::to_string(epochs_done_) + "), with the history and metrics, in " +
                              recorder_.out_dir();
  stop_diverged(message);
}

void TrainingSession::stop_diverged(const std::string& message) {
  recorder_.set_status("diverged");
  recorder_.add_warning(message);
  write_views();
  throw Diverged(message);
}

void TrainingSession::end_epoch(std::size_t epoch, const nlohmann::json& state, const char* loss_key) {
  if (!all_parameters_finite(model_)) {
    // Finite gradients times a huge learning rate can still overflow.
    const std::string message = "training diverged in epoch " + std::to_string(epoch) +
                                ": the weights overflowed to inf or NaN (learning rate " + number(optimizer_.lr()) +
                                "); try a smaller --lr. checkpoint.npz holds the last finite state (after epoch " +
                                std::to_string(epochs_done_) + ") in " + recorder_.out_dir();
    stop_diverged(message);
  }
  const auto& rows = recorder_.epochs();
  if (!rows.empty() && rows.back().contains(loss_key) && rows.back()[loss_key].is_number()) {
    const double l = rows.back()[loss_key].get<double>();
    if (best_loss_ == 0 || l < best_loss_) best_loss_ = l;
    if (!warned_growth_ && best_loss_ > 0 && l > 100 * best_loss_) {
      warned_growth_ = true;
      const std::string message = "warning: the " + std::string(loss_key) + " grew from " + number(best_loss_) +
                                  " to " + number(l) + " by epoch " + std::to_string(epoch) +
                                  ": training looks divergent (learning rate " + number(optimizer_.lr()) + ")";
      recorder_.add_warning(message);
      if (!options_.quiet) std::fprintf(stderr, "%s\n", message.c_str());
    }
  }
  epochs_done_ = epoch;
  state_ = state;
  save_checkpoint(epoch, state_);
  write_views();
}

RunSummary TrainingSession::finish(bool quiet) {
  recorder_.set_interrupted(interrupted());
  recorder_.set_status(interrupted() ? "interrupted" : "finished");
  // No save here: end_epoch saved the last whole epoch, and work of an
  // epoch cut short by a signal is not one a resume could continue from.
  RunSummary summary{recorder_.out_dir(), interrupted(), recorder_.write()};
  if (!quiet) std::printf("wrote %s\n", summary.out_dir.c_str());
  return summary;
}

void TrainingSession::save_checkpoint(std::size_t epoch, const nlohmann::json& state) {
  const nlohmann::json extra = {
      {"experiment", recorder_.experiment()}, {"config", config_}, {"history", recorder_.epochs()}, {"state", state}};
  nn::save_checkpoint(recorder_.path("checkpoint.npz"), model_, &optimizer_,
                      nn::CheckpointInfo{.epoch = epoch, .rng_state = "", .extra_json = extra.dump()});
  recorder_.set_checkpoint_epoch(epoch);
}

void TrainingSession::write_views() { recorder_.write_views(); }

}  // namespace xgrad::zoo
