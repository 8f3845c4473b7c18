#include "nn/checkpoint.hpp"

#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "autograd/npz.hpp"
#include "autograd/random.hpp"

namespace xgrad::nn {

namespace {
constexpr const char* kFormat = "xgrad-checkpoint";
constexpr int kVersion = 1;
const std::string kOptimizerPrefix = "optimizer/";

template <class T>
const char* dtype_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}
}  // namespace

template <class T>
void save_checkpoint(const std::string& path, const Module<T>& model, const Optimizer<T>* optimizer,
                     CheckpointInfo info) {
  nlohmann::json manifest;
  manifest["format"] = kFormat;
  manifest["version"] = kVersion;
  manifest["dtype"] = dtype_name<T>();
  manifest["epoch"] = info.epoch;
  manifest["rng_state"] = info.rng_state.empty() ? default_generator().state() : info.rng_state;
  try {
    manifest["extra"] = nlohmann::json::parse(info.extra_json);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("save_checkpoint: extra_json is not valid JSON: " + std::string(e.what()));
  }
  std::vector<std::pair<std::string, std::string>> members;
  nlohmann::json params = nlohmann::json::array();
  for (const auto& [name, p] : model.named_parameters()) {
    params.push_back({{"name", name}, {"shape", p.shape()}});
    members.emplace_back(name + ".npy", io::encode_npy(p.value()));
  }
  manifest["parameters"] = params;
  if (optimizer) {
    const auto state = optimizer->state();
    nlohmann::json opt;
    opt["type"] = state.type;
    opt["scalars"] = state.scalars;
    nlohmann::json buffers = nlohmann::json::array();
    for (const auto& [name, tensor] : state.buffers) {
      buffers.push_back(name);
      members.emplace_back(kOptimizerPrefix + name + ".npy", io::encode_npy(tensor.value()));
    }
    opt["buffers"] = buffers;
    manifest["optimizer"] = opt;
  } else {
    manifest["optimizer"] = nullptr;
  }
  members.emplace_back("manifest.json", manifest.dump(2));
  io::write_npz_atomic(path, members);
}

template <class T>
CheckpointInfo load_checkpoint(const std::string& path, Module<T>& model, Optimizer<T>* optimizer,
                               LoadOptions options) {
  const io::NpzContents contents = io::read_npz(path);
  nlohmann::json manifest;
  if (auto it = contents.others.find("manifest.json"); it != contents.others.end()) {
    try {
      manifest = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(path + ": manifest.json is not valid JSON (" + e.what() + ")");
    }
    if (manifest.value("format", "") != kFormat) throw std::runtime_error(path + ": not an xgrad checkpoint");
    if (manifest.value("version", 0) > kVersion) {
      throw std::runtime_error(path + ": checkpoint version " + std::to_string(manifest.value("version", 0)) +
                               " is newer than this xgrad reads (" + std::to_string(kVersion) + ")");
    }
  }
  // Check everything before changing anything.
  std::vector<std::string> problems;
  std::map<std::string, bool> expected;
  const auto named = model.named_parameters();
  for (const auto& [name, p] : named) {
    expected[name] = true;
    auto it = contents.arrays.find(name);
    if (it == contents.arrays.end()) {
      problems.push_back("missing parameter '" + name + "' " + shape_to_string(p.shape()));
    } else if (it->second.shape != p.shape()) {
      problems.push_back("parameter '" + name + "' has shape " + shape_to_string(it->second.shape) + " in the file but " +
                         shape_to_string(p.shape()) + " in the model");
    } else if (it->second.dtype != "<f4" && it->second.dtype != "<f8") {
      problems.push_back("parameter '" + name + "' has dtype " + it->second.dtype + ", not a float type");
    }
  }
  for (const auto& [name, array] : contents.arrays) {
    if (name.rfind(kOptimizerPrefix, 0) == 0) continue;
    if (!expected.count(name)) problems.push_back("unexpected parameter '" + name + "' " + shape_to_string(array.shape));
  }
  typename Optimizer<T>::State opt_state;
  if (optimizer) {
    if (manifest.is_null() || manifest["optimizer"].is_null()) {
      problems.push_back("the file has no optimizer state");
    } else {
      const auto& opt = manifest["optimizer"];
      opt_state.type = opt.value("type", "");
      opt_state.scalars = opt.value("scalars", std::map<std::string, double>{});
      for (const auto& name : opt.value("buffers", std::vector<std::string>{})) {
        auto it = contents.arrays.find(kOptimizerPrefix + name);
        if (it == contents.arrays.end()) {
          problems.push_back("missing optimizer buffer '" + name + "'");
          continue;
        }
        opt_state.buffers.emplace_back(name, BasicTensor<T>(it->second.template to_array<T>()));
      }
    }
  }
  if (!problems.empty()) {
    std::string message = path + ": checkpoint does not match the " + model.type_name() + " model:";
    for (const auto& p : problems) message += "\n  - " + p;
    throw std::runtime_error(message);
  }
  if (optimizer) optimizer->load_state(opt_state);  // throws before any parameter changes
  for (auto [name, p] : named) p.mutable_value() = contents.arrays.at(name).template to_array<T>();
  CheckpointInfo info;
  if (!manifest.is_null()) {
    info.epoch = manifest.value("epoch", std::size_t{0});
    info.rng_state = manifest.value("rng_state", "");
    info.extra_json = manifest.contains("extra") ? manifest["extra"].dump() : "{}";
  }
  if (options.restore_rng && !info.rng_state.empty()) default_generator().set_state(info.rng_state);
  return info;
}

template void save_checkpoint(const std::string&, const Module<float>&, const Optimizer<float>*, CheckpointInfo);
template void save_checkpoint(const std::string&, const Module<double>&, const Optimizer<double>*, CheckpointInfo);
template CheckpointInfo load_checkpoint(const std::string&, Module<float>&, Optimizer<float>*, LoadOptions);
template CheckpointInfo load_checkpoint(const std::string&, Module<double>&, Optimizer<double>*, LoadOptions);

}  // namespace xgrad::nn
