// Modules, layers, initializers and their gradients.
#include <doctest/doctest.h>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xsort.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/layer_gradcheck.hpp"
#include "xgrad/nn/layer_init.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/recurrent.hpp"
#include "xgrad/nn/sequential.hpp"

using namespace xgrad;
using namespace xgrad::nn;

TEST_CASE("every layer and loss passes gradcheck in double precision") {
  for (std::uint32_t seed : {0u, 1u}) {
    for (const auto& c : layer_gradcheck_cases(seed)) {
      CAPTURE(c.name);
      const auto r = gradcheck(c.function, c.inputs, c.options);
      INFO(r.report());
      CHECK(r.passed);
    }
  }
}

namespace {
struct Net : Module<> {
  std::shared_ptr<LSTM<>> lstm = register_module(
      "lstm", std::make_shared<LSTM<>>(LSTMOptions{.input_size = 2, .hidden_size = 3, .num_layers = 2}));
  std::shared_ptr<Linear<>> fc = register_module("fc", std::make_shared<Linear<>>(3, 1));
  std::shared_ptr<Dropout<>> drop = register_module("drop", std::make_shared<Dropout<>>(0.5));
  Tensor forward(const Tensor& x) override {
    return fc->forward(drop->forward(select(lstm->forward(x), 0, x.size(0) - 1)));
  }
};
}  // namespace

TEST_CASE("modules name parameters hierarchically, as a PyTorch state_dict") {
  Net net;
  std::vector<std::string> names;
  for (auto& [name, p] : net.named_parameters()) names.push_back(name);
  const std::vector<std::string> expected = {
      "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "lstm.weight_ih_l1",
      "lstm.weight_hh_l1", "lstm.bias_ih_l1",   "lstm.bias_hh_l1", "fc.weight",       "fc.bias"};
  CHECK(names == expected);
  // LSTM: 4H(in + H + 2) per layer = 12*(2+3+2) + 12*(3+3+2); fc: 3 + 1
  CHECK(net.parameter_count() == 84 + 96 + 4);
  net.eval();
  CHECK_FALSE(net.drop->is_training());
  net.train();
  CHECK(net.lstm->is_training());
  for (auto& p : net.parameters()) CHECK(p.requires_grad());
  Tensor y = net.forward(Tensor::ones({4, 2, 2}));
  CHECK(y.shape() == Shape{2, 1});
  sum(y).backward();
  CHECK(net.fc.get()->weight.has_grad());
  net.zero_grad();
  CHECK_FALSE(net.fc->weight.has_grad());
}

TEST_CASE("state_dict and load_state_dict: a copy out, all or nothing in, every problem named") {
  Net a, b;
  Net::StateDict state = a.state_dict();
  CHECK(state.size() == 10);
  CHECK(state.at("fc.weight") == a.fc->weight.value());
  // A copy: changing the dict does not change the model.
  state.at("fc.bias")(0) = 42.f;
  CHECK(a.fc->bias.value()(0) != 42.f);
  const auto result = b.load_state_dict(state);
  CHECK(result.missing_keys.empty());
  CHECK(result.unexpected_keys.empty());
  CHECK(b.fc->bias.value()(0) == 42.f);
  CHECK(b.lstm->named_parameters()[0].second.value() == a.lstm->named_parameters()[0].second.value());
  Tensor y = b.forward(Tensor::ones({4, 2, 2}));  // the loaded parameters still train
  sum(y).backward();
  CHECK(b.fc->bias.has_grad());

  // Strict: a missing, an unexpected and a mis-shaped entry are all listed,
  // and nothing is loaded.
  Net::StateDict bad = a.state_dict();
  bad.erase("fc.bias");
  bad["fc.scale"] = xt::xarray<float>({1.f});
  bad["lstm.weight_hh_l1"] = xt::zeros<float>({3, 12});
  const xt::xarray<float> before = b.fc->weight.value();
  bad["fc.weight"] = before + 1.f;
  try {
    b.load_state_dict(bad);
    FAIL("load_state_dict accepted a bad dict");
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    CHECK(m.find("missing keys: fc.bias;") != std::string::npos);
    CHECK(m.find("unexpected keys: fc.scale;") != std::string::npos);
    CHECK(m.find("lstm.weight_hh_l1: the dict has shape (3, 12), the parameter (12, 3)") != std::string::npos);
  }
  CHECK(b.fc->weight.value() == before);
  // Non-strict: loads what matches, reports the rest; a shape mismatch still throws.
  bad.erase("lstm.weight_hh_l1");
  const auto partial = b.load_state_dict(bad, false);
  CHECK(partial.missing_keys == std::vector<std::string>{"lstm.weight_hh_l1", "fc.bias"});  // parameter order
  CHECK(partial.unexpected_keys == std::vector<std::string>{"fc.scale"});
  CHECK(b.fc->weight.value() == before + 1.f);
  // copy_ never reshapes.
  CHECK_THROWS_WITH_AS(b.fc->weight.copy_(xt::zeros<float>({3, 1})),
                       doctest::Contains("values of shape (3, 1) do not fit a tensor of shape (1, 3)"),
                       std::invalid_argument);
}

TEST_CASE("RNN with nonlinearity relu follows h_t = relu(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)") {
  manual_seed(3);
  RNN<double> rnn(RNNOptions{.input_size = 2, .hidden_size = 3, .nonlinearity = Nonlinearity::relu});
  Generator g(4);
  const TensorD x = randn<double>({4, 2, 2}, g);  // (T, B, F)
  const auto out = rnn.forward(x, TensorD());
  const auto& p = rnn.layer_parameters(0, 0);
  TensorD h = TensorD::zeros({2, 3});
  bool some_clipped = false;
  for (std::size_t t = 0; t < 4; ++t) {
    const TensorD pre = linear(select(x, 0, t), p.weight_ih, p.bias_ih) + linear(h, p.weight_hh, p.bias_hh);
    for (double v : pre.value()) some_clipped |= v < 0;
    h = relu(pre);
    for (std::size_t i = 0; i < h.size(); ++i)
      CHECK(select(out.output, 0, t).value().data()[i] == doctest::Approx(h.value().data()[i]).epsilon(1e-12));
  }
  CHECK(some_clipped);  // the relu mattered
  CHECK(rnn.type_name() == "RNN");
}

TEST_CASE("Sequential chains single-input modules") {
  manual_seed(3);
  Sequential<> seq;
  seq.add(std::make_shared<Linear<>>(4, 8)).add(std::make_shared<ReLU<>>()).add(std::make_shared<Linear<>>(8, 2));
  CHECK(seq.size() == 3);
  CHECK(seq.named_parameters()[0].first == "0.weight");
  CHECK(seq.named_parameters()[2].first == "2.weight");
  Tensor x = Tensor::ones({5, 4});
  auto* first = dynamic_cast<Linear<>*>(seq.children()[0].second.get());
  auto* last = dynamic_cast<Linear<>*>(seq.children()[2].second.get());
  Tensor expected = last->forward(relu(first->forward(x)));
  CHECK(seq.forward(x).value() == expected.value());
}

TEST_CASE("Sequential from a list, Lambda modules, and register_module from constructor arguments") {
  manual_seed(3);
  Sequential<> seq(
      {std::make_shared<Linear<>>(3, 4), std::make_shared<Lambda<>>([](const Tensor& x) { return x * x; }, "Square")});
  CHECK(seq.size() == 2);
  CHECK(seq.children()[1].second->type_name() == "Square");
  CHECK(seq.parameters().size() == 2);  // the Lambda has none
  const Tensor x = Tensor::ones({2, 3});
  const Tensor y = dynamic_cast<Linear<>*>(seq.children()[0].second.get())->forward(x);
  CHECK(seq(x).value() == (y * y).value());
  CHECK_THROWS_WITH_AS(Lambda<>(nullptr), doctest::Contains("the function is empty"), std::invalid_argument);
  struct Net : Module<> {
    std::shared_ptr<Linear<>> fc = register_module<Linear<>>("fc", 4, 2);
    std::shared_ptr<LSTM<>> lstm = register_module<LSTM<>>("lstm", LSTMOptions{.input_size = 2, .hidden_size = 3});
  } net;
  CHECK(net.named_parameters()[0].first == "fc.weight");
  CHECK(net.fc->weight.shape() == Shape{2, 4});
  CHECK(net.named_parameters()[2].first == "lstm.weight_ih_l0");
}

TEST_CASE("default initializations follow PyTorch's bounds") {
  manual_seed(0);
  Linear<> fc(16, 4);
  const float bound = 1.f / 4.f;
  for (float w : fc.weight.value()) CHECK(std::abs(w) <= bound);
  LSTM<> lstm({.input_size = 3, .hidden_size = 25});
  for (auto& p : lstm.parameters())
    for (float w : p.value()) CHECK(std::abs(w) <= 0.2f);
  Embedding<> emb(50, 8, 3);
  for (std::size_t j = 0; j < 8; ++j) CHECK(emb.weight.value()(3, j) == 0.f);
}

TEST_CASE("initializers: ranges, statistics and orthogonality") {
  Generator g(1);
  TensorD w = TensorD::zeros({64, 32});
  init::xavier_uniform_(w, 1.0, g);
  const double a = std::sqrt(6.0 / 96);
  for (double v : w.value()) CHECK(std::abs(v) <= a);
  // Keras's name draws the same numbers from the same generator state.
  Generator g1(7), g2(7);
  TensorD keras_named = TensorD::zeros({64, 32}), torch_named = TensorD::zeros({64, 32});
  init::glorot_uniform_(keras_named, 1.0, g1);
  init::xavier_uniform_(torch_named, 1.0, g2);
  CHECK(keras_named.value() == torch_named.value());
  init::glorot_normal_(keras_named, 1.0, g1);
  init::xavier_normal_(torch_named, 1.0, g2);
  CHECK(keras_named.value() == torch_named.value());
  init::kaiming_normal_(w, g);
  double var = 0;
  for (double v : w.value()) var += v * v;
  CHECK(var / w.size() == doctest::Approx(2.0 / 32).epsilon(0.1));
  // The mean square of each draw against its formula (fan_in 32, fan_out 64):
  // xavier_normal_ std = gain sqrt(2 / 96); kaiming_uniform_ U(-b, b) with
  // b = sqrt(6 / 32), whose variance b^2 / 3 is 2 / 32.
  auto mean_square = [&] {
    double acc = 0;
    for (double v : w.value()) acc += v * v;
    return acc / w.size();
  };
  init::xavier_normal_(w, 2.0, g);
  CHECK(mean_square() == doctest::Approx(4.0 * 2.0 / 96).epsilon(0.1));
  init::kaiming_uniform_(w, g);
  const double b = std::sqrt(6.0 / 32);
  double largest = 0;
  for (double v : w.value()) largest = std::max(largest, std::abs(v));
  CHECK(largest <= b);
  CHECK(largest > 0.95 * b);  // the draws fill the range
  CHECK(mean_square() == doctest::Approx(2.0 / 32).epsilon(0.1));
  for (Shape shape : {Shape{8, 8}, Shape{4, 12}, Shape{12, 4}}) {
    TensorD q = TensorD::zeros(shape);
    init::orthogonal_(q, 1.0, g);
    // Rows (if fewer) or columns are orthonormal.
    const bool rows = shape[0] <= shape[1];
    TensorD gram = rows ? matmul(q, q, false, true) : matmul(q, q, true, false);
    const std::size_t n = rows ? shape[0] : shape[1];
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        CHECK(gram.value()(i, j) == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-9));
  }
  init::ones_(w);
  CHECK(sum(w).item() == 64 * 32);
  CHECK_THROWS_AS(init::xavier_uniform_(TensorD::zeros({3}).requires_grad_(false)), std::invalid_argument);
}

TEST_CASE("Dropout: inverted scaling in training, identity in eval, reproducible with a seed") {
  Dropout<> drop(0.25);
  Tensor x = Tensor::ones({1000});
  manual_seed(5);
  Tensor y = drop.forward(x);
  std::size_t zeros = 0;
  for (float v : y.value()) {
    CHECK((v == 0.f || v == doctest::Approx(1.f / 0.75f)));
    zeros += v == 0.f;
  }
  CHECK(zeros > 200);
  CHECK(zeros < 300);
  manual_seed(5);
  CHECK(drop.forward(x).value() == y.value());
  drop.eval();
  CHECK(drop.forward(x).value() == x.value());
  CHECK_THROWS_AS(Dropout<>(1.0), std::invalid_argument);
}

TEST_CASE("recurrent layers: shapes of outputs and states, lengths freeze states") {
  LSTM<> lstm({.input_size = 2, .hidden_size = 3, .num_layers = 2, .batch_first = true, .bidirectional = true});
  Tensor x = Tensor::ones({4, 6, 2});
  auto out = lstm.forward(x, {}, {});
  CHECK(out.output.shape() == Shape{4, 6, 6});
  CHECK(out.h_n.shape() == Shape{4, 4, 3});
  CHECK(out.c_n.shape() == Shape{4, 4, 3});
  // A sequence of length 2 padded to 6 gives the same final forward state as
  // the same sequence alone, unpadded.
  Tensor x2 = Tensor::ones({1, 2, 2});
  auto alone = lstm.forward(x2, {}, {});
  auto padded = lstm.forward(Tensor::ones({1, 6, 2}), {}, {}, {2});
  for (std::size_t j = 0; j < 3; ++j) {
    CHECK(padded.h_n.value()(2, 0, j) == doctest::Approx(alone.h_n.value()(2, 0, j)));  // layer 1 forward
    CHECK(padded.h_n.value()(3, 0, j) == doctest::Approx(alone.h_n.value()(3, 0, j)));  // layer 1 reverse
    CHECK(padded.output.value()(0, 4, j) == 0.f);
  }
  GRU<> gru({.input_size = 2, .hidden_size = 5});
  CHECK(gru.forward(Tensor::ones({3, 2, 2})).shape() == Shape{3, 2, 5});
  CHECK_FALSE(gru.forward(Tensor::ones({3, 2, 2}), {}).c_n.defined());
}

TEST_CASE("under no_grad, LSTM and RNN layers give the outputs of the recorded forward") {
  // Under no_grad a step's gates are one product [x_t, h] [W_ih, W_hh]^T + b
  // (Note [inference step] in recurrent.cpp); with grad on, a projection
  // block and an addmm per step. Same equations, same summation order.
  const auto compare = [](Recurrent<float>& layer, const Tensor& x, const Tensor& h0, const Tensor& c0,
                          const std::vector<std::size_t>& lengths, bool training) {
    training ? layer.train() : layer.eval();
    manual_seed(5);  // the same dropout masks in both runs
    const RecurrentOutput<float> recorded = layer.forward_states(x, h0, c0, lengths);
    REQUIRE(recorded.output.requires_grad());
    RecurrentOutput<float> inferred;
    {
      NoGradGuard no_grad;
      manual_seed(5);
      inferred = layer.forward_states(x, h0, c0, lengths);
    }
    CHECK_FALSE(inferred.output.requires_grad());
    const auto close = [](const Tensor& a, const Tensor& b) {
      REQUIRE(a.shape() == b.shape());
      CHECK(xt::amax(xt::abs(a.value() - b.value()))() <= 1e-5f);
      CHECK(xt::amax(xt::abs(a.value()))() > 0.01f);  // not trivially equal
    };
    close(inferred.output, recorded.output);
    close(inferred.h_n, recorded.h_n);
    if (recorded.c_n.defined()) close(inferred.c_n, recorded.c_n);
  };
  Generator gen(3);
  SUBCASE("LSTM: two bidirectional layers, batch first, initial states and lengths") {
    LSTM<> lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2, .batch_first = true, .bidirectional = true});
    // 9 sequences: the one-product step (8 or more), one part (under 16).
    compare(lstm, uniform<float>({9, 7, 3}, -1.f, 1.f, gen), uniform<float>({4, 9, 4}, -1.f, 1.f, gen),
            uniform<float>({4, 9, 4}, -1.f, 1.f, gen), {7, 1, 4, 7, 2, 5, 6, 3, 7}, false);
    // 5 sequences: the hoisted projection, as with grad.
    compare(lstm, uniform<float>({5, 7, 3}, -1.f, 1.f, gen), uniform<float>({4, 5, 4}, -1.f, 1.f, gen),
            uniform<float>({4, 5, 4}, -1.f, 1.f, gen), {7, 1, 4, 7, 2}, false);
  }
  SUBCASE("LSTM in training: dropout between layers, on h and on x (one projection block)") {
    LSTM<> lstm({.input_size = 3,
                 .hidden_size = 6,
                 .num_layers = 2,
                 .dropout = 0.3,
                 .recurrent_dropout = 0.2,
                 .input_dropout = 0.25});
    compare(lstm, uniform<float>({9, 8, 3}, -1.f, 1.f, gen), {}, {}, {}, true);
  }
  SUBCASE("LSTM in training with input dropout over several projection blocks (the recorded path)") {
    LSTM<> lstm({.input_size = 3, .hidden_size = 6, .input_dropout = 0.25, .projection_block = 2});
    compare(lstm, uniform<float>({9, 8, 3}, -1.f, 1.f, gen), {}, {}, {}, true);
  }
  SUBCASE("RNN: relu without biases, and tanh in both directions") {
    RNN<> relu_rnn({.input_size = 3, .hidden_size = 5, .bias = false, .nonlinearity = Nonlinearity::relu});
    compare(relu_rnn, uniform<float>({6, 8, 3}, -1.f, 1.f, gen), {}, {}, {}, false);
    RNN<> tanh_rnn({.input_size = 3, .hidden_size = 5, .bidirectional = true});
    compare(tanh_rnn, uniform<float>({6, 8, 3}, -1.f, 1.f, gen), {}, {}, {3, 6, 1, 6, 2, 5, 4, 6}, false);
  }
  SUBCASE("a batch of 17 run as two parts (8 and 9 sequences), at 1 and 2 threads alike") {
    // Bidirectional: each part's output is stacked, the parts joined; one
    // direction: the parts' step outputs go into the output in one copy.
    for (const bool bidirectional : {true, false}) {
      CAPTURE(bidirectional);
      LSTM<> lstm(
          {.input_size = 3, .hidden_size = 5, .num_layers = 2, .batch_first = true, .bidirectional = bidirectional});
      const std::size_t states = bidirectional ? 4 : 2;
      const Tensor x = uniform<float>({17, 6, 3}, -1.f, 1.f, gen);
      const Tensor h0 = uniform<float>({states, 17, 5}, -1.f, 1.f, gen);
      const Tensor c0 = uniform<float>({states, 17, 5}, -1.f, 1.f, gen);
      std::vector<std::size_t> lengths(17);
      for (std::size_t b = 0; b < 17; ++b) lengths[b] = 1 + (b * 5) % 6;
      compare(lstm, x, h0, c0, lengths, false);
      set_num_threads(2);
      compare(lstm, x, h0, c0, lengths, false);
      RecurrentOutput<float> one, two;
      {
        NoGradGuard no_grad;
        two = lstm.forward_states(x, h0, c0, lengths);
        set_num_threads(1);
        one = lstm.forward_states(x, h0, c0, lengths);
      }
      CHECK(two.output.value() == one.output.value());
      CHECK(two.h_n.value() == one.h_n.value());
      CHECK(two.c_n.value() == one.c_n.value());
    }
  }
  SUBCASE("one sequence at two threads: the worker projects blocks ahead of the steps, with the bits of one thread") {
    // Note [projection ahead]: 100 steps, projected as 32 (the caller), 32
    // and 36 (the worker); in reverse order for the second direction.
    LSTM<> lstm({.input_size = 64, .hidden_size = 128, .num_layers = 2, .bidirectional = true});
    GRU<> gru({.input_size = 64, .hidden_size = 128});
    RNN<> rnn({.input_size = 64, .hidden_size = 128});
    const Tensor x = uniform<float>({100, 1, 64}, -1.f, 1.f, gen);
    for (Recurrent<float>* layer : std::initializer_list<Recurrent<float>*>{&lstm, &gru, &rnn}) {
      CAPTURE(layer->type_name());
      set_num_threads(2);
      compare(*layer, x, {}, {}, {}, false);
      RecurrentOutput<float> one, two;
      {
        NoGradGuard no_grad;
        two = layer->forward_states(x, {}, {}, {});
        set_num_threads(1);
        one = layer->forward_states(x, {}, {}, {});
      }
      CHECK(two.output.value() == one.output.value());
      CHECK(two.h_n.value() == one.h_n.value());
    }
  }
  SUBCASE("LSTM at the imdb shape: xgrad's kernel with a packed [W_ih, W_hh], two threads") {
    set_num_threads(2);
    LSTM<> lstm({.input_size = 64, .hidden_size = 128});
    compare(lstm, uniform<float>({6, 64, 64}, -1.f, 1.f, gen), {}, {}, {}, false);
    set_num_threads(1);
  }
}

TEST_CASE("bad input gets clear errors naming the layer") {
  LSTM<> lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2});
  CHECK_THROWS_WITH_AS(lstm.forward(Tensor::ones({5, 3})), doctest::Contains("LSTM: expected input of rank 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(lstm.forward(Tensor::ones({5, 2, 7})),
                       doctest::Contains("LSTM: input has 7 features per step but input_size is 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(lstm.forward(Tensor::ones({5, 2, 3}), Tensor::zeros({1, 2, 4}), {}),
                       doctest::Contains("LSTM: h0 must have shape (2, 2, 4), got (1, 2, 4)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(lstm.forward(Tensor::ones({5, 2, 3}), {}, {}, {5, 6}),
                       doctest::Contains("length 6 of sequence 1"), std::invalid_argument);
  GRU<> gru({.input_size = 3, .hidden_size = 4});
  CHECK_THROWS_WITH_AS(gru.forward_states(Tensor::ones({5, 2, 3}), {}, Tensor::zeros({1, 2, 4}), {}),
                       doctest::Contains("c0 is only for LSTM"), std::invalid_argument);
  CHECK_THROWS_AS(LSTM<>({.input_size = 0, .hidden_size = 4}), std::invalid_argument);
  Linear<> fc(4, 2);
  CHECK_THROWS_WITH_AS(fc.forward(Tensor::ones({3, 5})),
                       doctest::Contains("Linear: expected input (..., 4), got shape (3, 5)"), std::invalid_argument);
  Embedding<> emb(10, 3);
  xt::xarray<std::int64_t> idx = {1, 10};
  CHECK_THROWS_WITH_AS(emb.forward(idx), doctest::Contains("Embedding: index 10 is out of range [0, 10)"),
                       std::invalid_argument);
  LSTMCell<> cell(3, 4);
  CHECK_THROWS_WITH_AS(cell.step(Tensor::ones({2, 3}), Tensor::ones({3, 4})),
                       doctest::Contains("LSTMCell: h must have shape (2, 4)"), std::invalid_argument);
}

TEST_CASE("losses reject bad input with the loss's name") {
  Tensor logits = Tensor::zeros({3, 4});
  xt::xarray<std::int64_t> bad = {0, 4, 1};
  CHECK_THROWS_WITH_AS(cross_entropy(logits, bad), doctest::Contains("target 4 at position 1 is out of range [0, 4)"),
                       std::invalid_argument);
  xt::xarray<std::int64_t> short_targets = {0, 1};
  CHECK_THROWS_WITH_AS(cross_entropy(logits, short_targets), doctest::Contains("expected 3 class indices"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mse_loss(Tensor::zeros({3}), Tensor::zeros({3, 1})),
                       doctest::Contains("mse_loss: input shape (3,) differs from target shape (3, 1)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_cross_entropy(Tensor::of({0.5f, 1.5f}), Tensor::of({0.f, 1.f})),
                       doctest::Contains("probabilities in [0, 1]"), std::invalid_argument);
  Tensor nan_input = Tensor::of({1.f, std::nanf("")});
  CHECK_THROWS_WITH_AS(mse_loss(nan_input, Tensor::zeros({2})), doctest::Contains("mse_loss: the loss is NaN"),
                       std::domain_error);
  // Extreme but finite probabilities stay finite (log clamped at -100).
  CHECK(binary_cross_entropy(Tensor::of({0.f, 1.f}), Tensor::of({1.f, 0.f})).item() == doctest::Approx(100.f));
}

TEST_CASE("Keras's initializations: glorot kernels, orthogonal recurrent kernels, unit forget bias, small embeddings") {
  Generator gen(11);
  LSTM<double> lstm({.input_size = 8, .hidden_size = 16, .num_layers = 2});
  init::keras_(lstm, true, gen);
  for (std::size_t l = 0; l < 2; ++l) {
    const auto& p = lstm.layer_parameters(l, 0);
    // weight_hh (64, 16): orthonormal columns, W^T W = I.
    const xt::xarray<double> w = p.weight_hh.value();
    const xt::xarray<double> wtw = xt::linalg::dot(xt::transpose(w), w);
    CHECK(xt::allclose(wtw, xt::eye<double>(16), 0.0, 1e-9));
    // weight_ih (64, in): glorot_uniform, limit sqrt(6 / (in + 64)), variance limit^2 / 3.
    const double in = l == 0 ? 8 : 16, limit = std::sqrt(6.0 / (in + 64));
    const xt::xarray<double> v = p.weight_ih.value();
    CHECK(xt::amax(xt::abs(v))() <= limit);
    CHECK(xt::variance(v)() == doctest::Approx(limit * limit / 3).epsilon(0.2));
    for (std::size_t j = 0; j < 64; ++j) {
      CHECK(p.bias_ih.value()(j) == (j >= 16 && j < 32 ? 1.0 : 0.0));  // gates i, f, g, o: f starts open
      CHECK(p.bias_hh.value()(j) == 0.0);
    }
  }
  GRU<double> gru({.input_size = 4, .hidden_size = 8});
  init::keras_(gru, true, gen);
  CHECK(xt::amax(xt::abs(gru.layer_parameters(0, 0).bias_ih.value()))() == 0.0);  // no forget gate in a GRU
  Embedding<double> embedding(1000, 32);
  init::keras_(embedding, gen);
  CHECK(xt::amax(xt::abs(embedding.weight.value()))() <= 0.05);
  CHECK(xt::variance(embedding.weight.value())() == doctest::Approx(0.05 * 0.05 / 3).epsilon(0.05));
  Linear<double> fc(128, 1);
  init::keras_(fc, gen);
  CHECK(xt::amax(xt::abs(fc.weight.value()))() <= std::sqrt(6.0 / 129));
  CHECK(fc.bias.value()(0) == 0.0);
}

TEST_CASE("chrono initialization: forget biases log U(1, T - 1), input biases their negatives") {
  Generator gen(5);
  LSTM<float> lstm({.input_size = 2, .hidden_size = 64});
  init::chrono_(lstm, 200.0, gen);
  const auto& p = lstm.layer_parameters(0, 0);
  double largest = 0;
  for (std::size_t j = 0; j < 64; ++j) {
    const float forget = p.bias_ih.value()(64 + j);
    CHECK(forget >= 0.0f);
    CHECK(forget <= std::log(199.0f) + 1e-5f);
    CHECK(p.bias_ih.value()(j) == -forget);
    CHECK(p.bias_hh.value()(j) == 0.0f);
    CHECK(p.bias_hh.value()(64 + j) == 0.0f);
    largest = std::max<double>(largest, forget);
  }
  CHECK(largest > std::log(100.0));  // 64 draws of U(1, 199): some unit remembers over 100+ steps
  GRU<float> gru({.input_size = 2, .hidden_size = 4});
  CHECK_THROWS_WITH_AS(init::chrono_(gru, 100.0, gen), doctest::Contains("needs an LSTM"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(init::chrono_(lstm, 2.0, gen), doctest::Contains("at least 3"), std::invalid_argument);
}
