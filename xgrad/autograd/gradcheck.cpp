#include "xgrad/autograd/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/random.hpp"
#include "xgrad/autograd/tape.hpp"

namespace xgrad {

std::string GradcheckResult::report() const {
  std::ostringstream os;
  os.precision(10);
  if (!error.empty()) {
    os << "gradcheck: error: " << error << "\n";
    return os.str();
  }
  os << "gradcheck: " << (passed ? "passed" : "FAILED") << " (" << checked << " comparisons, max abs error "
     << max_abs_error << ", max rel error " << max_rel_error << ")\n";
  for (const auto& f : failures) {
    os << "  input " << f.input << (f.direction ? ", direction " : ", element ") << f.element << ": analytic "
       << f.analytic << " vs numeric " << f.numeric << "\n";
  }
  return os.str();
}

namespace {

// sum(w * y) in double.
double weighted_sum(const xt::xarray<double>& w, const TensorD& y) {
  const double* wy = w.data();
  const double* yv = y.data();
  double total = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) total += wy[i] * yv[i];
  return total;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<TensorD>& inputs,
                          const GradcheckOptions& options) {
  GradcheckResult result;
  Generator gen(options.seed);
  // Fresh leaves, so the caller's tensors keep their gradients untouched.
  std::vector<TensorD> x;
  for (const auto& in : inputs) {
    x.push_back(options.clone_inputs ? in.clone_leaf() : in);
    x.back().zero_grad();
  }

  xt::xarray<double> cotangent;
  try {
    TensorD y = f(x);
    if (!y.defined()) throw std::invalid_argument("the function returned an undefined tensor");
    cotangent = randn<double>(y.shape(), gen).value();
    if (y.size() == 1) cotangent.fill(1.0);
    if (y.requires_grad()) y.backward(TensorD(cotangent));
  } catch (const std::exception& e) {
    Tape::current().clear();
    result.passed = false;
    result.error = e.what();
    return result;
  }

  NoGradGuard no_grad;
  auto evaluate = [&]() {
    TensorD y = f(x);
    if (y.shape() != to_shape(cotangent.shape())) {
      throw std::invalid_argument("the output shape changed between evaluations");
    }
    return weighted_sum(cotangent, y);
  };
  auto compare = [&](std::size_t input, std::size_t element, bool direction, double analytic, double numeric) {
    const double abs_err = std::abs(analytic - numeric);
    const double scale = std::max(std::abs(analytic), std::abs(numeric));
    result.max_abs_error = std::max(result.max_abs_error, abs_err);
    if (scale > 0) result.max_rel_error = std::max(result.max_rel_error, abs_err / scale);
    ++result.checked;
    if (!(abs_err <= options.atol + options.rtol * std::abs(numeric))) {
      result.passed = false;
      if (result.failures.size() < options.max_failures_reported)
        result.failures.push_back({input, element, direction, analytic, numeric});
    }
  };

  try {
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!x[i].requires_grad()) continue;
      const std::size_t n = x[i].size();
      xt::xarray<double> analytic = x[i].has_grad() ? x[i].grad() : xt::xarray<double>(xt::zeros<double>(x[i].shape()));
      double* v = x[i].mutable_data();
      if (n <= options.max_elements_per_input) {
        for (std::size_t e = 0; e < n; ++e) {
          const double saved = v[e];
          v[e] = saved + options.eps;
          const double plus = evaluate();
          v[e] = saved - options.eps;
          const double minus = evaluate();
          v[e] = saved;
          compare(i, e, false, analytic.data()[e], (plus - minus) / (2 * options.eps));
        }
      } else {
        const xt::xarray<double> saved = x[i].value();
        for (std::size_t d = 0; d < options.random_directions; ++d) {
          xt::xarray<double> dir = randn<double>(x[i].shape(), gen).value();
          double directional = 0.0;
          for (std::size_t e = 0; e < n; ++e) directional += analytic.data()[e] * dir.data()[e];
          for (std::size_t e = 0; e < n; ++e) v[e] = saved.data()[e] + options.eps * dir.data()[e];
          const double plus = evaluate();
          for (std::size_t e = 0; e < n; ++e) v[e] = saved.data()[e] - options.eps * dir.data()[e];
          const double minus = evaluate();
          std::copy(saved.begin(), saved.end(), v);
          compare(i, d, true, directional, (plus - minus) / (2 * options.eps));
        }
      }
    }
  } catch (const std::exception& e) {
    result.passed = false;
    result.error = e.what();
  }
  return result;
}

}  // namespace xgrad
