#include "xgrad/nn/layer_gradcheck.hpp"

#include <memory>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/layer_norm.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace xgrad::nn {

namespace {

using V = const std::vector<TensorD>&;

GradcheckOptions in_place() {
  GradcheckOptions o;
  o.clone_inputs = false;
  return o;
}

// A case whose inputs are `data` followed by the module's parameters.
template <class M>
void add_module_case(std::vector<GradcheckCase>& cases, std::string name, std::shared_ptr<M> module,
                     std::vector<TensorD> data, GradcheckFunction fn) {
  std::vector<TensorD> inputs = std::move(data);
  for (auto& p : module->parameters()) inputs.push_back(p);
  cases.push_back(make_gradcheck_case(std::move(name), std::move(fn), std::move(inputs), in_place()));
}

// Sum of the weighted outputs of a recurrent layer, so that output, h_n
// and c_n all feed the checked value.
TensorD recurrent_objective(const RecurrentOutput<double>& out) {
  TensorD total = sum(out.output * out.output) + sum(out.h_n * 0.5);
  if (out.c_n.defined()) total = total + sum(out.c_n * out.c_n * 0.25);
  return total;
}

}  // namespace

std::vector<GradcheckCase> layer_gradcheck_cases(std::uint32_t seed) {
  Generator gen(seed);
  auto r = [&](const Shape& s) { return randn<double>(s, gen, true); };
  std::vector<GradcheckCase> cases;
  manual_seed(seed);  // parameter initialization

  {
    auto fc = std::make_shared<Linear<double>>(4, 3);
    add_module_case(cases, "Linear (B, T, F)", fc, {r({2, 3, 4})}, [fc](V x) { return fc->forward(x[0]); });
  }
  {
    auto norm = std::make_shared<LayerNorm<double>>(Shape{4});
    // Non-trivial affine parameters, so their gradients are checked away from 1 and 0.
    norm->weight.mutable_value() = r({4}).value();
    norm->bias.mutable_value() = r({4}).value();
    add_module_case(cases, "LayerNorm (B, T, F)", norm, {r({2, 3, 4})}, [norm](V x) { return norm->forward(x[0]); });
  }
  {
    auto emb = std::make_shared<Embedding<double>>(6, 3, 0);
    xt::xarray<std::int64_t> idx = {{1, 0, 5}, {5, 2, 0}};
    add_module_case(cases, "Embedding padding_idx=0", emb, {},
                    [emb, idx](V) { return emb->forward(idx) * emb->forward(idx); });
  }
  {
    auto drop = std::make_shared<Dropout<double>>(0.4);
    add_module_case(cases, "Dropout (train, reseeded)", drop, {r({3, 4})}, [drop](V x) {
      manual_seed(7);
      return drop->forward(x[0]);
    });
  }

  const std::size_t in = 3, hidden = 3, batch = 2, steps = 5;
  struct Config {
    const char* label;
    CellKind kind;
    std::size_t layers;
    bool bidirectional, batch_first, initial_state, lengths;
    std::size_t projection_block = 0;  // 0: automatic (one block at these sizes)
  };
  const Config configs[] = {
      {"LSTM 2 layers bidir batch_first h0 lengths", CellKind::LSTM, 2, true, true, true, true},
      {"LSTM 2 layers bidir lengths, blocks of 2 steps", CellKind::LSTM, 2, true, false, true, true, 2},
      {"GRU 1 layer, blocks of 2 steps", CellKind::GRU, 1, false, false, false, false, 2},
      {"RNN 1 layer bidir h0, blocks of 2 steps", CellKind::RNNTanh, 1, true, false, true, false, 2},
      {"LSTM 1 layer time-major", CellKind::LSTM, 1, false, false, false, false},
      {"LSTM 2 layers time-major h0", CellKind::LSTM, 2, false, false, true, false},
      {"GRU 2 layers bidir batch_first h0 lengths", CellKind::GRU, 2, true, true, true, true},
      {"GRU 1 layer time-major", CellKind::GRU, 1, false, false, false, false},
      {"RNN 2 layers bidir batch_first h0 lengths", CellKind::RNNTanh, 2, true, true, true, true},
      {"RNN 2 layers time-major h0", CellKind::RNNTanh, 2, false, false, true, false},
      {"RNN relu 1 layer bidir h0 lengths", CellKind::RNNReLU, 1, true, false, true, true},
  };
  for (const auto& c : configs) {
    RecurrentOptions o;
    o.input_size = in;
    o.hidden_size = hidden;
    o.num_layers = c.layers;
    o.bidirectional = c.bidirectional;
    o.batch_first = c.batch_first;
    o.projection_block = c.projection_block;
    auto layer = std::make_shared<Recurrent<double>>(c.kind, o);
    layer->eval();
    const std::size_t states = c.layers * (c.bidirectional ? 2 : 1);
    std::vector<TensorD> data{c.batch_first ? r({batch, steps, in}) : r({steps, batch, in})};
    if (c.initial_state) {
      data.push_back(r({states, batch, hidden}));
      if (c.kind == CellKind::LSTM) data.push_back(r({states, batch, hidden}));
    }
    const std::vector<std::size_t> lengths = c.lengths ? std::vector<std::size_t>{5, 3} : std::vector<std::size_t>{};
    const bool lstm = c.kind == CellKind::LSTM, h0 = c.initial_state;
    add_module_case(cases, c.label, layer, data, [layer, lengths, lstm, h0](V x) {
      const TensorD none;
      return recurrent_objective(layer->forward_states(x[0], h0 ? x[1] : none, h0 && lstm ? x[2] : none, lengths));
    });
  }
  {
    RecurrentOptions o;
    o.input_size = in;
    o.hidden_size = hidden;
    o.num_layers = 2;
    o.dropout = 0.3;
    o.recurrent_dropout = 0.3;
    o.input_dropout = 0.2;
    auto layer = std::make_shared<LSTM<double>>(o);
    add_module_case(cases, "LSTM train-mode dropouts (reseeded)", layer, {r({steps, batch, in})}, [layer](V x) {
      manual_seed(11);
      return recurrent_objective(layer->forward_states(x[0], {}, {}, {}));
    });
  }
  for (CellKind kind : {CellKind::LSTM, CellKind::GRU, CellKind::RNNTanh, CellKind::RNNReLU}) {
    auto cell = std::make_shared<RecurrentCell<double>>(kind, in, hidden);
    const bool lstm = kind == CellKind::LSTM;
    std::vector<TensorD> data{r({batch, in}), r({batch, hidden})};
    if (lstm) data.push_back(r({batch, hidden}));
    add_module_case(cases, cell->type_name(), cell, data, [cell, lstm](V x) {
      auto [h, c] = cell->step(x[0], x[1], lstm ? x[2] : TensorD());
      return lstm ? h * c : h;
    });
  }

  // Losses, every reduction.
  const xt::xarray<std::int64_t> classes = {1, 0, 4, 2};
  for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    const std::string suffix = red == Reduction::Mean ? " mean" : red == Reduction::Sum ? " sum" : " none";
    auto add = [&](std::string name, GradcheckFunction fn, std::vector<TensorD> inputs) {
      cases.push_back(make_gradcheck_case(name + suffix, std::move(fn), std::move(inputs)));
    };
    add("mse_loss", [red](V x) { return mse_loss(x[0], x[1], red); }, {r({3, 4}), r({3, 4})});
    {
      TensorD a = r({3, 4}), b = r({3, 4});
      for (std::size_t i = 0; i < a.size(); ++i)  // keep |a - b| away from the kink at 0
        if (std::abs(a.data()[i] - b.data()[i]) < 0.1) a.mutable_data()[i] += 0.3;
      add("l1_loss", [red](V x) { return l1_loss(x[0], x[1], red); }, {a, b});
    }
    add("binary_cross_entropy", [red](V x) { return binary_cross_entropy(sigmoid(x[0]), x[1], red); },
        {r({5}), uniform<double>({5}, 0.0, 1.0, gen, false)});
    add("binary_cross_entropy_with_logits",
        [red](V x) { return binary_cross_entropy_with_logits(x[0] * 3.0, x[1], red); },
        {r({2, 3}), uniform<double>({2, 3}, 0.0, 1.0, gen, false)});
    add("cross_entropy", [red, classes](V x) { return cross_entropy(x[0], classes, red); }, {r({4, 5})});
    add("nll_loss", [red, classes](V x) { return nll_loss(log_softmax(x[0], 1), classes, red); }, {r({4, 5})});
  }
  return cases;
}

}  // namespace xgrad::nn
