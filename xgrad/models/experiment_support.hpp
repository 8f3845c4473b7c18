#pragma once
// Shared plumbing of the zoo's experiments (internal to models/).

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/models/run_record.hpp"
#include "xgrad/models/zoo.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/optimizer.hpp"

namespace xgrad::zoo {

Experiment sine_experiment();
Experiment sine_scratch_experiment();
Experiment timeseries_experiment();
Experiment imdb_keras_experiment();
Experiment imdb_torch_experiment();
Experiment sum_experiment();
Experiment rnn_vs_lstm_experiment();

// runs/NAME-YYYYmmdd-HHMMSS unless --out was given.
std::string output_dir(const RunOptions& options, const std::string& name);

// The data folder to use: --data, else $XGRAD_DATA; empty if neither.
std::filesystem::path data_root(const RunOptions& options);

// Finds the first of `candidates` (relative to the data root) that exists,
// or throws DataNotFound with `how_to_get` and where to put the file.
std::filesystem::path require_data(const RunOptions& options, const std::vector<std::string>& candidates,
                                   const std::string& how_to_get);

// Applies --threads and --seed; prints the run's header (experiment, lab,
// settings, BLAS core and threads) unless quiet.
void start_run(const RunOptions& options, const std::string& name, const std::string& lab,
               const nlohmann::json& config);

// Prints "what we measured | what the lab reported" rows.
void print_comparison(const std::vector<std::vector<std::string>>& rows, bool quiet);

std::string fixed(double v, int digits = 4);

// A per-epoch curve: x = 1, 2, ..., y = values.
Series epoch_series(const std::string& title, const std::vector<double>& values, const std::string& style = "lines");

// A finished run folder, for `zoo predict`: its settings (metrics.json's
// "config") and the weights to use (best.npz when the run kept one, else
// checkpoint.npz). Throws std::runtime_error unless the folder holds a run
// of `experiment` with weights.
struct RunFolder {
  std::string dir;
  nlohmann::json config;
  std::string weights;
  // Loads the weights into `model` (no optimizer; the generator is left alone).
  void load_into(nn::Module<>& model) const;
};
RunFolder open_run_folder(const std::string& run_dir, const std::string& experiment);

// Class indices (N) for cross_entropy from 0/1 labels.
xt::xarray<std::int64_t> class_targets(const std::vector<std::int64_t>& labels);

}  // namespace xgrad::zoo
