#pragma once
// The public gradient checker: compares the tape's gradients with central
// finite differences in double precision.
//
// f maps the inputs to an output of any shape. A scalar output is checked
// directly; a larger one is reduced to sum(w * f(x)) with a fixed random
// cotangent w, which checks the vector-Jacobian product the tape computes
// (a wrong derivative survives only for a measure-zero choice of w).
//
// Every element of every input that requires grad is perturbed by +-eps
// (element mode), or, for inputs larger than max_elements_per_input,
// random directions v are compared as grad.v against the directional
// difference (direction mode).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  // Inputs with more elements than this are checked along random directions.
  std::size_t max_elements_per_input = 4096;
  std::size_t random_directions = 16;
  std::uint32_t seed = 0;  // cotangent and directions
  std::size_t max_failures_reported = 10;
  // false: check the given tensors themselves (e.g. a module's parameters,
  // which its forward reads directly). Their values are restored after each
  // perturbation; their gradients are replaced by the checked ones.
  bool clone_inputs = true;
};

struct GradcheckFailure {
  std::size_t input = 0;    // which input
  std::size_t element = 0;  // flat (row-major) index, or direction number in direction mode
  bool direction = false;
  double analytic = 0.0;
  double numeric = 0.0;
};

struct GradcheckResult {
  bool passed = true;
  std::size_t checked = 0;  // comparisons made
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // |a - n| / max(|a|, |n|), over comparisons with a nonzero side
  std::vector<GradcheckFailure> failures{};
  std::string error{};  // set if f threw or returned something unusable
  // A readable report: the verdict, and each failure as input, element,
  // analytic vs numeric value.
  std::string report() const;
  explicit operator bool() const { return passed; }
};

using GradcheckFunction = std::function<TensorD(const std::vector<TensorD>&)>;

GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<TensorD>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace xgrad
