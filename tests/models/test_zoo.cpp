// Every zoo experiment end to end in its --quick preset: it learns, writes
// metrics.json with the documented fields, history.csv, a checkpoint, and
// plots when gnuplot is installed. IMDB runs use a small labelled corpus
// written here (the real data is not needed).
#include <doctest/doctest.h>

#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "xgrad/autograd/random.hpp"
#include "xgrad/models/zoo.hpp"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

fs::path scratch_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("xgrad-zoo-test-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// Raises `signal` once a run in `out_dir` has an epoch in its history.csv, not
// after a fixed delay: under ASan an epoch can take longer than any delay
// chosen here. (The folder's checkpoint exists from the start, so it cannot be
// the cue.) Gives up waiting after five minutes and raises anyway.
std::thread raise_after_first_epoch(const fs::path& out_dir, int signal) {
  return std::thread([history = out_dir / "history.csv", signal] {
    const auto epochs_done = [&history] {
      std::ifstream in(history);
      std::string line;
      int lines = 0;
      while (std::getline(in, line)) ++lines;
      return lines - 1;  // the header
    };
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (epochs_done() < 1 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::raise(signal);
  });
}

bool have_gnuplot() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

nlohmann::json run(const std::string& name, zoo::RunOptions o) {
  o.quick = true;
  o.quiet = true;
  o.out_dir = (scratch_dir() / name).string();
  const zoo::RunSummary s = zoo::run_experiment(name, o);
  CHECK_FALSE(s.interrupted);
  const nlohmann::json m = nlohmann::json::parse(std::ifstream(fs::path(s.out_dir) / "metrics.json"));
  CHECK(m["experiment"] == name);
  CHECK(m["lab"].get<std::string>().size() == 2);
  CHECK(m["config"].is_object());
  CHECK(m["final"].is_object());
  CHECK(m["reported"].is_object());
  REQUIRE(m["epochs"].is_array());
  REQUIRE_FALSE(m["epochs"].empty());
  CHECK(m["epochs"][0].contains("epoch"));
  CHECK(fs::exists(fs::path(s.out_dir) / "history.csv"));
  CHECK(fs::exists(fs::path(s.out_dir) / "plots"));
  if (have_gnuplot()) {
    bool any_png = false;
    for (const auto& e : fs::directory_iterator(fs::path(s.out_dir) / "plots"))
      any_png |= e.path().extension() == ".png";
    CHECK(any_png);
  }
  return m;
}

double first_last_ratio(const nlohmann::json& m, const char* key) {
  return m["epochs"].front()[key].get<double>() / m["epochs"].back()[key].get<double>();
}

// A tiny aclImdb layout whose sentiment words decide the label.
fs::path write_imdb_corpus() {
  const fs::path root = scratch_dir() / "data";
  if (fs::exists(root)) return root;
  const std::vector<std::string> good = {"great", "wonderful", "excellent", "loved",
                                         "best",  "amazing",   "superb",    "brilliant"};
  const std::vector<std::string> bad = {"awful", "boring", "worst", "terrible", "hated", "waste", "dull", "poor"};
  const std::vector<std::string> filler = {"the",    "movie", "film", "plot", "actor", "story",
                                           "was",    "and",   "a",    "it",   "scene", "director",
                                           "really", "this",  "of",   "to",   "with",  "ending"};
  Generator gen(5);
  std::map<std::string, int> counts;
  for (const char* split : {"train", "test"}) {
    for (int label = 0; label < 2; ++label) {
      const fs::path dir = root / "imdb" / "aclImdb" / split / (label ? "pos" : "neg");
      fs::create_directories(dir);
      for (int id = 0; id < 400; ++id) {
        std::string text;
        for (int w = 0; w < 40; ++w) {
          const bool sentiment = gen.uniform() < 0.15;
          const auto& words = sentiment ? (label ? good : bad) : filler;
          const std::string& word = words[gen.below(words.size())];
          text += (w ? " " : "") + word + (w == 12 ? "<br /><br />" : "");
          ++counts[word];
        }
        std::ofstream(dir / (std::to_string(id) + "_" + std::to_string(label ? 8 : 2) + ".txt")) << text;
      }
    }
  }
  // A Keras-style word index: rank by frequency.
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [w, c] : counts) ranked.push_back({-c, w});
  std::sort(ranked.begin(), ranked.end());
  nlohmann::json index;
  for (std::size_t r = 0; r < ranked.size(); ++r) index[ranked[r].second] = r + 1;
  std::ofstream(root / "imdb" / "imdb_word_index.json") << index.dump();
  return root;
}

}  // namespace

TEST_CASE("zoo list names every lab's experiment") {
  std::set<std::string> labs, names;
  for (const auto& e : zoo::experiments()) {
    labs.insert(e.lab);
    names.insert(e.name);
    CHECK_FALSE(e.summary.empty());
    CHECK_FALSE(e.data.empty());
  }
  CHECK(labs == std::set<std::string>{"L1", "L2", "L3", "L4", "L5", "L6"});
  CHECK(names.count("sine"));
  CHECK_THROWS_WITH_AS(zoo::find_experiment("nope"), doctest::Contains("known: sine"), std::invalid_argument);
}

TEST_CASE("sine (L2) learns the wave") {
  const auto m = run("sine", {});
  CHECK(first_last_ratio(m, "train_loss") > 10);
  CHECK(m["final"]["mse"].get<double>() < 0.05);
  CHECK(m["reported"]["train_loss_at_epoch"]["50"] == 0.0003);  // from labs.json
  CHECK(fs::exists(scratch_dir() / "sine" / "checkpoint.npz"));
  // zoo predict: the next values after x = 100, each from the 50 before it,
  // follow sin(x) (columns: x, predicted, sin(x)).
  std::istringstream out(zoo::predict((scratch_dir() / "sine").string(), {.texts = {}, .steps = 5}));
  std::string header;
  std::getline(out, header);
  double x = 0, predicted = 0, truth = 0;
  int rows = 0;
  while (out >> x >> predicted >> truth) {
    ++rows;
    CHECK(truth == doctest::Approx(std::sin(x)).epsilon(1e-3));
    CHECK(std::abs(predicted - truth) < 0.5);
  }
  CHECK(rows == 5);
}

TEST_CASE("sine-scratch (L1): the gate-equation cell matches nn::LSTM and learns") {
  const auto m = run("sine-scratch", {});
  CHECK(m["final"]["scratch_vs_nn_lstm_max_output_diff"].get<double>() < 1e-5);
  CHECK(m["final"]["scratch_vs_nn_lstm_max_grad_diff"].get<double>() < 1e-5);
  CHECK(first_last_ratio(m, "train_loss") > 10);
}

TEST_CASE("sum (L6): the lab's 6 epochs predict one class; the quick preset learns") {
  zoo::RunOptions lab;
  lab.quick = false;
  lab.quiet = true;
  lab.out_dir = (scratch_dir() / "sum-6").string();
  zoo::run_experiment("sum", lab);
  const auto six = nlohmann::json::parse(std::ifstream(scratch_dir() / "sum-6" / "metrics.json"));
  CHECK(six["epochs"].size() == 6);
  CHECK(six["final"]["predicts_single_class"] == true);
  const auto cm = six["final"]["confusion_matrix"];
  CHECK(cm[0][0].get<int>() + cm[0][1].get<int>() == 114);  // the lab's test split: 114 negatives
  CHECK(cm[1][0].get<int>() + cm[1][1].get<int>() == 86);   // and 86 positives
  const auto quick = run("sum", {});
  CHECK(quick["final"]["test_accuracy"].get<double>() > 0.8);
  CHECK(quick["final"].contains("f1"));
  CHECK_THROWS_WITH_AS(zoo::predict((scratch_dir() / "sum").string(), {}), doctest::Contains("take no new input"),
                       std::runtime_error);
}

TEST_CASE("timeseries (L3) on a CSV: scaled, split, de-normalized, compared with the naive forecast") {
  const fs::path csv = scratch_dir() / "series.csv";
  {
    std::ofstream out(csv);
    out << "\"Month\",\"Sales\"\r\n";
    for (int t = 0; t < 120; ++t) out << "\"m" << t << "\"," << 100 + t + 20 * std::sin(t * 3.14159265 / 6) << "\r\n";
  }
  zoo::RunOptions o;
  o.csv = csv.string();
  o.column = "Sales";
  const auto m = run("timeseries", o);
  CHECK(first_last_ratio(m, "train_loss") > 3);
  CHECK(m["final"]["rmse"].get<double>() > 0);
  CHECK(m["final"].contains("naive_rmse"));
  CHECK(m["epochs"][0].contains("val_loss"));
  // zoo predict: 3 values past the series' end, in original units (the series stays within 80..240).
  std::istringstream forecast(zoo::predict((scratch_dir() / "timeseries").string(), {.texts = {}, .steps = 3}));
  std::string header;
  std::getline(forecast, header);
  CHECK(header.find("Sales") != std::string::npos);
  std::size_t step = 0;
  double value = 0;
  for (std::size_t expected = 120; expected < 123; ++expected) {
    REQUIRE(static_cast<bool>(forecast >> step >> value));
    CHECK(step == expected);
    CHECK(value > 80);
    CHECK(value < 260);
  }
  CHECK(m["config"]["target"] == "change");
  CHECK(m["config"]["log_space"] == true);  // a positive series
  // The lab's method: the scaled level itself, no log space, no residual.
  zoo::RunOptions level = o;
  level.target = "level";
  level.overwrite = true;  // run() writes to the same folder
  const auto lm = run("timeseries", level);
  CHECK(lm["config"]["log_space"] == false);
  CHECK(lm["config"]["residual"] == false);
  CHECK(lm["final"]["rmse"].get<double>() > 0);
  CHECK_NOTHROW(zoo::predict((scratch_dir() / "timeseries").string(), {.texts = {}, .steps = 2}));  // the level run
  CHECK_FALSE(fs::exists(scratch_dir() / "timeseries" / "plots" / "predictions_detail.dat"));       // 40 test steps
  level.target = "levels";
  level.overwrite = false;
  level.out_dir = (scratch_dir() / "ts-bad-target").string();
  CHECK_THROWS_WITH_AS(zoo::run_experiment("timeseries", level), doctest::Contains("choose change"),
                       std::invalid_argument);
  o.column = "Nope";
  o.out_dir = (scratch_dir() / "ts-bad").string();
  CHECK_THROWS_WITH(zoo::run_experiment("timeseries", o), doctest::Contains("no column named \"Nope\""));
}

TEST_CASE("imdb-torch (L5) and imdb-keras (L4) learn a small corpus and keep their artifacts") {
  zoo::RunOptions o;
  o.data_dir = write_imdb_corpus().string();
  const auto torch_run = run("imdb-torch", o);
  CHECK(torch_run["final"]["best_val_accuracy"].get<double>() > 0.8);
  CHECK(fs::exists(scratch_dir() / "imdb-torch" / "best.npz"));
  CHECK(fs::exists(scratch_dir() / "imdb-torch" / "tokenizer.json"));
  const auto keras_run = run("imdb-keras", o);
  CHECK(keras_run["final"]["test_accuracy"].get<double>() > 0.8);
  CHECK(keras_run["epochs"].back().contains("val_accuracy"));
  CHECK(keras_run["reported"]["test_accuracy"] == 0.8469);
  // zoo predict: the trained models classify new text the way the corpus' sentiment words say.
  const zoo::PredictOptions reviews{{"a great wonderful film, the best acting, loved it, superb",
                                     "awful and boring, the worst plot, a waste, dull and poor"}};
  for (const char* name : {"imdb-torch", "imdb-keras"}) {
    CAPTURE(name);
    const std::string out = zoo::predict((scratch_dir() / name).string(), reviews);
    const auto second = out.find('\n') + 1;
    CHECK(out.rfind("positive ", 0) == 0);
    CHECK(out.compare(second, 9, "negative ") == 0);
  }
  CHECK_THROWS_WITH_AS(zoo::predict((scratch_dir() / "imdb-torch").string(), {}), doctest::Contains("no review text"),
                       std::invalid_argument);
}

TEST_CASE("missing data is a clear message naming the data set, not a crash") {
  zoo::RunOptions o;
  o.data_dir = (scratch_dir() / "empty").string();
  fs::create_directories(o.data_dir);
  o.quiet = true;
  o.out_dir = (scratch_dir() / "nodata").string();
  CHECK_THROWS_WITH_AS(zoo::run_experiment("imdb-torch", o), doctest::Contains("Large Movie Review Dataset"),
                       zoo::DataNotFound);
  CHECK_THROWS_WITH_AS(zoo::run_experiment("timeseries", o), doctest::Contains("--csv"), zoo::DataNotFound);
}

TEST_CASE("timeseries: a long test range also gets a plot of its first 90 steps, point by point") {
  const fs::path csv = scratch_dir() / "long-series.csv";
  {
    std::ofstream out(csv);
    out << "t,v\n";
    for (int t = 0; t < 600; ++t) out << t << "," << 10 + 5 * std::sin(t * 0.3) << "\n";
  }
  zoo::RunOptions o;
  o.csv = csv.string();
  o.column = "v";
  o.epochs = 1;
  o.quick = true;
  o.quiet = true;
  o.out_dir = (scratch_dir() / "ts-long").string();
  zoo::run_experiment("timeseries", o);
  // 198 test steps (the training part is the first 600 * 0.67 = 402 values):
  // the detail plot holds the first 90 of each series.
  std::ifstream detail(scratch_dir() / "ts-long" / "plots" / "predictions_detail.dat");
  REQUIRE(detail.good());
  std::string line;
  std::vector<std::string> titles;
  std::size_t points = 0, first_step = 0;
  while (std::getline(detail, line)) {
    if (line.rfind("# ", 0) == 0)
      titles.push_back(line.substr(2));
    else if (!line.empty() && points++ == 0)
      first_step = std::stoul(line);
  }
  CHECK(titles == std::vector<std::string>{"actual", "LSTM", "naive (last value)"});
  CHECK(points == 3 * 90);
  CHECK(first_step == 402);
}

#if defined(XGRAD_CLI_PATH) && defined(__x86_64__) && defined(__linux__)
TEST_CASE("build/xgrad never trains on OpenBLAS's SSE3 fallback kernels on an AVX2 CPU") {
  // Note [OpenBLAS kernels on newer CPUs] (cli/main.cpp): with
  // OPENBLAS_CORETYPE unset the program restarts itself with the AVX2
  // kernels when OpenBLAS did not recognize the CPU.
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
  const fs::path out = scratch_dir() / "kernels";
  const auto quoted = [](const std::string& s) { return "'" + s + "'"; };  // the paths hold no quote
  const std::string command = "env -u OPENBLAS_CORETYPE " + quoted(XGRAD_CLI_PATH) +
                              " zoo run sine --quick --epochs 1 --threads 1 --out " + quoted(out.string()) + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  CHECK(::pclose(pipe) == 0);
  const auto line = output.find("(OpenBLAS ");
  REQUIRE(line != std::string::npos);
  const std::string kernels = output.substr(line, output.find('\n', line) - line);
  CHECK_MESSAGE(kernels.find("Prescott") == std::string::npos, kernels);
}
#endif

TEST_CASE("rnn-vs-lstm: both learn short sequences; gradients reach early steps better through the LSTM") {
  const auto m = run("rnn-vs-lstm", {});
  CHECK(m["final"]["rnn_accuracy_T5"].get<double>() > 0.9);
  CHECK(m["final"]["lstm_accuracy_T5"].get<double>() > 0.9);
  CHECK(m["final"]["lstm_gradient_ratio_T40"].get<double>() > 100 * m["final"]["rnn_gradient_ratio_T40"].get<double>());
}

TEST_CASE("rnn-vs-lstm at T = 100: the LSTM bridges the lag, the RNN stays near chance") {
  // 100 Adam steps on the quick preset's 320 sequences. The LSTM's loss
  // falls within ~75 steps at T = 100 thanks to its chrono-initialized gate
  // biases (with a forget bias of 1 it stayed at chance for 60 full epochs);
  // the RNN's gradient reaching the first step is ~1e-20 of the last step's.
  zoo::RunOptions o;
  o.quick = true;
  o.quiet = true;
  o.threads = 1;
  o.lengths = {100};
  o.epochs = 20;
  o.out_dir = (scratch_dir() / "rnn-vs-lstm-100").string();
  zoo::run_experiment("rnn-vs-lstm", o);
  const auto m = nlohmann::json::parse(std::ifstream(scratch_dir() / "rnn-vs-lstm-100" / "metrics.json"));
  CHECK(m["final"]["lstm_accuracy_T100"].get<double>() >= 0.95);
  CHECK(m["final"]["rnn_accuracy_T100"].get<double>() < 0.7);
  CHECK(m["final"]["rnn_gradient_ratio_T100"].get<double>() < 1e-10);
  CHECK(m["final"]["lstm_gradient_ratio_T100"].get<double>() > 1e-3);
}

TEST_CASE("zoo report re-renders a finished run and summarizes it") {
  zoo::RunOptions again;
  again.overwrite = true;  // the sine test's folder may already hold a run
  run("sine", again);
  const std::string report = zoo::render_report((scratch_dir() / "sine").string());
  CHECK(report.find("sine (lab L2)") != std::string::npos);
  CHECK(report.find("train_loss") != std::string::npos);
  CHECK_THROWS_AS(zoo::render_report(scratch_dir().string()), std::runtime_error);
}

TEST_CASE("Ctrl-C stops a run after the current step and still saves it") {
  zoo::RunOptions o;
  o.epochs = 100000;  // far longer than the test waits
  o.quiet = true;
  o.out_dir = (scratch_dir() / "interrupted").string();
  std::thread interrupter = raise_after_first_epoch(o.out_dir, SIGINT);
  const zoo::RunSummary s = zoo::run_experiment("sine", o);
  interrupter.join();
  CHECK(s.interrupted);
  const auto m = nlohmann::json::parse(std::ifstream(fs::path(s.out_dir) / "metrics.json"));
  CHECK(m["interrupted"] == true);
  CHECK(m["epochs"].size() > 0);
  CHECK(m["epochs"].size() < 100000);
  CHECK(fs::exists(fs::path(s.out_dir) / "checkpoint.npz"));
}

namespace {

// Runs `name` quietly into scratch/`folder`, with `epochs` epochs (quick preset).
zoo::RunSummary run_into(const std::string& name, const std::string& folder, std::size_t epochs, zoo::RunOptions o = {},
                         bool resume = false) {
  o.quick = true;
  o.quiet = true;
  o.threads = 1;
  o.epochs = epochs;
  if (resume)
    o.resume_dir = (scratch_dir() / folder).string();
  else
    o.out_dir = (scratch_dir() / folder).string();
  return zoo::run_experiment(name, o);
}

std::vector<nlohmann::json> history_of(const std::string& folder) {
  const auto m = nlohmann::json::parse(std::ifstream(scratch_dir() / folder / "metrics.json"));
  std::vector<nlohmann::json> rows = m["epochs"].get<std::vector<nlohmann::json>>();
  for (auto& r : rows) r.erase("seconds");  // wall time differs, the figures must not
  return rows;
}

}  // namespace

TEST_CASE("--resume continues a run bit-exactly: sine, sum, timeseries, imdb-torch, imdb-keras") {
  const fs::path csv = scratch_dir() / "resume-series.csv";
  std::ofstream(csv) << "t,v\n";
  for (int t = 0; t < 80; ++t) std::ofstream(csv, std::ios::app) << t << "," << 50 + t + 10 * std::sin(t * 0.5) << "\n";
  struct Case {
    std::string name;
    std::size_t first, total;
    zoo::RunOptions options;
  };
  zoo::RunOptions series, imdb;
  series.csv = csv.string();
  series.column = "v";
  imdb.data_dir = write_imdb_corpus().string();
  for (const Case& c : {Case{"sine", 3, 6, {}}, Case{"sum", 4, 9, {}}, Case{"timeseries", 2, 5, series},
                        Case{"imdb-torch", 1, 3, imdb}, Case{"imdb-keras", 1, 2, imdb}}) {
    CAPTURE(c.name);
    run_into(c.name, "straight-" + c.name, c.total, c.options);
    run_into(c.name, "resumed-" + c.name, c.first, c.options);
    CHECK(history_of("resumed-" + c.name).size() == c.first);
    run_into(c.name, "resumed-" + c.name, c.total, c.options, /*resume=*/true);
    const auto straight = history_of("straight-" + c.name), resumed = history_of("resumed-" + c.name);
    REQUIRE(resumed.size() == straight.size());
    for (std::size_t e = 0; e < straight.size(); ++e) CHECK(resumed[e] == straight[e]);
    const auto m = nlohmann::json::parse(std::ifstream(scratch_dir() / ("resumed-" + c.name) / "metrics.json"));
    CHECK(m["status"] == "finished");
    CHECK(m["checkpoint_epoch"] == c.total);
  }
  // Changed settings are refused by name; a run folder of another experiment too.
  zoo::RunOptions other_lr;
  other_lr.lr = 0.5;
  CHECK_THROWS_WITH_AS(run_into("sine", "resumed-sine", 8, other_lr, true),
                       doctest::Contains("only --epochs and --threads may change"), std::runtime_error);
  CHECK_THROWS_WITH_AS(run_into("sum", "resumed-sine", 8, {}, true), doctest::Contains("not from a 'sum' run"),
                       std::runtime_error);
}

TEST_CASE("--out refuses a non-empty folder unless --resume or --overwrite, and --overwrite only replaces run files") {
  run_into("sine", "taken", 2);
  CHECK_THROWS_WITH_AS(run_into("sine", "taken", 2), doctest::Contains("pass --resume"), std::invalid_argument);
  zoo::RunOptions overwrite;
  overwrite.overwrite = true;
  CHECK_NOTHROW(run_into("sine", "taken", 2, overwrite));
  fs::create_directories(scratch_dir() / "mine");
  std::ofstream(scratch_dir() / "mine" / "thesis.tex") << "precious";
  CHECK_THROWS_WITH_AS(run_into("sine", "mine", 2, overwrite), doctest::Contains("refusing to delete"),
                       std::invalid_argument);
  CHECK(fs::exists(scratch_dir() / "mine" / "thesis.tex"));
  // A stale temporary of a dead writer is removed on resume.
  std::ofstream(scratch_dir() / "taken" / "checkpoint.npz.tmp-999999999") << "half";
  CHECK_NOTHROW(run_into("sine", "taken", 3, {}, true));
  CHECK_FALSE(fs::exists(scratch_dir() / "taken" / "checkpoint.npz.tmp-999999999"));
}

TEST_CASE("divergence stops the run with a message about the learning rate and keeps the last finite checkpoint") {
  zoo::RunOptions huge;
  huge.lr = 1e30;
  CHECK_THROWS_WITH_AS(run_into("sine", "diverged", 5, huge), doctest::Contains("training diverged"), zoo::Diverged);
  CHECK_THROWS_WITH_AS(run_into("sine", "diverged2", 5, huge), doctest::Contains("learning rate 1e+30"), zoo::Diverged);
  const auto m = nlohmann::json::parse(std::ifstream(scratch_dir() / "diverged" / "metrics.json"));
  CHECK(m["status"] == "diverged");
  CHECK(m["warnings"].size() == 1);
  CHECK(m["warnings"][0].get<std::string>().find("not") ==
        std::string::npos);  // says divergence, not "the input contains NaN"
  CHECK(fs::exists(scratch_dir() / "diverged" / "checkpoint.npz"));
  // The checkpoint is finite: resuming it with a sane learning rate is refused
  // only for the changed setting, not for NaN weights.
  CHECK_THROWS_WITH_AS(run_into("sine", "diverged", 5, {}, true), doctest::Contains("only --epochs"),
                       std::runtime_error);
}

TEST_CASE("SIGTERM stops a run like Ctrl-C and saves it") {
  zoo::RunOptions o;
  o.epochs = 100000;
  o.quiet = true;
  o.threads = 1;
  o.out_dir = (scratch_dir() / "terminated").string();
  std::thread terminator = raise_after_first_epoch(o.out_dir, SIGTERM);
  const zoo::RunSummary s = zoo::run_experiment("sine", o);
  terminator.join();
  CHECK(s.interrupted);
  const auto m = nlohmann::json::parse(std::ifstream(fs::path(s.out_dir) / "metrics.json"));
  CHECK(m["status"] == "interrupted");
  CHECK(m["checkpoint_epoch"] == m["epochs"].size());
}

TEST_CASE("the same seed gives bit-identical runs, run after run and at 1 or 2 threads") {
  // OPENBLAS_CORETYPE=Haswell (set for this suite by tests/CMakeLists.txt on
  // AVX2 machines) rounds GEMMs by call shape, which made 2-thread runs drift
  // before GEMMs had a fixed partition (xgrad/autograd/blas.cpp).
  const fs::path csv = scratch_dir() / "det-series.csv";
  std::ofstream(csv) << "t,v\n";
  for (int t = 0; t < 60; ++t)
    std::ofstream(csv, std::ios::app) << t << "," << 20 + t * 0.5 + 5 * std::cos(t * 0.7) << "\n";
  zoo::RunOptions series, imdb;
  series.csv = csv.string();
  series.column = "v";
  imdb.data_dir = write_imdb_corpus().string();
  for (const auto& [name, epochs, options] :
       std::vector<std::tuple<std::string, std::size_t, zoo::RunOptions>>{{"sine", 4, {}},
                                                                          {"sine-scratch", 2, {}},
                                                                          {"sum", 5, {}},
                                                                          {"timeseries", 2, series},
                                                                          {"imdb-torch", 1, imdb},
                                                                          {"imdb-keras", 1, imdb},
                                                                          {"rnn-vs-lstm", 1, {}}}) {
    CAPTURE(name);
    std::vector<std::vector<nlohmann::json>> histories;
    for (const int threads : {1, 2, 2, 2}) {
      zoo::RunOptions o = options;
      o.quick = true;
      o.quiet = true;
      o.threads = threads;
      o.epochs = epochs;
      o.overwrite = true;
      o.out_dir = (scratch_dir() / ("det-" + name)).string();
      zoo::run_experiment(name, o);
      histories.push_back(history_of("det-" + name));
    }
    for (std::size_t i = 1; i < histories.size(); ++i) CHECK(histories[i] == histories[0]);
  }
}

TEST_CASE("the default thread count follows the CPU affinity mask (taskset), not the machine's core count") {
  cpu_set_t original;
  REQUIRE(sched_getaffinity(0, sizeof original, &original) == 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &original)) {
      CPU_SET(c, &one);
      break;
    }
  }
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const int limited = zoo::default_threads();
  REQUIRE(sched_setaffinity(0, sizeof original, &original) == 0);
  CHECK(limited == 1);
  // Restored: the mask's cores again (fewer only under a cgroup CPU quota).
  CHECK(zoo::default_threads() >= 1);
  CHECK(zoo::default_threads() <=
        std::min<int>(CPU_COUNT(&original), static_cast<int>(std::thread::hardware_concurrency())));
}
