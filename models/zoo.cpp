#include "models/zoo.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "autograd/blas.hpp"
#include "autograd/random.hpp"
#include "models/experiment_support.hpp"
#include "models/run_record.hpp"
#include "models/progress.hpp"
#include "nn/checkpoint.hpp"
#include <xtensor/xarray.hpp>

namespace xgrad::zoo {

namespace fs = std::filesystem;

int default_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

const std::vector<Experiment>& experiments() {
  static const std::vector<Experiment> all = {sine_experiment(),       sine_scratch_experiment(), timeseries_experiment(),
                                              imdb_keras_experiment(), imdb_torch_experiment(),   sum_experiment(),
                                              rnn_vs_lstm_experiment()};
  return all;
}

const Experiment& find_experiment(const std::string& name) {
  std::string known;
  for (const auto& e : experiments()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw std::invalid_argument("unknown experiment '" + name + "' (known: " + known + ")");
}

RunSummary run_experiment(const std::string& name, const RunOptions& options) {
  return find_experiment(name).run(options);
}

std::string output_dir(const RunOptions& options, const std::string& name) {
  if (!options.out_dir.empty()) return options.out_dir;
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return "runs/" + name + "-" + stamp;
}

fs::path data_root(const RunOptions& options) {
  if (!options.data_dir.empty()) return options.data_dir;
  if (const char* env = std::getenv("XGRAD_DATA")) return env;
  return {};
}

fs::path require_data(const RunOptions& options, const std::vector<std::string>& candidates,
                      const std::string& how_to_get) {
  const fs::path root = data_root(options);
  std::string looked;
  if (!root.empty()) {
    for (const auto& c : candidates) {
      const fs::path p = root / c;
      if (fs::exists(p)) return p;
      looked += "\n  " + p.string();
    }
  }
  std::string where = root.empty() ? "no data folder given (use --data DIR or set XGRAD_DATA)"
                                   : "looked for:" + looked;
  throw DataNotFound("data not found: " + where + "\n" + how_to_get + "\nPut it at DIR/" + candidates.front() +
                     " and pass --data DIR (or set XGRAD_DATA=DIR).");
}

void start_run(const RunOptions& options, const std::string& name, const std::string& lab, const nlohmann::json& config) {
  set_num_threads(options.threads);
  manual_seed(options.seed);
  if (options.quiet) return;
  std::printf("xgrad zoo: %s (lab %s)\n", name.c_str(), lab.c_str());
  std::printf("settings: %s\n", config.dump().c_str());
  std::printf("threads: %d (OpenBLAS %s kernels)\n\n", num_threads(), blas_core_name().c_str());
}

void print_comparison(const std::vector<std::vector<std::string>>& rows, bool quiet) {
  if (quiet || rows.empty()) return;
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    for (std::size_t i = 0; i < rows[k].size(); ++i) std::printf("%-*s  ", static_cast<int>(width[i]), rows[k][i].c_str());
    std::printf("\n");
    if (k == 0) {
      std::size_t total = 0;
      for (auto w : width) total += w + 2;
      std::printf("%s\n", std::string(total, '-').c_str());
    }
  }
  std::printf("\n");
}

std::string fixed(double v, int digits) {
  char buf[64];
  const double a = v < 0 ? -v : v;
  if (a != 0 && a < 1e-3) std::snprintf(buf, sizeof buf, "%.3e", v);
  else std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

Series epoch_series(const std::string& title, const std::vector<double>& values, const std::string& style) {
  Series s{title, {}, values, style};
  for (std::size_t e = 0; e < values.size(); ++e) s.x.push_back(static_cast<double>(e + 1));
  return s;
}

xt::xarray<std::int64_t> class_targets(const std::vector<std::int32_t>& labels) {
  xt::xarray<std::int64_t> t = xt::xarray<std::int64_t>::from_shape({labels.size()});
  for (std::size_t i = 0; i < labels.size(); ++i) t(i) = labels[i];
  return t;
}

RunSummary finish_run(RunRecorder& recorder, const nn::Module<>& model, const nn::Optimizer<>& optimizer,
                      std::size_t epochs_done, const nlohmann::json& config, bool quiet) {
  recorder.set_interrupted(interrupted());
  nn::save_checkpoint(recorder.path("checkpoint.npz"), model, &optimizer, {.epoch = epochs_done, .extra_json = config.dump()});
  RunSummary summary{recorder.out_dir(), interrupted(), recorder.write()};
  if (!quiet) std::printf("wrote %s\n", summary.out_dir.c_str());
  return summary;
}

std::string render_report(const std::string& run_dir) {
  const fs::path metrics_path = fs::path(run_dir) / "metrics.json";
  if (!fs::exists(metrics_path)) throw std::runtime_error(run_dir + ": no metrics.json (not a finished zoo run folder)");
  std::ifstream in(metrics_path);
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(metrics_path.string() + ": malformed JSON (" + e.what() + ")");
  }
  render_plots(run_dir);
  std::ostringstream out;
  out << m.value("experiment", "?") << " (lab " << m.value("lab", "?") << "), " << m["epochs"].size() << " epochs"
      << (m.value("interrupted", false) ? " (interrupted)" : "") << "\n";
  out << "figure                 xgrad           lab reported\n";
  for (const auto& [key, value] : m["final"].items()) {
    std::string reported = m["reported"].contains(key) ? m["reported"][key].dump() : "-";
    out << "  " << key << std::string(key.size() < 21 ? 21 - key.size() : 1, ' ') << value.dump() << "   " << reported << "\n";
  }
  std::vector<std::string> pngs;
  if (fs::is_directory(fs::path(run_dir) / "plots"))
    for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "plots"))
      if (e.path().extension() == ".png") pngs.push_back(e.path().string());
  out << "plots: " << (pngs.empty() ? std::string("(none rendered)") : "") << "\n";
  for (const auto& p : pngs) out << "  " << p << "\n";
  return out.str();
}

}  // namespace xgrad::zoo
