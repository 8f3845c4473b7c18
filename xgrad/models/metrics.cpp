#include "xgrad/models/metrics.hpp"

#include <stdexcept>

namespace xgrad::zoo {

Confusion confusion_matrix(const std::vector<std::int64_t>& truth, const std::vector<std::int64_t>& predicted) {
  if (truth.size() != predicted.size()) throw std::invalid_argument("confusion_matrix: lengths differ");
  Confusion c{};
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] > 1 || predicted[i] < 0 || predicted[i] > 1) {
      throw std::invalid_argument("confusion_matrix: labels must be 0 or 1");
    }
    ++c[truth[i]][predicted[i]];
  }
  return c;
}

double accuracy(const Confusion& c) {
  const double total = static_cast<double>(c[0][0] + c[0][1] + c[1][0] + c[1][1]);
  return total ? static_cast<double>(c[0][0] + c[1][1]) / total : 0.0;
}

double f1_score(const Confusion& c) {
  const double tp = static_cast<double>(c[1][1]), fp = static_cast<double>(c[0][1]), fn = static_cast<double>(c[1][0]);
  return tp == 0 ? 0.0 : 2 * tp / (2 * tp + fp + fn);
}

double mean_squared_error(const std::vector<double>& truth, const std::vector<double>& predicted) {
  if (truth.size() != predicted.size() || truth.empty()) throw std::invalid_argument("mean_squared_error: bad lengths");
  double total = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) total += (truth[i] - predicted[i]) * (truth[i] - predicted[i]);
  return total / static_cast<double>(truth.size());
}

}  // namespace xgrad::zoo
