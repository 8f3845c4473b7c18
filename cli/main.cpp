// build/xgrad: the command-line program (gradient checks, demo, and later
// the model zoo). CLI11 parses the arguments.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include <xtensor/xarray.hpp>
#include <xtensor/xio.hpp>

#include "autograd/autograd.hpp"
#include "autograd/gradcheck_catalog.hpp"
#include "nn/layer_gradcheck.hpp"

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
            << "dloss/dw =\n" << w.grad() << "\n"
            << "dloss/db = " << b.grad() << "\n";
  std::cout << "\nChecking every op's derivative against finite differences...\n";
  const bool ok = run_gradcheck_table(autograd_gradcheck_cases(0), std::cout);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xgrad: a tape autograd, LSTM layers and a model zoo for CPU sequence models"};
  app.set_version_flag("--version", std::string("xgrad ") + XGRAD_VERSION);
  app.require_subcommand(0, 1);

  auto* gradcheck_cmd = app.add_subcommand("gradcheck", "Check every op's and layer's gradient against finite differences");
  std::uint32_t seed = 0;
  bool verbose = false;
  gradcheck_cmd->add_option("--seed", seed, "Seed for the random input values")->default_val(0);
  gradcheck_cmd->add_flag("-v,--verbose", verbose, "Print every comparison's summary");

  auto* demo_cmd = app.add_subcommand("demo", "A small autograd example and the gradient checks");

  CLI11_PARSE(app, argc, argv);
  try {
    if (gradcheck_cmd->parsed()) {
      std::printf("xgrad gradcheck: central differences in double precision (eps 1e-6, atol 1e-5, rtol 1e-3)\n\n");
      auto cases = xgrad::autograd_gradcheck_cases(seed);
      for (auto& c : xgrad::nn::layer_gradcheck_cases(seed)) cases.push_back(std::move(c));
      return xgrad::run_gradcheck_table(cases, std::cout, verbose) ? 0 : 1;
    }
    if (demo_cmd->parsed()) return run_demo();
  } catch (const std::exception& e) {
    std::cerr << "xgrad: error: " << e.what() << "\n";
    return 1;
  }
  std::cout << app.help();
  return 0;
}
