#include "xgrad/train/callbacks.hpp"

#include "xgrad/dist/comm.hpp"

#include <cmath>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "xgrad/datasets/file_io.hpp"
#include "xgrad/nn/checkpoint.hpp"

namespace xgrad::train {

namespace {

bool maximizes(Mode mode, const std::string& monitor) {
  if (mode != Mode::automatic) return mode == Mode::max;
  return monitor.find("acc") != std::string::npos || monitor.find("f1") != std::string::npos;
}

double monitored(const Logs& logs, const std::string& monitor, const char* who) {
  auto it = logs.find(monitor);
  if (it == logs.end()) {
    std::string keys;
    for (const auto& [k, v] : logs) keys += (keys.empty() ? "" : ", ") + k;
    throw std::invalid_argument(std::string(who) + ": the logs have no '" + monitor + "' (they have " + keys +
                                "); monitor one of them, or give fit a validation loader for val_ keys");
  }
  return it->second;
}

// Keeps JSON and CSV valid for non-finite values: NaN/inf as null / empty.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

std::vector<double> History::values(const std::string& key) const {
  std::vector<double> out;
  for (const auto& logs : epochs) {
    auto it = logs.find(key);
    out.push_back(it == logs.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
  }
  return out;
}

void History::write_csv(const std::string& path) const {
  std::set<std::string> keys;
  for (const auto& logs : epochs)
    for (const auto& [k, v] : logs) keys.insert(k);
  std::ostringstream out;
  out << "epoch";
  for (const auto& k : keys) out << ',' << k;
  out << '\n' << std::setprecision(10);
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    out << e + 1;
    for (const auto& k : keys) {
      out << ',';
      auto it = epochs[e].find(k);
      if (it != epochs[e].end() && std::isfinite(it->second)) out << it->second;
    }
    out << '\n';
  }
  data::write_file_bytes(path, out.str(), "history CSV");
}

void History::write_json(const std::string& path) const {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    nlohmann::json row = {{"epoch", e + 1}};
    for (const auto& [k, v] : epochs[e]) row[k] = number(v);
    rows.push_back(std::move(row));
  }
  data::write_file_bytes(path, nlohmann::json{{"epochs", rows}}.dump(2) + "\n", "history JSON");
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  if (!(options_.min_delta >= 0)) throw std::invalid_argument("EarlyStopping: min_delta must be >= 0");
}

void EarlyStopping::on_train_begin(TrainState&) {
  maximize_ = maximizes(options_.mode, options_.monitor);
  best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  wait_ = 0;
  best_epoch_.reset();
  stopped_epoch_.reset();
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(const Logs& logs, TrainState& state) {
  const double value = monitored(logs, options_.monitor, "EarlyStopping");
  const bool improved = maximize_ ? value - options_.min_delta > best_ : value + options_.min_delta < best_;
  if (improved) {
    best_ = value;
    best_epoch_ = state.epoch;
    wait_ = 0;
    if (options_.restore_best_weights) best_weights_ = state.model.state_dict();
    return;
  }
  if (++wait_ > options_.patience) {
    state.stop_training = true;
    stopped_epoch_ = state.epoch;
  }
}

void EarlyStopping::on_train_end(TrainState& state) {
  if (options_.restore_best_weights && !best_weights_.empty()) state.model.load_state_dict(best_weights_);
}

ModelCheckpoint::ModelCheckpoint(std::string path, ModelCheckpointOptions options)
    : path_(std::move(path)), options_(std::move(options)), best_(options_.initial_value_threshold) {
  if (path_.empty()) throw std::invalid_argument("ModelCheckpoint: the path is empty");
}

void ModelCheckpoint::on_epoch_end(const Logs& logs, TrainState& state) {
  if (options_.save_best_only) {
    const double value = monitored(logs, options_.monitor, "ModelCheckpoint");
    const bool maximize = maximizes(options_.mode, options_.monitor);
    if (!std::isfinite(value)) return;  // never "best" (Keras skips NaN too)
    if (best_ && !(maximize ? value > *best_ : value < *best_)) return;
    best_ = value;
  }
  nn::CheckpointInfo info;
  info.epoch = state.epoch;
  nlohmann::json extra;
  for (const auto& [k, v] : logs) extra[k] = number(v);
  info.extra_json = extra.dump();
  // Data-parallel: the ranks hold the same weights; one writes them.
  if (dist::rank() == 0)
    nn::save_checkpoint(path_, state.model, options_.save_optimizer ? &state.optimizer : nullptr, info);
  saved_ = state.epoch;
}

}  // namespace xgrad::train
