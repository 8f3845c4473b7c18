#pragma once
// Gradient-check cases for every layer and loss (double precision), shared
// by the tests and `xgrad gradcheck`: recurrent layers with 2 layers,
// bidirectional, batch_first or not, initial states, T = 5, per-sequence
// lengths and train-mode dropout; cells; Linear; Embedding with padding_idx;
// every loss with every reduction. The module's own parameters are checked
// in place (GradcheckOptions::clone_inputs = false).

#include <cstdint>
#include <vector>

#include "xgrad/autograd/gradcheck_catalog.hpp"

namespace xgrad::nn {

std::vector<GradcheckCase> layer_gradcheck_cases(std::uint32_t seed = 0);

}  // namespace xgrad::nn
