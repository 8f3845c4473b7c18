#include "xgrad/models/run_record.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "xgrad/autograd/atomic_file.hpp"
#include "xgrad/dist/comm.hpp"

namespace xgrad::zoo {

namespace fs = std::filesystem;

bool writes_run_folder() { return dist::rank() == 0; }

void write_text_file(const std::string& path, const std::string& text) {
  if (writes_run_folder()) io::replace_file(path, text);
}

RunRecorder::RunRecorder(std::string out_dir, std::string experiment, std::string lab, nlohmann::json config)
    : out_dir_(std::move(out_dir)),
      experiment_(std::move(experiment)),
      lab_(std::move(lab)),
      config_(std::move(config)) {
  if (!writes_run_folder()) return;
  std::error_code ec;
  fs::create_directories(fs::path(out_dir_) / "plots", ec);
  if (ec) throw std::runtime_error("cannot create the run folder " + out_dir_ + ": " + ec.message());
}

std::string RunRecorder::path(const std::string& file) const { return (fs::path(out_dir_) / file).string(); }

void RunRecorder::add_epoch(const nlohmann::json& row) { epochs_.push_back(row); }

namespace {

std::string csv_number(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void write_plot(const std::string& dir, const Plot& plot) {
  std::ostringstream data;
  data.precision(10);
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    const Series& s = plot.series[i];
    data << "# " << s.title << "\n";
    for (std::size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) data << s.x[k] << ' ' << s.y[k] << '\n';
    data << "\n\n";  // gnuplot data-set separator (index)
  }
  write_text_file(dir + "/" + plot.name + ".dat", data.str());
  std::ostringstream gp;
  gp << "# Re-render with: gnuplot " << plot.name << ".gp (from this folder)\n"
     << "set terminal pngcairo size 960,560 enhanced font 'sans,11'\n"
     << "set output " << quote(plot.name + ".png") << "\n"
     << "set title " << quote(plot.title) << "\n"
     << "set xlabel " << quote(plot.xlabel) << "\nset ylabel " << quote(plot.ylabel) << "\n"
     << "set grid\nset key outside top center horizontal\n";
  if (plot.log_y) gp << "set logscale y\n";
  gp << "plot ";
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    gp << (i ? ", \\\n     " : "") << quote(plot.name + ".dat") << " index " << i << " using 1:2 with "
       << plot.series[i].style << " linewidth 2 title " << quote(plot.series[i].title);
  }
  gp << "\n";
  write_text_file(dir + "/" + plot.name + ".gp", gp.str());
}

}  // namespace

std::string RunRecorder::write() {
  const std::string text = write_views();
  for (const auto& plot : plots_) write_plot(path("plots"), plot);
  if (writes_run_folder()) render_plots(out_dir_);
  return text;
}

std::string RunRecorder::write_views() {
  // history.csv: the union of the epoch rows' keys, epoch first.
  std::vector<std::string> columns{"epoch"};
  std::set<std::string> seen{"epoch"};
  for (const auto& row : epochs_)
    for (const auto& [key, value] : row.items())
      if (seen.insert(key).second) columns.push_back(key);
  std::ostringstream csv;
  for (std::size_t i = 0; i < columns.size(); ++i) csv << (i ? "," : "") << columns[i];
  csv << "\n";
  for (const auto& row : epochs_) {
    for (std::size_t i = 0; i < columns.size(); ++i)
      csv << (i ? "," : "") << (row.contains(columns[i]) ? csv_number(row[columns[i]]) : "");
    csv << "\n";
  }
  write_text_file(path("history.csv"), csv.str());

  nlohmann::json metrics;
  metrics["experiment"] = experiment_;
  metrics["lab"] = lab_;
  metrics["config"] = config_;
  metrics["epochs"] = epochs_;
  metrics["final"] = final_;
  metrics["reported"] = reported_;
  metrics["interrupted"] = interrupted_;
  metrics["status"] = status_;
  metrics["checkpoint_epoch"] = checkpoint_epoch_;
  metrics["warnings"] = warnings_;
  const std::string text = metrics.dump(2);
  write_text_file(path("metrics.json"), text);
  return text;
}

bool render_plots(const std::string& run_dir) {
  static const bool have_gnuplot = std::system("command -v gnuplot > /dev/null 2>&1") == 0;
  static bool warned = false;
  if (!have_gnuplot) {
    if (!warned)
      std::cerr << "note: gnuplot is not installed; plot data and scripts are written to plots/, PNGs are not\n";
    warned = true;
    return false;
  }
  const fs::path plots = fs::path(run_dir) / "plots";
  if (!fs::is_directory(plots)) return true;
  for (const auto& entry : fs::directory_iterator(plots)) {
    if (entry.path().extension() != ".gp") continue;
    const std::string cmd = "cd " + shell_quote(plots.string()) + " && gnuplot " +
                            shell_quote(entry.path().filename().string()) + " > /dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) std::cerr << "warning: gnuplot failed on " << entry.path() << "\n";
  }
  return true;
}

}  // namespace xgrad::zoo
