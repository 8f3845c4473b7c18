#pragma once
// The model zoo: one experiment per lab of shared/LABS.md, each runnable
// with the lab's settings as defaults (`xgrad zoo run NAME`), printing its
// figures beside the lab's reported ones and writing history.csv,
// metrics.json, PNG plots and a checkpoint to its run folder.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xgrad::zoo {

// The cores this process may use (CPU affinity and the cgroup's CPU quota),
// at least 1.
int default_threads();

// Command-line settings; unset optionals mean "the lab's default".
struct RunOptions {
  std::optional<std::size_t> epochs;
  std::optional<std::size_t> batch_size;
  std::optional<double> lr;
  std::uint32_t seed = 0;
  // xgrad threads (the caller plus workers; see xgrad/autograd/blas.hpp): all the
  // machine's cores by default, as PyTorch does; 1 on a busy machine.
  int threads = default_threads();
  std::string data_dir;    // --data; else $XGRAD_DATA
  std::string out_dir;     // default runs/NAME-YYYYmmdd-HHMMSS; must be new or empty unless resume_dir/overwrite
  std::string resume_dir;  // --resume DIR: continue the run in DIR from its checkpoint
  bool overwrite = false;  // --overwrite: replace the run files of an existing run folder
  bool quiet = false;
  bool quick = false;  // a reduced preset for tests and smoke runs
  // Experiment-specific.
  std::string csv;                     // timeseries: the CSV file
  std::string column;                  // timeseries: the value column (name or 0-based index)
  std::optional<std::size_t> window;   // timeseries: input window length
  std::string target;                  // timeseries: "change" (default) or "level" (the lab's method)
  std::optional<std::size_t> max_len;  // imdb: sequence length
  std::optional<std::size_t> vocab;    // imdb: vocabulary size
  std::vector<std::size_t> lengths;    // rnn-vs-lstm: sequence lengths
};

struct RunSummary {
  std::string out_dir;
  bool interrupted = false;
  std::string metrics_json;  // what metrics.json holds
};

// New input for a trained run (`xgrad zoo predict RUN_DIR`).
struct PredictOptions {
  std::vector<std::string> texts;  // imdb-torch, imdb-keras: reviews to classify
  std::size_t steps = 12;          // sine, sine-scratch, timeseries: values to forecast past the data's end
};

struct Experiment {
  std::string name;
  std::string lab;      // "L2"
  std::string summary;  // one line
  std::string data;     // what data it needs ("none (generated)", ...)
  std::function<RunSummary(const RunOptions&)> run;
  // Runs a finished run folder's model on new input and returns what to
  // print; empty for experiments that take no new input (sum, rnn-vs-lstm).
  std::function<std::string(const std::string& run_dir, const PredictOptions&)> predict{};
};

const std::vector<Experiment>& experiments();
// Throws std::invalid_argument listing the known names.
const Experiment& find_experiment(const std::string& name);
RunSummary run_experiment(const std::string& name, const RunOptions& options);

// The model a run folder holds (best.npz when the run kept one, else
// checkpoint.npz), rebuilt from the folder's settings, on new input:
// reviews for the IMDB experiments (classified as positive or negative with
// the probability), the next `steps` values for sine and timeseries. Throws
// std::runtime_error naming the folder and what is missing or unsupported.
std::string predict(const std::string& run_dir, const PredictOptions& options);
// The experiment a run folder holds (metrics.json's "experiment").
std::string run_experiment_name(const std::string& run_dir);

// Re-renders the plots of a finished run folder and returns a summary of
// its metrics (final figures beside the lab's).
std::string render_report(const std::string& run_dir);

// Thrown when an experiment's data set is missing; the message says what to
// download, from where, and where to put it.
struct DataNotFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown when training produced a NaN or inf loss, gradient or weight, after
// the run's history, metrics and last finite checkpoint were saved; the
// message says divergence, the epoch, the step and the learning rate.
struct Diverged : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace xgrad::zoo
