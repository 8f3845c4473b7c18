// RNN, LSTM, GRU and their cells against PyTorch 1.13 (tests/fixtures/rnn.npz):
// outputs, final states and the gradients of input, initial states and
// every parameter, in double (to 1e-9) and float32 (to 1e-5 relative).
#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>

#include "fixtures/fixtures.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/nn/recurrent.hpp"

using namespace xgrad;
using namespace xgrad::nn;

namespace {

CellKind kind_of(const std::string& type) {
  if (type.rfind("lstm", 0) == 0) return CellKind::LSTM;
  if (type.rfind("gru", 0) == 0) return CellKind::GRU;
  return CellKind::RNNTanh;
}

template <class T>
BasicTensor<T> leaf(const std::string& name, bool requires_grad = true) {
  return BasicTensor<T>(fixtures::array<T>("rnn.npz", name), requires_grad);
}

template <class T>
void load_parameters(Module<T>& m, const std::string& cfg) {
  for (auto [name, p] : m.named_parameters()) p.mutable_value() = fixtures::array<T>("rnn.npz", cfg + ".param." + name);
}

template <class T>
BasicTensor<T> weighted(const BasicTensor<T>& y, const std::string& seed_name) {
  return sum(y * BasicTensor<T>(fixtures::array<T>("rnn.npz", seed_name)));
}

template <class T>
void check_layer(const std::string& cfg, const nlohmann::json& c, double rtol, double atol,
                 std::size_t projection_block) {
  RecurrentOptions o;
  o.projection_block = projection_block;
  o.input_size = c["input_size"];
  o.hidden_size = c["hidden_size"];
  o.num_layers = c["num_layers"];
  o.bias = c["bias"];
  o.batch_first = c["batch_first"];
  o.bidirectional = c["bidirectional"];
  const CellKind kind = kind_of(c["type"]);
  Recurrent<T> layer(kind, o);
  load_parameters(layer, cfg);
  BasicTensor<T> x = leaf<T>(cfg + ".input"), h0, c0;
  if (c["has_h0"]) {
    h0 = leaf<T>(cfg + ".h0");
    if (kind == CellKind::LSTM) c0 = leaf<T>(cfg + ".c0");
  }
  std::vector<std::size_t> lengths;
  if (c["has_lengths"])
    for (auto v : fixtures::array<std::int64_t>("rnn.npz", cfg + ".lengths"))
      lengths.push_back(static_cast<std::size_t>(v));
  auto out = layer.forward_states(x, h0, c0, lengths);
  fixtures::check_close(cfg + " output", out.output.value(), fixtures::array<double>("rnn.npz", cfg + ".output"), rtol,
                        atol);
  fixtures::check_close(cfg + " h_n", out.h_n.value(), fixtures::array<double>("rnn.npz", cfg + ".h_n"), rtol, atol);
  BasicTensor<T> objective = weighted(out.output, cfg + ".dout.output") + weighted(out.h_n, cfg + ".dout.h_n");
  if (kind == CellKind::LSTM) {
    fixtures::check_close(cfg + " c_n", out.c_n.value(), fixtures::array<double>("rnn.npz", cfg + ".c_n"), rtol, atol);
    objective = objective + weighted(out.c_n, cfg + ".dout.c_n");
  }
  objective.backward();
  fixtures::check_close(cfg + " grad input", x.grad(), fixtures::array<double>("rnn.npz", cfg + ".grad.input"), rtol,
                        atol);
  if (h0.defined())
    fixtures::check_close(cfg + " grad h0", h0.grad(), fixtures::array<double>("rnn.npz", cfg + ".grad.h0"), rtol,
                          atol);
  if (c0.defined())
    fixtures::check_close(cfg + " grad c0", c0.grad(), fixtures::array<double>("rnn.npz", cfg + ".grad.c0"), rtol,
                          atol);
  for (const auto& [name, p] : layer.named_parameters())
    fixtures::check_close(cfg + " grad " + name, p.grad(),
                          fixtures::array<double>("rnn.npz", cfg + ".grad.param." + name), rtol, atol);
}

template <class T>
void check_cell(const std::string& cfg, const nlohmann::json& c, double rtol, double atol) {
  const CellKind kind = kind_of(c["type"]);
  RecurrentCell<T> cell(kind, c["input_size"], c["hidden_size"]);
  load_parameters(cell, cfg);
  BasicTensor<T> x = leaf<T>(cfg + ".input"), h = leaf<T>(cfg + ".h0"), cs;
  if (kind == CellKind::LSTM) cs = leaf<T>(cfg + ".c0");
  auto [h1, c1] = cell.step(x, h, cs);
  fixtures::check_close(cfg + " h", h1.value(), fixtures::array<double>("rnn.npz", cfg + ".h"), rtol, atol);
  BasicTensor<T> objective = weighted(h1, cfg + ".dout.h");
  if (kind == CellKind::LSTM) {
    fixtures::check_close(cfg + " c", c1.value(), fixtures::array<double>("rnn.npz", cfg + ".c"), rtol, atol);
    objective = objective + weighted(c1, cfg + ".dout.c");
  }
  objective.backward();
  fixtures::check_close(cfg + " grad input", x.grad(), fixtures::array<double>("rnn.npz", cfg + ".grad.input"), rtol,
                        atol);
  fixtures::check_close(cfg + " grad h0", h.grad(), fixtures::array<double>("rnn.npz", cfg + ".grad.h0"), rtol, atol);
  if (cs.defined())
    fixtures::check_close(cfg + " grad c0", cs.grad(), fixtures::array<double>("rnn.npz", cfg + ".grad.c0"), rtol,
                          atol);
  for (const auto& [name, p] : cell.named_parameters())
    fixtures::check_close(cfg + " grad " + name, p.grad(),
                          fixtures::array<double>("rnn.npz", cfg + ".grad.param." + name), rtol, atol);
}

template <class T>
void check_all(double rtol, double atol, std::size_t projection_block = 0) {
  const auto configs = fixtures::json("rnn_configs.json");
  int layers = 0, cells = 0;
  for (const auto& [cfg, c] : configs.items()) {
    const std::string type = c["type"];
    if (type.find("cell") != std::string::npos) {
      check_cell<T>(cfg, c, rtol, atol);
      ++cells;
    } else {
      check_layer<T>(cfg, c, rtol, atol, projection_block);
      ++layers;
    }
  }
  CHECK(layers == 10);  // lstm x4, gru x3, rnn x3
  CHECK(cells == 3);
}

}  // namespace

TEST_CASE("recurrent layers and cells match PyTorch in double precision") { check_all<double>(1e-9, 1e-10); }

TEST_CASE("recurrent layers and cells match PyTorch in float32") { check_all<float>(1e-5, 1e-6); }

// The fixtures are small enough for one input-projection block; here every
// layer projects its input one and two steps at a time instead (blocks
// made in reverse order for the backward direction, a last short block).
TEST_CASE("recurrent layers match PyTorch with input projections in blocks of 1 and 2 steps") {
  check_all<double>(1e-9, 1e-10, 1);
  check_all<double>(1e-9, 1e-10, 2);
}
