// build/xgrad: the command-line program (gradient checks, demo, and later
// the model zoo). CLI11 parses the arguments.
#include <CLI/CLI.hpp>

#include <sys/auxv.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xio.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/gradcheck_catalog.hpp"
#include "xgrad/dist/comm.hpp"
#include "xgrad/models/zoo.hpp"
#include "xgrad/nn/layer_gradcheck.hpp"

namespace {

// The README's first example: a small expression, backward, gradients.
int run_demo() {
  using namespace xgrad;
  Tensor w = Tensor::of({{0.5f, -1.0f}, {2.0f, 0.25f}}, /*requires_grad=*/true);
  Tensor b = Tensor::of({0.1f, -0.2f}, true);
  Tensor x = Tensor::of({{1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, 6.0f}});
  Tensor loss = mean(pow(sigmoid(linear(x, w, b)), 2.0f));  // x w^T + b, (3, 2)
  loss.backward();
  std::cout << "xgrad autograd demo: loss = mean(sigmoid(x w^T + b)^2)\n"
            << "loss = " << loss.item() << "\n"
            << "dloss/dw =\n"
            << w.grad() << "\n"
            << "dloss/db = " << b.grad() << "\n";
  std::cout << "\nChecking every op's derivative against finite differences...\n";
  const bool ok = run_gradcheck_table(autograd_gradcheck_cases(0), std::cout);
  return ok ? 0 : 1;
}

// Note [OpenBLAS kernels on newer CPUs]: Debian 12's OpenBLAS 0.3.21 does
// not recognize CPUs newer than itself (the project's development host, a
// Xeon with AVX-512 FP16 and AMX, among them) and falls back to its SSE3
// "Prescott" kernels (an imdb-keras epoch: 85 s instead of 50 s). It chooses its
// kernels from OPENBLAS_CORETYPE when the library loads, before main; so when
// that variable is unset, the kernels are Prescott and the CPU has AVX2 and
// FMA, the program starts itself again, once, with OPENBLAS_CORETYPE=Haswell
// (the AVX2 kernels, which every such CPU runs). Setting OPENBLAS_CORETYPE
// (to any value) turns this off (and a debugger then sees main once); a
// failed exec carries on as before.
void use_avx2_blas_kernels_if_openblas_fell_back(char** argv) {
#if defined(__x86_64__) && defined(__linux__)
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  if (std::string core = xgrad::blas_core_name(); core != "Prescott" && core != "prescott") return;
  // Started as `ld-linux-x86-64.so.2 build/xgrad ...` (no interpreter base),
  // /proc/self/exe is the loader, not this program: do not restart.
  if (::getauxval(AT_BASE) == 0) return;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
  ::setenv("OPENBLAS_CORETYPE", "Haswell", 1);
  ::execv("/proc/self/exe", argv);
  ::unsetenv("OPENBLAS_CORETYPE");
#else
  (void)argv;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  use_avx2_blas_kernels_if_openblas_fell_back(argv);
  // Under mpirun: one rank of a data-parallel job (docs/distributed.md); a
  // plain process otherwise. A rank that fails ends the whole job (fail()).
  std::optional<xgrad::dist::Session> session;
  try {
    session.emplace(&argc, &argv);
  } catch (const std::exception& e) {
    std::cerr << "xgrad: error: " << e.what() << "\n";
    return 1;
  }
  // An error: its message and exit code; in a job of several processes the
  // others are stopped too (they would wait for this one forever).
  const auto fail = [](int code, const std::string& message) {
    if (xgrad::dist::is_distributed()) xgrad::dist::abort(message, code);
    std::cerr << message << "\n";
    return code;
  };
  CLI::App app{"xgrad: a tape autograd, LSTM layers and a model zoo for CPU sequence models"};
  app.set_version_flag("--version", std::string("xgrad ") + XGRAD_VERSION);
  app.require_subcommand(0, 1);

  auto* gradcheck_cmd =
      app.add_subcommand("gradcheck", "Check every op's and layer's gradient against finite differences");
  std::uint32_t seed = 0;
  bool verbose = false;
  gradcheck_cmd->add_option("--seed", seed, "Seed for the random input values")->default_val(0);
  gradcheck_cmd->add_flag("-v,--verbose", verbose, "Print every comparison's summary");

  auto* demo_cmd = app.add_subcommand("demo", "A small autograd example and the gradient checks");

  auto* zoo_cmd = app.add_subcommand("zoo", "The model zoo: reproduce the LSTM labs");
  zoo_cmd->require_subcommand(1);
  auto* zoo_list = zoo_cmd->add_subcommand("list", "List the experiments, their labs and the data they need");
  auto* zoo_run = zoo_cmd->add_subcommand("run", "Run an experiment with its lab's settings as defaults");
  auto* zoo_report = zoo_cmd->add_subcommand("report", "Re-render the plots of a finished run and summarize it");
  auto* zoo_predict = zoo_cmd->add_subcommand(
      "predict", "Run a finished run's model on new input: reviews (imdb-*), the next values (sine, timeseries)");
  std::string predict_dir, steps;
  xgrad::zoo::PredictOptions predict;
  zoo_predict->add_option("dir", predict_dir, "A run folder (runs/NAME-...)")
      ->required()
      ->check(CLI::ExistingDirectory);
  zoo_predict->add_option("review", predict.texts,
                          "imdb-torch, imdb-keras: reviews to classify (none: one per line on stdin)");
  zoo_predict->add_option("--steps", steps, "sine, timeseries: how many values to forecast (default 12)");
  std::string experiment, report_dir, epochs, batch_size, lr, window, max_len, vocab, lengths;
  xgrad::zoo::RunOptions run;
  zoo_run->add_option("name", experiment, "Experiment name (see `xgrad zoo list`)")->required();
  zoo_run->add_option("--epochs", epochs, "Number of epochs (default: the lab's)");
  zoo_run->add_option("--batch-size", batch_size, "Batch size (default: the lab's)");
  zoo_run->add_option("--lr", lr, "Learning rate (default: the lab's)");
  zoo_run->add_option("--seed", run.seed, "Seed for initialization, dropout and shuffling")->default_val(0);
  zoo_run->add_option("--threads", run.threads, "Threads (default: the machine's cores; 1 on a busy machine)")
      ->check(CLI::Range(1, 256));
  zoo_run->add_option("--data", run.data_dir, "Data folder (default: $XGRAD_DATA)");
  zoo_run->add_option("--out", run.out_dir, "Output folder (default: runs/NAME-YYYYmmdd-HHMMSS); must be new or empty");
  zoo_run->add_option("--resume", run.resume_dir,
                      "Continue the interrupted or finished run in this folder from its checkpoint");
  zoo_run->add_flag("--overwrite", run.overwrite, "Replace the run files in an existing --out folder");
  zoo_run->add_flag("--quiet", run.quiet, "Print only errors");
  zoo_run->add_flag("--quick", run.quick, "A reduced preset: few epochs, small data (for smoke tests)");
  zoo_run->add_option("--csv", run.csv,
                      "timeseries: a univariate CSV file (default: airline passengers in the data folder)");
  zoo_run->add_option("--column", run.column, "timeseries: value column, by name or 0-based index");
  zoo_run->add_option("--window", window, "timeseries: input window length");
  zoo_run->add_option("--target", run.target,
                      "timeseries: change (default: the step from the window's last value, in log space for "
                      "positive series) or level (the lab's method: the min-max scaled value itself)");
  zoo_run->add_option("--max-len", max_len, "imdb: sequence length");
  zoo_run->add_option("--vocab", vocab, "imdb: vocabulary size");
  zoo_run->add_option("--lengths", lengths,
                      "rnn-vs-lstm: comma-separated sequence lengths (default 10,50,100,200,500)");
  zoo_report->add_option("dir", report_dir, "A run folder (runs/NAME-...)")->required()->check(CLI::ExistingDirectory);

  CLI11_PARSE(app, argc, argv);
  auto positive = [](const std::string& name, const std::string& text) -> std::size_t {
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(text, &used);
    } catch (const std::exception&) {
    }
    if (used != text.size() || v <= 0)
      throw std::invalid_argument(name + " must be a positive integer, got '" + text + "'");
    return static_cast<std::size_t>(v);
  };
  try {
    if (gradcheck_cmd->parsed()) {
      std::printf("xgrad gradcheck: central differences in double precision (eps 1e-6, atol 1e-5, rtol 1e-3)\n\n");
      auto cases = xgrad::autograd_gradcheck_cases(seed);
      for (auto& c : xgrad::nn::layer_gradcheck_cases(seed)) cases.push_back(std::move(c));
      return xgrad::run_gradcheck_table(cases, std::cout, verbose) ? 0 : 1;
    }
    if (demo_cmd->parsed()) return run_demo();
    if (zoo_list->parsed()) {
      std::printf("%-14s %-4s %-70s %s\n", "experiment", "lab", "what it does", "data");
      for (const auto& e : xgrad::zoo::experiments())
        std::printf("%-14s %-4s %-70s %s\n", e.name.c_str(), e.lab.c_str(), e.summary.c_str(), e.data.c_str());
      return 0;
    }
    if (zoo_report->parsed()) {
      std::cout << xgrad::zoo::render_report(report_dir);
      return 0;
    }
    if (zoo_predict->parsed()) {
      if (!steps.empty()) predict.steps = positive("--steps", steps);
      const bool reviews = xgrad::zoo::run_experiment_name(predict_dir).rfind("imdb", 0) == 0;
      if (reviews && predict.texts.empty())
        for (std::string line; std::getline(std::cin, line);)
          if (!line.empty()) predict.texts.push_back(line);
      std::cout << xgrad::zoo::predict(predict_dir, predict);
      return 0;
    }
    if (zoo_run->parsed()) {
      if (xgrad::dist::rank() != 0) run.quiet = true;  // rank 0 prints the job's progress and figures
      if (!epochs.empty()) run.epochs = positive("--epochs", epochs);
      if (!batch_size.empty()) run.batch_size = positive("--batch-size", batch_size);
      if (!window.empty()) run.window = positive("--window", window);
      if (!max_len.empty()) run.max_len = positive("--max-len", max_len);
      if (!vocab.empty()) run.vocab = positive("--vocab", vocab);
      if (!lr.empty()) {
        std::size_t used = 0;
        double v = -1;
        try {
          v = std::stod(lr, &used);
        } catch (const std::exception&) {
        }
        if (used != lr.size() || !(v > 0) || !std::isfinite(v))
          throw std::invalid_argument("--lr must be a positive finite number, got '" + lr + "'");
        run.lr = v;
      }
      for (std::size_t start = 0; !lengths.empty() && start <= lengths.size();) {
        const std::size_t comma = std::min(lengths.find(',', start), lengths.size());
        run.lengths.push_back(positive("--lengths", lengths.substr(start, comma - start)));
        start = comma + 1;
      }
      try {
        const auto summary = xgrad::zoo::run_experiment(experiment, run);
        return summary.interrupted ? 130 : 0;
      } catch (const xgrad::zoo::DataNotFound& e) {
        return fail(2, "xgrad zoo run " + experiment + ": " + e.what());
      } catch (const xgrad::zoo::Diverged& e) {
        // Every rank diverges together (train::fit agrees on it): all end
        // normally, after rank 0 recorded the run as diverged.
        if (xgrad::dist::rank() == 0) std::cerr << "xgrad zoo run " << experiment << ": " << e.what() << "\n";
        return 3;
      }
    }
  } catch (const std::exception& e) {
    return fail(1, std::string("xgrad: error: ") + e.what());
  }
  std::cout << app.help();
  return 0;
}
