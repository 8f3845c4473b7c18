// Lab L1's LSTM written from the gate equations as user code gives the same
// outputs and gradients as nn::LSTM with the same weights.
#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/models/scratch_lstm.hpp"
#include "xgrad/nn/recurrent.hpp"

using namespace xgrad;

TEST_CASE("the L1 cell from gate equations equals nn::LSTM: outputs and gradients") {
  manual_seed(4);
  nn::LSTM<double> lstm({.input_size = 2, .hidden_size = 5, .batch_first = true});
  models::ScratchLSTMCell<double> scratch(2, 5);
  scratch.copy_from(lstm);
  Generator gen(8);
  TensorD x1 = randn<double>({3, 7, 2}, gen, true), x2 = x1.clone_leaf();

  auto reference = lstm.forward(x1, {}, {});
  auto mine = scratch.run(x2);
  CHECK(xt::allclose(mine.outputs.value(), reference.output.value(), 1e-12, 1e-14));
  CHECK(xt::allclose(mine.c.value(), xt::view(reference.c_n.value(), 0), 1e-12, 1e-14));

  TensorD w = randn<double>({3, 7, 5}, gen);
  sum(reference.output * w).backward();
  sum(mine.outputs * w).backward();
  CHECK(xt::allclose(x2.grad(), x1.grad(), 1e-12, 1e-14));
  // dW_f = [dW_hh_f, dW_ih_f]; PyTorch's row blocks are i, f, g, o.
  const auto& p = lstm.layer_parameters(0, 0);
  auto rows_f = xt::range(5, 10);
  CHECK(xt::allclose(xt::view(scratch.W_f.grad(), xt::all(), xt::range(0, 5)),
                     xt::view(p.weight_hh.grad(), rows_f, xt::all()), 1e-12, 1e-14));
  CHECK(xt::allclose(xt::view(scratch.W_f.grad(), xt::all(), xt::range(5, 7)),
                     xt::view(p.weight_ih.grad(), rows_f, xt::all()), 1e-12, 1e-14));
  CHECK(xt::allclose(scratch.b_o.grad(), xt::view(p.bias_ih.grad(), xt::range(15, 20)), 1e-12, 1e-14));
  CHECK(xt::allclose(scratch.b_o.grad(), xt::view(p.bias_hh.grad(), xt::range(15, 20)), 1e-12, 1e-14));
}

TEST_CASE("the L1 cell passes gradcheck") {
  auto cell = std::make_shared<models::ScratchLSTMCell<double>>(2, 3);
  Generator gen(2);
  std::vector<TensorD> inputs{randn<double>({2, 4, 2}, gen, true)};
  for (auto& p : cell->parameters()) inputs.push_back(p);
  GradcheckOptions o;
  o.clone_inputs = false;
  const auto r = gradcheck([cell](const std::vector<TensorD>& x) { return cell->run(x[0]).outputs; }, inputs, o);
  INFO(r.report());
  CHECK(r.passed);
}
