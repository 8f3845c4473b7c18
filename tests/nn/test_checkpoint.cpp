// Checkpoints: exact round trips, exact resume, mismatch reports, atomic
// saves, and the NumPy formats.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <tuple>

#include <nlohmann/json.hpp>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/npz.hpp"
#include "xgrad/nn/checkpoint.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"

using namespace xgrad;
using namespace xgrad::nn;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir()
      : path(fs::temp_directory_path() /
             ("xgrad-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++))) {
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

struct Model : Module<> {
  std::shared_ptr<LSTM<>> lstm;
  std::shared_ptr<Dropout<>> drop = register_module("drop", std::make_shared<Dropout<>>(0.3));
  std::shared_ptr<Linear<>> fc;
  explicit Model(std::size_t hidden = 6)
      : lstm(register_module("lstm", std::make_shared<LSTM<>>(
                                         LSTMOptions{.input_size = 1, .hidden_size = hidden, .batch_first = true}))),
        fc(register_module("fc", std::make_shared<Linear<>>(hidden, 1))) {}
  Tensor forward(const Tensor& x) override {
    auto out = lstm->forward(x, {}, {});
    return fc->forward(drop->forward(reshape(select(out.h_n, 0, 0), {static_cast<std::ptrdiff_t>(x.size(0)), -1})));
  }
};

// Trains with dropout and shuffling drawn from the default generator, so
// an exact resume needs the parameters, Adam's state and the RNG state.
std::vector<float> train_epochs(Model& model, Adam<>& opt, int first_epoch, int last_epoch) {
  Generator data_gen(1);
  Tensor x = rand<float>({12, 5, 1}, data_gen), y = rand<float>({12, 1}, data_gen);
  std::vector<float> losses;
  for (int epoch = first_epoch; epoch < last_epoch; ++epoch) {
    const std::size_t offset = default_generator().below(6);
    Tensor xb = narrow(x, 0, offset, 6), yb = narrow(y, 0, offset, 6);
    opt.zero_grad();
    Tensor loss = mse_loss(model.forward(xb), yb);
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
  }
  return losses;
}

}  // namespace

TEST_CASE("a saved checkpoint loaded into a fresh model gives bit-identical outputs") {
  TempDir dir;
  manual_seed(1);
  Model a;
  a.eval();
  save_checkpoint(dir.file("model.npz"), a);
  manual_seed(2);
  Model b;
  b.eval();
  Tensor x = Tensor::ones({3, 5, 1});
  CHECK(b.forward(x).value() != a.forward(x).value());
  load_checkpoint(dir.file("model.npz"), b);
  CHECK(b.forward(x).value() == a.forward(x).value());
  for (std::size_t i = 0; i < a.parameters().size(); ++i) CHECK(a.parameters()[i].value() == b.parameters()[i].value());
}

TEST_CASE("resuming after epoch k reproduces the uninterrupted loss history exactly") {
  TempDir dir;
  manual_seed(7);
  Model straight;
  Adam<> opt_straight(straight.parameters(), {.lr = 0.01});
  const std::vector<float> full = train_epochs(straight, opt_straight, 0, 8);

  manual_seed(7);
  Model first;
  Adam<> opt_first(first.parameters(), {.lr = 0.01});
  std::vector<float> resumed = train_epochs(first, opt_first, 0, 4);
  save_checkpoint(dir.file("ckpt.npz"), first, &opt_first, {.epoch = 4});

  manual_seed(99);  // a different process state: everything must come from the file
  Model second;
  Adam<> opt_second(second.parameters(), {.lr = 0.5});
  const CheckpointInfo info = load_checkpoint(dir.file("ckpt.npz"), second, &opt_second, {.restore_rng = true});
  CHECK(info.epoch == 4);
  CHECK(opt_second.lr() == doctest::Approx(0.01));
  for (float l : train_epochs(second, opt_second, 4, 8)) resumed.push_back(l);
  REQUIRE(resumed.size() == full.size());
  for (std::size_t i = 0; i < full.size(); ++i) CHECK(resumed[i] == full[i]);
}

TEST_CASE("loading for inference leaves the default generator alone unless asked") {
  TempDir dir;
  manual_seed(3);
  Model saved;
  save_checkpoint(dir.file("weights.npz"), saved);  // records the generator's state now
  const double next_after_save = Generator(default_generator()).uniform();

  manual_seed(42);
  const double expected = Generator(default_generator()).uniform();  // the draw a load must not change
  Model model;
  manual_seed(42);
  load_checkpoint(dir.file("weights.npz"), model);
  CHECK(default_generator().uniform() == expected);

  load_checkpoint(dir.file("weights.npz"), model, nullptr, {.restore_rng = true});
  CHECK(default_generator().uniform() == next_after_save);
  CHECK(expected != next_after_save);
}

TEST_CASE("loading reports every missing or mis-shaped parameter by name and changes nothing") {
  TempDir dir;
  Model small(4);
  save_checkpoint(dir.file("small.npz"), small);
  Model big(6);
  const auto before = big.fc->weight.value();
  try {
    load_checkpoint(dir.file("small.npz"), big);
    FAIL("expected a mismatch error");
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    CHECK(m.find("parameter 'lstm.weight_ih_l0' has shape (16, 1) in the file but (24, 1) in the model") !=
          std::string::npos);
    CHECK(m.find("'fc.weight'") != std::string::npos);
    CHECK(m.find("'fc.bias'") == std::string::npos);  // (1,) in both
  }
  CHECK(big.fc->weight.value() == before);
  // A file missing a parameter, with an unexpected one.
  io::write_npz_atomic(dir.file("partial.npz"),
                       {{"fc.weight.npy", io::encode_npy(xt::xarray<float>(xt::zeros<float>({1, 6})))},
                        {"extra.npy", io::encode_npy(xt::xarray<float>({1.f}))}});
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("partial.npz"), big),
                       doctest::Contains("missing parameter 'lstm.weight_hh_l0'"), std::runtime_error);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("partial.npz"), big), doctest::Contains("unexpected parameter 'extra'"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("nope.npz"), big), doctest::Contains("no such file"),
                       std::runtime_error);
  std::ofstream(dir.file("garbage.npz")) << "not a zip";
  CHECK_THROWS_AS(load_checkpoint(dir.file("garbage.npz"), big), std::runtime_error);
  Adam<> opt(big.parameters());
  save_checkpoint(dir.file("no_opt.npz"), big);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("no_opt.npz"), big, &opt), doctest::Contains("no optimizer state"),
                       std::runtime_error);
}

TEST_CASE("a failed save leaves the previous checkpoint intact and no temporary behind") {
  TempDir dir;
  Model model;
  const std::string path = dir.file("ckpt.npz");
  save_checkpoint(path, model);
  const auto size_before = fs::file_size(path);
  // Block the temporary file's name, so that the write fails midway.
  fs::create_directory(path + ".tmp-" + std::to_string(::getpid()));
  Model other(3);
  CHECK_THROWS_WITH_AS(save_checkpoint(path, other), doctest::Contains("previous file is unchanged"),
                       std::runtime_error);
  fs::remove(path + ".tmp-" + std::to_string(::getpid()));
  CHECK(fs::file_size(path) == size_before);
  Model reloaded;
  CHECK_NOTHROW(load_checkpoint(path, reloaded));
  CHECK_THROWS_WITH_AS(save_checkpoint(dir.file("missing/dir/ckpt.npz"), model), doctest::Contains("does not exist"),
                       std::runtime_error);
  std::size_t leftovers = 0;
  for (auto& entry : fs::directory_iterator(dir.path))
    leftovers += entry.path().string().find(".tmp-") != std::string::npos;
  CHECK(leftovers == 0);
}

TEST_CASE(".npy encoding follows NumPy's format byte for byte") {
  xt::xarray<float> a = {{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}};
  const std::string bytes = io::encode_npy(a);
  // What np.save writes for np.float32 of shape (2, 3): magic, v1.0, a
  // header padded to 64 bytes in all, then the data.
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(bytes.substr(0, 6) == "\x93NUMPY");
  CHECK(bytes.substr(10, header.size()) == header);
  CHECK((bytes.size() - 24) % 64 == 0);
  CHECK(bytes.size() == 128 + 24);  // as np.save writes this array
  CHECK(bytes[127] == '\n');
  const io::NpyArray back = io::decode_npy(bytes, "test");
  CHECK(back.to_array<float>() == a);
  CHECK(io::encode_npy(xt::xarray<double>({1.0})).substr(10, 58).find("'shape': (1,)") != std::string::npos);
  CHECK_THROWS_AS(io::decode_npy(bytes.substr(0, bytes.size() - 4), "truncated"), std::runtime_error);
}

TEST_CASE("an .npz written by NumPy loads (the PyTorch fixtures)") {
  const auto npz = io::read_npz(std::string(XGRAD_FIXTURES_DIR) + "/embedding.npz");
  CHECK(npz.at("embedding.param.weight").shape == Shape{10, 4});
  CHECK(npz.at("embedding.indices").dtype == "<i8");
  CHECK_THROWS_WITH_AS(npz.at("nope"), doctest::Contains("no array named 'nope'"), std::runtime_error);
}

namespace {

// The members of a checkpoint with manifest.json replaced by `edit(manifest)`
// and any array replaced by `arrays`; written to `out`.
void rewrite_checkpoint(const std::string& in, const std::string& out, const std::function<void(nlohmann::json&)>& edit,
                        const std::map<std::string, std::string>& arrays = {}) {
  const io::NpzContents contents = io::read_npz(in);
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& [name, array] : contents.arrays) {
    auto it = arrays.find(name);
    members.emplace_back(name + ".npy", it != arrays.end() ? it->second : io::encode_npy(array.to_array<float>()));
  }
  nlohmann::json manifest = nlohmann::json::parse(contents.others.at("manifest.json"));
  edit(manifest);
  members.emplace_back("manifest.json", manifest.dump());
  io::write_npz_atomic(out, members);
}

}  // namespace

TEST_CASE("a checkpoint with any bad field is refused before the model, optimizer or generator change") {
  TempDir dir;
  manual_seed(3);
  Model saved;
  Adam<> saved_opt(saved.parameters(), {.lr = 0.01});
  train_epochs(saved, saved_opt, 0, 2);
  save_checkpoint(dir.file("good.npz"), saved, &saved_opt, {.epoch = 2});

  manual_seed(4);
  Model model;
  Adam<> opt(model.parameters(), {.lr = 0.02});
  train_epochs(model, opt, 0, 1);  // non-trivial state to compare against
  const auto snapshot = [&] {
    std::vector<xt::xarray<float>> v;
    for (const auto& p : model.parameters()) v.push_back(p.value());
    for (const auto& [name, t] : opt.state().buffers) v.push_back(t.value());
    return v;
  };
  const auto before = snapshot();
  const auto scalars_before = opt.state().scalars;
  const std::string rng_before = default_generator().state();

  xt::xarray<float> with_nan = model.fc->weight.value();
  with_nan(0, 0) = std::numeric_limits<float>::quiet_NaN();
  const std::string opt_buffer = "optimizer/0.exp_avg";
  const auto bad_cases = std::vector<
      std::tuple<std::string, std::function<void(nlohmann::json&)>, std::map<std::string, std::string>, std::string>>{
      {"negative epoch", [](nlohmann::json& m) { m["epoch"] = -5; }, {}, "'epoch' is -5"},
      {"huge epoch", [](nlohmann::json& m) { m["epoch"] = 1e300; }, {}, "'epoch'"},
      {"text epoch", [](nlohmann::json& m) { m["epoch"] = "two"; }, {}, "'epoch'"},
      {"garbage rng", [](nlohmann::json& m) { m["rng_state"] = "12 34"; }, {}, "'rng_state' is malformed"},
      {"rng with trailing text",
       [](nlohmann::json& m) { m["rng_state"] = m["rng_state"].get<std::string>() + " extra"; },
       {},
       "'rng_state'"},
      {"numeric rng", [](nlohmann::json& m) { m["rng_state"] = 7; }, {}, "'rng_state'"},
      {"negative step", [](nlohmann::json& m) { m["optimizer"]["scalars"]["step.0"] = -1; }, {}, "step count"},
      {"huge step", [](nlohmann::json& m) { m["optimizer"]["scalars"]["step.0"] = 1e300; }, {}, "step count"},
      {"fractional step", [](nlohmann::json& m) { m["optimizer"]["scalars"]["step.1"] = 0.5; }, {}, "step count"},
      {"negative lr", [](nlohmann::json& m) { m["optimizer"]["scalars"]["lr"] = -1; }, {}, "lr"},
      {"text scalar",
       [](nlohmann::json& m) { m["optimizer"]["scalars"]["lr"] = "fast"; },
       {},
       "'optimizer' is malformed"},
      {"wrong optimizer", [](nlohmann::json& m) { m["optimizer"]["type"] = "SGD"; }, {}, "SGD"},
      {"missing buffer",
       [](nlohmann::json& m) { m["optimizer"]["buffers"].push_back("0.nope"); },
       {},
       "missing optimizer buffer"},
      {"newer version", [](nlohmann::json& m) { m["version"] = 99; }, {}, "newer"},
      {"not an object", [](nlohmann::json& m) { m = nlohmann::json::array(); }, {}, "not a JSON object"},
      {"integer buffer",
       [](nlohmann::json&) {},
       {{opt_buffer, io::encode_npy(xt::xarray<std::int64_t>(xt::zeros<std::int64_t>(model.parameters()[0].shape())))}},
       "<i8"},
      {"NaN weight", [](nlohmann::json&) {}, {{"fc.weight", io::encode_npy(with_nan)}}, "NaN"},
      {"integer weight",
       [](nlohmann::json&) {},
       {{"fc.weight", io::encode_npy(xt::xarray<std::int64_t>(xt::zeros<std::int64_t>(model.fc->weight.shape())))}},
       "not a float type"},
  };
  for (const auto& [what, edit, arrays, message] : bad_cases) {
    CAPTURE(what);
    const std::string path = dir.file("bad.npz");
    rewrite_checkpoint(dir.file("good.npz"), path, edit, arrays);
    CHECK_THROWS_WITH_AS(load_checkpoint(path, model, &opt), doctest::Contains(message.c_str()), std::runtime_error);
    const auto after = snapshot();
    REQUIRE(after.size() == before.size());
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i] == before[i]);
    CHECK(opt.state().scalars == scalars_before);
    CHECK(default_generator().state() == rng_before);
  }
  // The unedited rewrite loads, so each failure above is the edit's doing.
  rewrite_checkpoint(dir.file("good.npz"), dir.file("same.npz"), [](nlohmann::json&) {});
  CHECK(load_checkpoint(dir.file("same.npz"), model, &opt).epoch == 2);
  CHECK(model.fc->weight.value() == saved.fc->weight.value());
}
