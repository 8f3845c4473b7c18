#include "xgrad/models/zoo_run.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

#include "xgrad/autograd/npz.hpp"
#include "xgrad/dist/comm.hpp"
#include "xgrad/dist/ddp.hpp"
#include "xgrad/dist/sampler.hpp"
#include "xgrad/models/experiment_support.hpp"
#include "xgrad/nn/checkpoint.hpp"

namespace xgrad::zoo {

namespace detail {
extern const char* const kLabsJson;  // generated from labs.json (cmake/labs_json.cpp.in)
}

namespace fs = std::filesystem;

const nlohmann::json& lab_reported(const std::string& experiment) {
  static const nlohmann::json labs = nlohmann::json::parse(detail::kLabsJson);
  static const nlohmann::json none = nlohmann::json::object();
  return labs.contains(experiment) ? labs.at(experiment) : none;
}

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

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool row_matches(const nlohmann::json& row, const nlohmann::json& where) {
  for (const auto& [k, v] : where.items())
    if (!row.contains(k) || row[k] != v) return false;
  return true;
}

// The run folder's checkpoint manifest "extra": experiment, config, history, state.
nlohmann::json checkpoint_extra(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "checkpoint.npz").string();
  if (!fs::exists(path)) throw std::runtime_error("--resume " + run_dir + ": no checkpoint.npz in that folder");
  nlohmann::json extra;
  try {
    const auto contents = io::read_npz(path);
    extra = nlohmann::json::parse(contents.others.at("manifest.json")).at("extra");
  } catch (const std::exception& e) {
    throw std::runtime_error("--resume " + run_dir + ": checkpoint.npz is not a zoo checkpoint (" + e.what() + ")");
  }
  if (!extra.is_object()) throw std::runtime_error("--resume " + run_dir + ": checkpoint.npz is not a zoo checkpoint");
  return extra;
}

std::string prepare_folder(const RunOptions& options, const std::string& name, const std::string& lab,
                           const nlohmann::json& config) {
  start_run(options, name, lab, config);
  return output_dir(options, name);
}

// A fit's history rows: fit's logs renamed the way the zoo's rows always
// were ("loss" -> "train_loss", "val_x" -> "<held_out>_x").
nlohmann::json row_of(const train::Logs& logs, const FitSettings& settings, std::size_t epoch, double seconds) {
  nlohmann::json row = {{"epoch", epoch}};
  for (const auto& [k, v] : settings.row_fields.items()) row[k] = v;
  for (const auto& [k, v] : logs) {
    if (k == "lr")
      row[k] = v;
    else if (k.rfind("val_", 0) == 0)
      row[settings.held_out + k.substr(3)] = v;
    else
      row["train_" + k] = v;
  }
  row["seconds"] = seconds;
  return row;
}

}  // namespace

ZooRun::ZooRun(const RunOptions& options, std::string name, std::string lab, nlohmann::json config)
    : options_(options),
      name_(std::move(name)),
      lab_(std::move(lab)),
      config_(std::move(config)),
      recorder_(prepare_folder(options, name_, lab_, config_), name_, lab_, config_) {
  if (options_.resume_dir.empty()) return;
  // Which experiment and settings made the checkpoint, before anything is loaded.
  const nlohmann::json extra = checkpoint_extra(recorder_.out_dir());
  if (extra.value("experiment", "") != name_) {
    throw std::runtime_error("--resume " + options_.resume_dir + ": the checkpoint is not from a '" + name_ +
                             "' run (it says '" + extra.value("experiment", "?") + "')");
  }
  if (comparable(extra.value("config", nlohmann::json())) != comparable(config_)) {
    throw std::runtime_error("--resume " + options_.resume_dir + ": the run was made with settings " +
                             comparable(extra.value("config", nlohmann::json())).dump() + " but this command gives " +
                             comparable(config_).dump() + " (only --epochs and --threads may change)");
  }
  recorder_.set_epochs(extra.value("history", std::vector<nlohmann::json>{}));
  resumed_state_ = extra.value("state", nlohmann::json::object());
}

std::size_t ZooRun::start_fit(nn::Module<>& model, nn::Optimizer<>& optimizer, const FitSettings& settings) {
  if (options_.resume_dir.empty() || !settings.continues_checkpoint) {
    if (writes_run_folder())
      nn::save_checkpoint(recorder_.path("checkpoint.npz"), model, &optimizer,
                          nn::CheckpointInfo{.epoch = 0,
                                             .rng_state = "",
                                             .extra_json = nlohmann::json{{"experiment", name_},
                                                                          {"config", config_},
                                                                          {"history", recorder_.epochs()},
                                                                          {"state", settings.state}}
                                                               .dump()});
    recorder_.set_checkpoint_epoch(0);
    recorder_.write_views();  // a kill before the first epoch ends still leaves a loadable folder
    return 0;
  }
  // All-or-nothing: the model, the optimizer and the default generator
  // (dropout and shuffling draw from it).
  const nn::CheckpointInfo info =
      nn::load_checkpoint(recorder_.path("checkpoint.npz"), model, &optimizer, {.restore_rng = true});
  std::size_t rows = 0;
  for (const auto& row : recorder_.epochs()) rows += row_matches(row, settings.row_fields);
  if (rows < info.epoch) {
    throw std::runtime_error("--resume " + options_.resume_dir + ": the checkpoint's history has " +
                             std::to_string(rows) + " rows for " + std::to_string(info.epoch) + " epochs");
  }
  recorder_.set_checkpoint_epoch(info.epoch);
  recorder_.write_views();
  if (!options_.quiet) std::printf("resumed %s after epoch %zu\n\n", options_.resume_dir.c_str(), info.epoch);
  return info.epoch;
}

namespace {

// After every epoch: the history row, the checkpoint (with the history and
// the experiment's state), then the views. Also warns once when the loss
// has grown a hundredfold over its best (divergence that has not reached
// inf yet).
class RunCallback : public train::Callback {
 public:
  RunCallback(RunRecorder& recorder, const FitSettings& settings, nlohmann::json checkpoint_extra, bool quiet)
      : recorder_(recorder), settings_(settings), extra_(std::move(checkpoint_extra)), quiet_(quiet) {
    for (const auto& row : recorder_.epochs())
      if (row_matches(row, settings_.row_fields) && row.contains("train_loss") && row["train_loss"].is_number())
        note_loss(row["train_loss"].get<double>(), 0);
  }
  void on_epoch_begin(train::TrainState&) override { start_ = std::chrono::steady_clock::now(); }
  void on_epoch_end(const train::Logs& logs, train::TrainState& state) override {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const std::size_t epoch = state.epoch + 1;
    recorder_.add_epoch(row_of(logs, settings_, epoch, seconds));
    if (logs.count("loss")) note_loss(logs.at("loss"), epoch, state.optimizer.lr());
    extra_["history"] = recorder_.epochs();
    extra_["state"] = settings_.state;
    if (writes_run_folder())
      nn::save_checkpoint(recorder_.path("checkpoint.npz"), state.model, &state.optimizer,
                          nn::CheckpointInfo{.epoch = epoch, .rng_state = "", .extra_json = extra_.dump()});
    recorder_.set_checkpoint_epoch(epoch);
    recorder_.write_views();
  }

 private:
  void note_loss(double loss, std::size_t epoch, double lr = 0) {
    if (!std::isfinite(loss)) return;
    if (!best_ || loss < *best_) best_ = loss;
    if (epoch == 0 || warned_ || !(loss > 100 * *best_)) return;
    warned_ = true;
    const std::string message = "warning: the train_loss grew from " + number(*best_) + " to " + number(loss) +
                                " by epoch " + std::to_string(epoch) + ": training looks divergent (learning rate " +
                                number(lr) + ")";
    recorder_.add_warning(message);
    if (!quiet_) std::fprintf(stderr, "%s\n", message.c_str());
  }
  RunRecorder& recorder_;
  const FitSettings& settings_;
  nlohmann::json extra_;
  bool quiet_;
  std::optional<double> best_;
  bool warned_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

template <class Loader, class Batch>
train::History ZooRun::fit_impl(nn::Module<>& model, nn::Optimizer<>& optimizer, const train::Task<Batch>& task,
                                Loader& train, const FitSettings& settings, Loader* held_out) {
  const std::size_t done = start_fit(model, optimizer, settings);
  train::FitOptions fit_options;
  fit_options.epochs = settings.epochs;
  fit_options.initial_epoch = std::min(done, settings.epochs);
  fit_options.metrics = settings.metrics;
  fit_options.clip_grad_norm = settings.clip_grad_norm;
  fit_options.verbose = !options_.quiet;
  fit_options.print_every = settings.print_every;
  fit_options.callbacks = settings.callbacks;
  fit_options.callbacks.push_back(std::make_shared<RunCallback>(
      recorder_, settings, nlohmann::json{{"experiment", name_}, {"config", config_}}, options_.quiet));
  // Data-parallel (mpirun): --batch-size stays the global batch, split
  // evenly over the ranks, each of which trains on its shard of every
  // epoch; gradients are averaged (DistributedDataParallel) and the logged
  // figures reduced over the ranks (train::fit), so the run is the
  // single-process one with the same global batch and learning rate.
  std::optional<dist::DistributedDataParallel<float>> ddp;
  const data::LoaderOptions train_sampling = train.options();
  std::optional<data::LoaderOptions> held_out_sampling;
  if (dist::is_distributed()) {
    const auto ranks = static_cast<std::size_t>(dist::world_size());
    if (train_sampling.batch_size % ranks != 0) {
      throw std::invalid_argument("the batch size " + std::to_string(train_sampling.batch_size) +
                                  " is the global batch of the " + std::to_string(ranks) +
                                  " processes and must divide evenly among them (--batch-size)");
    }
    data::LoaderOptions per_rank = train_sampling;
    per_rank.batch_size /= ranks;
    train.set_sampling(dist::distributed_sampler(per_rank));
    if (held_out) {
      held_out_sampling = held_out->options();
      held_out->set_sampling(dist::distributed_sampler(*held_out_sampling, /*even=*/false));
    }
    ddp.emplace(model);
  }
  // The experiment's loaders as it made them, once fit is over.
  struct RestoreSampling {
    Loader& train;
    const data::LoaderOptions& train_sampling;
    Loader* held_out;
    const std::optional<data::LoaderOptions>& held_out_sampling;
    ~RestoreSampling() {
      if (!dist::is_distributed()) return;
      train.set_sampling(train_sampling);
      if (held_out && held_out_sampling) held_out->set_sampling(*held_out_sampling);
    }
  } restore{train, train_sampling, held_out, held_out_sampling};
  try {
    train::History history = train::fit(model, optimizer, task, train, fit_options, held_out);
    if (ddp && !options_.quiet && ddp->stats().steps > 0) {
      const dist::DdpStats& s = ddp->stats();
      const double steps = static_cast<double>(s.steps);
      std::printf(
          "data-parallel: %d processes, %zu buckets, %.2f MB all-reduced per step; waited %.2f ms per step "
          "for all-reduces after backward, %zu of %zu buckets started during backward\n",
          dist::world_size(), s.buckets, static_cast<double>(s.bytes_per_step) / 1e6, 1e3 * s.exposed_seconds / steps,
          s.buckets_started_early, s.buckets * s.steps);
    }
    return history;
  } catch (const train::Diverged& e) {
    const std::string message = std::string(e.what()) + ". checkpoint.npz holds the last finite state (after epoch " +
                                std::to_string(recorder_.checkpoint_epoch()) + "), with the history and metrics, in " +
                                recorder_.out_dir();
    recorder_.set_status("diverged");
    recorder_.add_warning(message);
    recorder_.write_views();
    throw Diverged(message);
  }
}

train::History ZooRun::fit(nn::Module<>& model, nn::Optimizer<>& optimizer, const train::Task<data::Batch>& task,
                           data::DataLoader& train, const FitSettings& settings, data::DataLoader* held_out) {
  return fit_impl<data::DataLoader, data::Batch>(model, optimizer, task, train, settings, held_out);
}

train::History ZooRun::fit(nn::Module<>& model, nn::Optimizer<>& optimizer, const train::Task<data::TokenBatch>& task,
                           data::TokenDataLoader& train, const FitSettings& settings, data::TokenDataLoader* held_out) {
  return fit_impl<data::TokenDataLoader, data::TokenBatch>(model, optimizer, task, train, settings, held_out);
}

std::vector<double> ZooRun::column(const std::string& key, const nlohmann::json& where) const {
  std::vector<double> values;
  for (const auto& row : recorder_.epochs())
    if (row_matches(row, where) && row.contains(key) && row[key].is_number()) values.push_back(row[key].get<double>());
  return values;
}

namespace {
// The lab's value of `key` at 1-based `epoch`, if it reported one.
std::optional<double> lab_at(const nlohmann::json& reported, const std::string& key, std::size_t epoch) {
  const std::string per_epoch = key + "_per_epoch", at_epoch = key + "_at_epoch";
  if (reported.contains(per_epoch) && epoch >= 1 && epoch <= reported[per_epoch].size())
    return reported[per_epoch][epoch - 1].get<double>();
  if (reported.contains(at_epoch) && reported[at_epoch].contains(std::to_string(epoch)))
    return reported[at_epoch][std::to_string(epoch)].get<double>();
  return std::nullopt;
}

std::size_t lab_epochs(const nlohmann::json& reported, const std::string& key) {
  std::size_t last = 0;
  if (reported.contains(key + "_per_epoch")) last = reported[key + "_per_epoch"].size();
  if (reported.contains(key + "_at_epoch"))
    for (const auto& [e, v] : reported[key + "_at_epoch"].items()) last = std::max<std::size_t>(last, std::stoul(e));
  return last;
}
}  // namespace

void ZooRun::print_epochs(const std::vector<std::string>& keys, std::size_t first) const {
  if (options_.quiet) return;
  std::vector<std::vector<double>> ours;
  std::vector<std::string> header{"epoch"};
  std::size_t last = 0;
  for (const auto& k : keys) {
    ours.push_back(column(k));
    last = std::max({last, ours.back().size(), lab_epochs(reported(), k)});
    header.push_back("xgrad " + k);
    header.push_back("lab " + k);
  }
  std::vector<std::vector<std::string>> rows{header};
  for (std::size_t e = 1; e <= last; ++e) {
    bool lab_row = false;
    for (const auto& k : keys) lab_row |= lab_at(reported(), k, e).has_value();
    bool final_row = false;
    for (const auto& c : ours) final_row |= e == c.size();
    if (e > first && !lab_row && !final_row) continue;
    std::vector<std::string> row{std::to_string(e)};
    for (std::size_t i = 0; i < keys.size(); ++i) {
      row.push_back(e <= ours[i].size() ? fixed(ours[i][e - 1]) : "-");
      const auto lab = lab_at(reported(), keys[i], e);
      row.push_back(lab ? fixed(*lab) : "-");
    }
    rows.push_back(row);
  }
  print_comparison(rows, false);
}

void ZooRun::print_finals(const nlohmann::json& final, const std::vector<std::string>& keys) const {
  std::vector<std::vector<std::string>> rows{{"figure", "xgrad", "lab (" + lab_ + ")"}};
  auto text = [](const nlohmann::json& v) { return v.is_number() ? fixed(v.get<double>()) : v.dump(); };
  for (const auto& k : keys) {
    if (!final.contains(k) && !reported().contains(k)) continue;
    rows.push_back({k, final.contains(k) ? text(final[k]) : "-", reported().contains(k) ? text(reported()[k]) : "-"});
  }
  print_comparison(rows, options_.quiet);
}

Series ZooRun::curve(const std::string& key, const std::string& title) const {
  return epoch_series(title, column(key));
}

Series ZooRun::lab_curve(const std::string& key, const std::string& title) const {
  Series s{title, {}, {}, "linespoints"};
  for (std::size_t e = 1; e <= lab_epochs(reported(), key); ++e) {
    if (const auto v = lab_at(reported(), key, e)) {
      s.x.push_back(static_cast<double>(e));
      s.y.push_back(*v);
    }
  }
  return s;
}

RunSummary ZooRun::finish(nlohmann::json final, std::vector<Plot> plots) {
  recorder_.set_final(std::move(final));
  recorder_.set_reported(reported());
  for (auto& p : plots) recorder_.add_plot(std::move(p));
  recorder_.set_interrupted(interrupted());
  recorder_.set_status(interrupted() ? "interrupted" : "finished");
  // No save here: the last whole epoch was saved when it ended, and work of
  // an epoch cut short by a signal is not one a resume could continue from.
  RunSummary summary{recorder_.out_dir(), interrupted(), recorder_.write()};
  if (!options_.quiet) std::printf("wrote %s\n", summary.out_dir.c_str());
  return summary;
}

}  // namespace xgrad::zoo
