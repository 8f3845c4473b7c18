#pragma once
// Named gradient-check cases for every autograd op (with broadcasting,
// reuse and composite cases), shared by the tests and `xgrad gradcheck`.
// Higher layers add their own cases and use the same table printer.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "xgrad/autograd/gradcheck.hpp"

namespace xgrad {

struct GradcheckCase {
  std::string name{};    // e.g. "add (broadcast)"
  std::string shapes{};  // the input shapes, e.g. "(3, 1), (1, 4)"
  GradcheckFunction function{};
  std::vector<TensorD> inputs{};
  GradcheckOptions options{};
};

// Builds a case; `shapes` is filled from the inputs.
GradcheckCase make_gradcheck_case(std::string name, GradcheckFunction function, std::vector<TensorD> inputs,
                                  GradcheckOptions options = {});

// Every autograd op, with random inputs drawn from `seed`.
std::vector<GradcheckCase> autograd_gradcheck_cases(std::uint32_t seed = 0);

// Runs the cases and prints a table (op, shapes, max abs error, max rel
// error, pass/fail) with failure details; returns true if all passed.
bool run_gradcheck_table(const std::vector<GradcheckCase>& cases, std::ostream& out, bool verbose = false);

}  // namespace xgrad
