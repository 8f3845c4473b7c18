#include "xgrad/models/zoo.hpp"

#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <xtensor/xarray.hpp>
#include "xgrad/autograd/blas.hpp"
#include "xgrad/autograd/random.hpp"
#include "xgrad/models/experiment_support.hpp"
#include "xgrad/models/run_record.hpp"
#include "xgrad/nn/checkpoint.hpp"

namespace xgrad::zoo {

namespace fs = std::filesystem;

namespace {
// cgroup v2's CPU quota ("max 100000" or "200000 100000" in cpu.max): the
// cores' worth of time a container may use, rounded up; 0 when unlimited.
int cgroup_cpu_limit() {
  std::ifstream in("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  char* end = nullptr;
  const double q = std::strtod(quota.c_str(), &end);
  if (end == quota.c_str() || !(q > 0)) return 0;
  return std::max(1, static_cast<int>(std::ceil(q / period)));
}
}  // namespace

int default_threads() {
  int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = std::max(1, std::min(cores, CPU_COUNT(&set)));
  if (const int limit = cgroup_cpu_limit(); limit > 0) cores = std::min(cores, limit);
  return cores;
}

const std::vector<Experiment>& experiments() {
  static const std::vector<Experiment> all = {
      sine_experiment(),       sine_scratch_experiment(), timeseries_experiment(), imdb_keras_experiment(),
      imdb_torch_experiment(), sum_experiment(),          rnn_vs_lstm_experiment()};
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

namespace {
// Files a zoo run writes: what --overwrite may remove, and what marks a run folder.
bool is_run_file(const fs::path& p) {
  const std::string name = p.filename().string();
  return name == "history.csv" || name == "metrics.json" || name == "checkpoint.npz" || name == "best.npz" ||
         name == "tokenizer.json" || name == "plots" || name.find(".tmp-") != std::string::npos;
}

// Temporary files (name.tmp-PID) of writers that are gone: a kill between
// writing and renaming leaves them.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp-");
    if (at == std::string::npos) continue;
    const long pid = std::strtol(name.c_str() + at + 5, nullptr, 10);
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)) continue;  // its writer still runs
    fs::remove_all(e.path(), ec);
  }
}
}  // namespace

std::string output_dir(const RunOptions& options, const std::string& name) {
  // Note [one writer]: rank 0 checks, cleans and names the folder; the
  // others only read a --resume checkpoint from it.
  if (!writes_run_folder()) {
    if (!options.resume_dir.empty() && !fs::is_directory(options.resume_dir))
      throw std::invalid_argument("--resume " + options.resume_dir + ": no such folder");
    return !options.resume_dir.empty() ? options.resume_dir
           : !options.out_dir.empty()  ? options.out_dir
                                       : "runs/" + name;
  }
  if (!options.resume_dir.empty()) {
    if (!fs::is_directory(options.resume_dir))
      throw std::invalid_argument("--resume " + options.resume_dir + ": no such folder");
    if (!options.out_dir.empty() && fs::path(options.out_dir) != fs::path(options.resume_dir))
      throw std::invalid_argument("--resume continues in its own folder; leave out --out");
    remove_stale_temporaries(options.resume_dir);
    return options.resume_dir;
  }
  if (!options.out_dir.empty()) {
    const fs::path dir = options.out_dir;
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
      throw std::invalid_argument("--out " + options.out_dir + " is a file");
    if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec)) {
      bool run_folder = false, only_run_files = true;
      for (const auto& e : fs::directory_iterator(dir)) {
        run_folder |= e.path().filename() == "metrics.json" || e.path().filename() == "checkpoint.npz";
        only_run_files &= is_run_file(e.path());
      }
      if (!run_folder && only_run_files) {
        // A run killed before its first checkpoint (an empty plots/, a
        // temporary): nothing to resume or lose.
        for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
        return options.out_dir;
      }
      if (!options.overwrite) {
        throw std::invalid_argument("--out " + options.out_dir + " is not empty" +
                                    (run_folder ? " (it holds a run): pass --resume " + options.out_dir +
                                                      " to continue it, or --overwrite to replace it"
                                                : "; choose a new folder"));
      }
      if (!run_folder || !only_run_files) {
        throw std::invalid_argument(
            "--overwrite: " + options.out_dir +
            " holds files a zoo run does not write; refusing to delete them (choose a new folder)");
      }
      for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
    }
    return options.out_dir;
  }
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
  std::string where = root.empty() ? "no data folder given (use --data DIR or set XGRAD_DATA)" : "looked for:" + looked;
  throw DataNotFound("data not found: " + where + "\n" + how_to_get + "\nPut it at DIR/" + candidates.front() +
                     " and pass --data DIR (or set XGRAD_DATA=DIR).");
}

void start_run(const RunOptions& options, const std::string& name, const std::string& lab,
               const nlohmann::json& config) {
  const int available = default_threads();
  if (options.threads > available) {
    // More threads than cores makes the fork-join steps wait on preempted
    // workers: 8 threads on 2 cores ran 40x slower than 2.
    std::fprintf(stderr, "warning: --threads %d is more than the %d core(s) this process may use; using %d\n",
                 options.threads, available, available);
  }
  set_num_threads(std::min(options.threads, available));
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
    for (std::size_t i = 0; i < rows[k].size(); ++i)
      std::printf("%-*s  ", static_cast<int>(width[i]), rows[k][i].c_str());
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
  if (a != 0 && a < 1e-3)
    std::snprintf(buf, sizeof buf, "%.3e", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

Series epoch_series(const std::string& title, const std::vector<double>& values, const std::string& style) {
  Series s{title, {}, values, style};
  for (std::size_t e = 0; e < values.size(); ++e) s.x.push_back(static_cast<double>(e + 1));
  return s;
}

xt::xarray<std::int64_t> class_targets(const std::vector<std::int64_t>& labels) {
  xt::xarray<std::int64_t> t = xt::xarray<std::int64_t>::from_shape({labels.size()});
  for (std::size_t i = 0; i < labels.size(); ++i) t(i) = labels[i];
  return t;
}

namespace {
nlohmann::json read_metrics(const std::string& run_dir) {
  const fs::path metrics_path = fs::path(run_dir) / "metrics.json";
  if (!fs::exists(metrics_path)) throw std::runtime_error(run_dir + ": no metrics.json (not a zoo run folder)");
  std::ifstream in(metrics_path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(metrics_path.string() + ": malformed JSON (" + e.what() + ")");
  }
}
}  // namespace

void RunFolder::load_into(nn::Module<>& model) const { nn::load_checkpoint(weights, model); }

RunFolder open_run_folder(const std::string& run_dir, const std::string& experiment) {
  const nlohmann::json m = read_metrics(run_dir);
  if (m.value("experiment", "") != experiment)
    throw std::runtime_error(run_dir + ": not a '" + experiment + "' run (it says '" + m.value("experiment", "?") +
                             "')");
  if (!m.contains("config") || !m["config"].is_object())
    throw std::runtime_error(run_dir + "/metrics.json: no \"config\" object");
  RunFolder folder{run_dir, m["config"], ""};
  for (const char* file : {"best.npz", "checkpoint.npz"}) {
    if (fs::exists(fs::path(run_dir) / file)) {
      folder.weights = (fs::path(run_dir) / file).string();
      break;
    }
  }
  if (folder.weights.empty()) throw std::runtime_error(run_dir + ": no best.npz or checkpoint.npz to load");
  if (m.value("checkpoint_epoch", std::size_t{0}) == 0 && folder.weights.ends_with("checkpoint.npz"))
    std::fprintf(stderr, "warning: %s: the checkpoint is of the untrained model (epoch 0)\n", run_dir.c_str());
  return folder;
}

std::string run_experiment_name(const std::string& run_dir) { return read_metrics(run_dir).value("experiment", ""); }

std::string predict(const std::string& run_dir, const PredictOptions& options) {
  const std::string name = read_metrics(run_dir).value("experiment", "");
  const Experiment& e = find_experiment(name);
  if (!e.predict)
    throw std::runtime_error(run_dir + ": '" + name +
                             "' runs take no new input (predict works for sine, sine-scratch, "
                             "timeseries, imdb-torch and imdb-keras)");
  return e.predict(run_dir, options);
}

std::string render_report(const std::string& run_dir) {
  const nlohmann::json m = read_metrics(run_dir);
  render_plots(run_dir);
  std::ostringstream out;
  out << m.value("experiment", "?") << " (lab " << m.value("lab", "?") << "), " << m["epochs"].size() << " epochs"
      << (m.value("interrupted", false) ? " (interrupted)" : "") << "\n";
  out << "figure                 xgrad           lab reported\n";
  for (const auto& [key, value] : m["final"].items()) {
    std::string reported = m["reported"].contains(key) ? m["reported"][key].dump() : "-";
    out << "  " << key << std::string(key.size() < 21 ? 21 - key.size() : 1, ' ') << value.dump() << "   " << reported
        << "\n";
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
