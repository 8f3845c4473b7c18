#pragma once
// Checkpoints: a model's named parameters, optionally the optimizer's state,
// the epoch, the default generator's state and free-form JSON, in one
// NumPy .npz file (format in docs/checkpoints.md):
//   <parameter name>.npy       e.g. "lstm.weight_ih_l0.npy", float32 or float64
//   optimizer/<i>.<buffer>.npy e.g. "optimizer/0.exp_avg.npy"
//   manifest.json              format, version, parameter list, epoch, RNG, optimizer scalars
// np.load(path)["fc.weight"] reads a weight; an .npz that NumPy wrote with
// parameter names as keys (no manifest) loads too. Saving is atomic: a
// failed save leaves any previous checkpoint at that path intact.

#include <cstddef>
#include <string>
#include <type_traits>

#include "xgrad/nn/module.hpp"
#include "xgrad/nn/optimizer.hpp"

namespace xgrad::nn {

struct CheckpointInfo {
  std::size_t epoch = 0;
  std::string rng_state{};        // Generator::state() text; empty = none
  std::string extra_json = "{}";  // any JSON object, e.g. the run's config or best metric
};

// T is deduced from the model alone, so `nullptr` works for "no optimizer".
//
// Saves `model` (and `optimizer`, when given). info.rng_state empty means
// "the calling thread's default generator now".
template <class T>
void save_checkpoint(const std::string& path, const Module<T>& model,
                     const std::type_identity_t<Optimizer<T>>* optimizer = nullptr, CheckpointInfo info = {});

struct LoadOptions {
  // Set the calling thread's default generator to the saved state, so that
  // dropout masks and shuffling continue exactly (resuming training). Off by
  // default: loading weights for inference leaves the generator alone.
  bool restore_rng = false;
};

// Loads into `model` (and `optimizer`): every parameter must be present
// with its shape; the error lists every missing, unexpected or mis-shaped
// name. Nothing is changed unless everything matches.
template <class T>
CheckpointInfo load_checkpoint(const std::string& path, Module<T>& model,
                               std::type_identity_t<Optimizer<T>>* optimizer = nullptr, LoadOptions options = {});

}  // namespace xgrad::nn
