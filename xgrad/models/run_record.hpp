#pragma once
// What a zoo run writes to its folder: history.csv (one row per epoch),
// metrics.json (experiment, lab, config, epochs, final, reported), plots
// (data, a gnuplot script and the PNG under plots/) and the checkpoint.
// Files are written whole to a temporary name and renamed, so an
// interrupted run never leaves a half-written file.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xgrad::zoo {

struct Series {
  std::string title;
  std::vector<double> x, y;
  std::string style = "lines";  // gnuplot style: lines, points, linespoints
};

struct Plot {
  std::string name;  // file stem: plots/<name>.png
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool log_y = false;
};

class RunRecorder {
 public:
  RunRecorder(std::string out_dir, std::string experiment, std::string lab, nlohmann::json config);
  const std::string& out_dir() const { return out_dir_; }
  // One epoch's figures (epoch, train_loss, val_loss, ..., seconds).
  void add_epoch(const nlohmann::json& row);
  const std::vector<nlohmann::json>& epochs() const { return epochs_; }
  void set_final(nlohmann::json final) { final_ = std::move(final); }
  void set_reported(nlohmann::json reported) { reported_ = std::move(reported); }
  void set_interrupted(bool interrupted) { interrupted_ = interrupted; }
  // Resuming: the rows saved with the checkpoint replace any recorded so far.
  void set_epochs(std::vector<nlohmann::json> rows) { epochs_ = std::move(rows); }
  // metrics.json's "status": running, finished, interrupted or diverged.
  void set_status(std::string status) { status_ = std::move(status); }
  void set_checkpoint_epoch(std::size_t epoch) { checkpoint_epoch_ = epoch; }
  std::size_t checkpoint_epoch() const { return checkpoint_epoch_; }
  void add_warning(std::string warning) { warnings_.push_back(std::move(warning)); }
  const std::string& experiment() const { return experiment_; }
  void add_plot(Plot plot) { plots_.push_back(std::move(plot)); }
  std::string path(const std::string& file) const;
  // Writes history.csv and metrics.json (each atomically); returns metrics.json's text.
  std::string write_views();
  // write_views() and the plots.
  std::string write();

 private:
  std::string out_dir_, experiment_, lab_;
  nlohmann::json config_, final_ = nlohmann::json::object(), reported_ = nlohmann::json::object();
  std::vector<nlohmann::json> epochs_;
  std::vector<Plot> plots_;
  bool interrupted_ = false;
  std::string status_ = "running";
  std::size_t checkpoint_epoch_ = 0;
  std::vector<std::string> warnings_;
};

// Writes `text` to `path` atomically (temporary file, then rename).
void write_text_file(const std::string& path, const std::string& text);

// Note [one writer]: in a data-parallel job (mpirun) every rank trains the
// same model and computes the same figures, and only rank 0 writes the run
// folder (checkpoints, views, plots, tokenizer): the others would race it
// for the same files. write_text_file, RunRecorder and the zoo's
// checkpoints ask this; true outside MPI.
bool writes_run_folder();
// Runs gnuplot on every plots/*.gp of a run folder. Returns false (and says
// so once on stderr) if gnuplot is not installed.
bool render_plots(const std::string& run_dir);

}  // namespace xgrad::zoo
