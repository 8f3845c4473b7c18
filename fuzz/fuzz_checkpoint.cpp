// libFuzzer target: an .npz checkpoint's bytes read with read_npz and loaded
// into a small LSTM model with Adam (the path `xgrad zoo run --resume` and
// every user's load_checkpoint take). Errors must be std::runtime_error; a
// failed load must leave the model unchanged.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include <xtensor/xarray.hpp>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/npz.hpp"
#include "xgrad/nn/checkpoint.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/optimizer.hpp"
#include "xgrad/nn/recurrent.hpp"

namespace {

struct TinyModel : xgrad::nn::Module<> {
  std::shared_ptr<xgrad::nn::LSTM<>> lstm =
      register_module("lstm", std::make_shared<xgrad::nn::LSTM<>>(
                                  xgrad::nn::LSTMOptions{.input_size = 1, .hidden_size = 2, .batch_first = true}));
  std::shared_ptr<xgrad::nn::Linear<>> fc = register_module("fc", std::make_shared<xgrad::nn::Linear<>>(2, 1));
  xgrad::Tensor forward(const xgrad::Tensor& x) override { return fc->forward(x); }
};

std::string scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/xgrad-fuzz-checkpoint-" + std::to_string(::getpid()) + ".npz";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = scratch_path();
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    std::abort();
  }
  static TinyModel model;
  static xgrad::nn::Adam<> opt(model.parameters());
  const xt::xarray<float> before = model.fc->weight.value();
  try {
    xgrad::nn::load_checkpoint(path, model, &opt);
  } catch (const std::runtime_error&) {
    if (model.fc->weight.value() != before) std::abort();  // all-or-nothing broken
  }
  return 0;
}
