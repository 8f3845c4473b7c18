#pragma once
// Classification and regression figures the labs report.

#include <array>
#include <cstdint>
#include <vector>

namespace xgrad::zoo {

// Binary confusion matrix [[tn, fp], [fn, tp]] (rows: true class, columns:
// predicted class, as scikit-learn prints it).
using Confusion = std::array<std::array<std::size_t, 2>, 2>;
Confusion confusion_matrix(const std::vector<std::int64_t>& truth, const std::vector<std::int64_t>& predicted);
double accuracy(const Confusion& c);
// F1 of the positive class (1); 0 when there are no true or predicted positives.
double f1_score(const Confusion& c);
double mean_squared_error(const std::vector<double>& truth, const std::vector<double>& predicted);

}  // namespace xgrad::zoo
