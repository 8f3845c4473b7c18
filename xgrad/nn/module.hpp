#pragma once
// Module: the base of every layer and model. It registers parameters and
// sub-modules by name, so every parameter has a hierarchical name
// ("lstm.weight_ih_l0", "fc.bias") as in a PyTorch state_dict.
//
//   struct Net : nn::Module<> {
//     std::shared_ptr<nn::Linear<>> fc = register_module("fc", std::make_shared<nn::Linear<>>(4, 2));
//     Tensor forward(const Tensor& x) override { return fc->forward(x); }
//   };
//
// T is the scalar type (float for training, double for gradient checks).

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn {

template <class T = float>
class Module {
 public:
  using TensorType = BasicTensor<T>;
  using NamedTensor = std::pair<std::string, TensorType>;

  Module() = default;
  Module(const Module&) = delete;  // registered children would be shared silently
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // Single-input forward, used by Sequential. Layers with other signatures
  // (e.g. LSTM's states) provide their own overloads; the default throws.
  virtual TensorType forward(const TensorType& input);
  TensorType operator()(const TensorType& input) { return forward(input); }

  // A short type name for messages ("Linear", "LSTM").
  virtual std::string type_name() const { return "Module"; }

  // Parameters of this module and its children, depth first, in
  // registration order; names joined with '.'.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<TensorType> parameters() const;
  std::size_t parameter_count() const;  // total number of scalars
  // The registered sub-modules, by name.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  // Training mode (dropout active) on this module and every child.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops every parameter's gradient.
  void zero_grad();

  // Every parameter's value by its hierarchical name (a copy, as
  // torch's state_dict()). Using the map needs <xtensor/xarray.hpp>
  // (xgrad/nn.hpp includes it).
  using StateDict = std::map<std::string, xt::xarray<T>>;
  StateDict state_dict() const;
  // What load_state_dict did not match.
  struct LoadResult {
    std::vector<std::string> missing_keys{};     // parameters the dict has no value for
    std::vector<std::string> unexpected_keys{};  // names in the dict that are no parameter
  };
  // Copies the dict's values into the parameters of the same names, as
  // torch's load_state_dict. All or nothing: throws std::invalid_argument
  // listing every problem, before changing anything, if a value's shape
  // differs from its parameter's, or (strict) if any name is missing or
  // unexpected. Non-strict loads what matches and returns the rest.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

 protected:
  // Registers a parameter (made a leaf that requires grad) and returns it.
  TensorType register_parameter(const std::string& name, TensorType value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Makes the module from its constructor's arguments and registers it:
  //   register_module<nn::Linear<>>("fc", 4, 2)
  template <class M, class... Args>
  requires std::is_constructible_v<M, Args...> std::shared_ptr<M> register_module(const std::string& name,
                                                                                  Args&&... args) {
    return register_module(name, std::make_shared<M>(std::forward<Args>(args)...));
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, std::vector<NamedTensor>& out) const;
  std::vector<NamedTensor> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

extern template class Module<float>;
extern template class Module<double>;

}  // namespace xgrad::nn
