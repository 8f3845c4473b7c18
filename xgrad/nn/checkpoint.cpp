#include "xgrad/nn/checkpoint.hpp"

#include <cmath>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "xgrad/autograd/anomaly.hpp"
#include "xgrad/autograd/npz.hpp"
#include "xgrad/autograd/random.hpp"

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
void save_checkpoint(const std::string& path, const Module<T>& model,
                     const std::type_identity_t<Optimizer<T>>* optimizer, CheckpointInfo info) {
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

namespace {

// Reads the manifest's scalar fields, rejecting anything that is not what
// save_checkpoint writes (a negative or fractional epoch, a malformed
// generator state) before the caller changes anything.
CheckpointInfo read_manifest_info(const nlohmann::json& manifest, std::vector<std::string>& problems) {
  CheckpointInfo info;
  if (manifest.is_null()) return info;
  if (manifest.contains("epoch")) {
    const auto& epoch = manifest["epoch"];
    if (epoch.is_number_unsigned())
      info.epoch = epoch.get<std::size_t>();
    else
      problems.push_back("manifest field 'epoch' is " + epoch.dump() + ", expected a non-negative integer");
  }
  if (manifest.contains("rng_state")) {
    const auto& rng = manifest["rng_state"];
    if (!rng.is_string()) {
      problems.push_back("manifest field 'rng_state' is not a string");
    } else {
      info.rng_state = rng.get<std::string>();
      try {
        Generator probe;
        probe.set_state(info.rng_state);  // parse into a scratch generator first
      } catch (const std::exception& e) {
        problems.push_back("manifest field 'rng_state' is malformed (" + std::string(e.what()) + ")");
      }
    }
  }
  info.extra_json = manifest.contains("extra") ? manifest["extra"].dump() : "{}";
  return info;
}

}  // namespace

template <class T>
CheckpointInfo load_checkpoint(const std::string& path, Module<T>& model, std::type_identity_t<Optimizer<T>>* optimizer,
                               LoadOptions options) {
  const io::NpzContents contents = io::read_npz(path);
  nlohmann::json manifest;
  std::vector<std::string> problems;
  if (auto it = contents.others.find("manifest.json"); it != contents.others.end()) {
    try {
      manifest = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(path + ": manifest.json is not valid JSON (" + e.what() + ")");
    }
    if (!manifest.is_object()) throw std::runtime_error(path + ": manifest.json is not a JSON object");
    if (!manifest.contains("format") || manifest["format"] != kFormat)
      throw std::runtime_error(path + ": not an xgrad checkpoint");
    if (!manifest.contains("version") || !manifest["version"].is_number_integer() ||
        manifest["version"].get<std::int64_t>() < 1) {
      throw std::runtime_error(path + ": manifest field 'version' is missing or not a positive integer");
    }
    if (manifest["version"].get<std::int64_t>() > kVersion) {
      throw std::runtime_error(path + ": checkpoint version " + manifest["version"].dump() +
                               " is newer than this xgrad reads (" + std::to_string(kVersion) + ")");
    }
  }
  // Note [all-or-nothing load]: every check and every conversion happens
  // first, into temporaries; only when nothing is left that can fail are the
  // optimizer (itself all-or-nothing), the parameters and the generator
  // changed. A bad file leaves the model, the optimizer and the RNG as they were.
  const CheckpointInfo info = read_manifest_info(manifest, problems);
  std::map<std::string, bool> expected;
  const auto named = model.named_parameters();
  std::vector<xt::xarray<T>> values(named.size());
  for (std::size_t i = 0; i < named.size(); ++i) {
    const auto& [name, p] = named[i];
    expected[name] = true;
    auto it = contents.arrays.find(name);
    if (it == contents.arrays.end()) {
      problems.push_back("missing parameter '" + name + "' " + shape_to_string(p.shape()));
    } else if (it->second.shape != p.shape()) {
      problems.push_back("parameter '" + name + "' has shape " + shape_to_string(it->second.shape) +
                         " in the file but " + shape_to_string(p.shape()) + " in the model");
    } else if (it->second.dtype != "<f4" && it->second.dtype != "<f8") {
      problems.push_back("parameter '" + name + "' has dtype " + it->second.dtype + ", not a float type");
    } else {
      try {
        values[i] = it->second.template to_array<T>();
        if (!all_finite(values[i])) problems.push_back("parameter '" + name + "' holds NaN or inf");
      } catch (const std::exception& e) {
        problems.push_back("parameter '" + name + "': " + e.what());
      }
    }
  }
  for (const auto& [name, array] : contents.arrays) {
    if (name.rfind(kOptimizerPrefix, 0) == 0) continue;
    if (!expected.count(name))
      problems.push_back("unexpected parameter '" + name + "' " + shape_to_string(array.shape));
  }
  typename Optimizer<T>::State opt_state;
  if (optimizer) {
    if (manifest.is_null() || !manifest.contains("optimizer") || manifest["optimizer"].is_null()) {
      problems.push_back("the file has no optimizer state");
    } else {
      try {
        const auto& opt = manifest["optimizer"];
        opt_state.type = opt.at("type").get<std::string>();
        opt_state.scalars = opt.value("scalars", std::map<std::string, double>{});
        for (const auto& name : opt.value("buffers", std::vector<std::string>{})) {
          auto it = contents.arrays.find(kOptimizerPrefix + name);
          if (it == contents.arrays.end()) {
            problems.push_back("missing optimizer buffer '" + name + "'");
          } else if (it->second.dtype != "<f4" && it->second.dtype != "<f8") {
            problems.push_back("optimizer buffer '" + name + "' has dtype " + it->second.dtype + ", not a float type");
          } else {
            opt_state.buffers.emplace_back(name, BasicTensor<T>(it->second.template to_array<T>()));
          }
        }
      } catch (const nlohmann::json::exception& e) {
        problems.push_back("manifest field 'optimizer' is malformed (" + std::string(e.what()) + ")");
      } catch (const std::runtime_error& e) {
        problems.push_back(std::string("optimizer buffer: ") + e.what());
      }
    }
  }
  if (!problems.empty()) {
    std::string message = path + ": checkpoint does not match the " + model.type_name() + " model:";
    for (const auto& p : problems) message += "\n  - " + p;
    throw std::runtime_error(message);
  }
  if (optimizer) {
    try {
      optimizer->load_state(opt_state);  // validates fully before it changes anything
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(path + ": optimizer state rejected: " + e.what());
    }
  }
  // Nothing below can fail.
  for (std::size_t i = 0; i < named.size(); ++i) {
    auto p = named[i].second;
    p.mutable_value() = std::move(values[i]);
  }
  if (options.restore_rng && !info.rng_state.empty()) default_generator().set_state(info.rng_state);
  return info;
}

template void save_checkpoint(const std::string&, const Module<float>&, const Optimizer<float>*, CheckpointInfo);
template void save_checkpoint(const std::string&, const Module<double>&, const Optimizer<double>*, CheckpointInfo);
template CheckpointInfo load_checkpoint(const std::string&, Module<float>&, Optimizer<float>*, LoadOptions);
template CheckpointInfo load_checkpoint(const std::string&, Module<double>&, Optimizer<double>*, LoadOptions);

}  // namespace xgrad::nn
