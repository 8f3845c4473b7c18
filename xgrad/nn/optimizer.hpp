#pragma once
// Optimizers with PyTorch's update rules and defaults: SGD (momentum,
// dampening, Nesterov, weight decay), Adam, AdamW, RMSprop. Each updates
// the values of the parameters it was given, in place, from their
// gradients; a parameter without a gradient is skipped (as in PyTorch).

#include <map>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn {

template <class T = float>
class Optimizer {
 public:
  // Everything needed to resume: hyperparameters, step counts and per
  // parameter buffers (named "<parameter index>.<buffer>", e.g. "3.exp_avg").
  struct State {
    std::string type{};
    std::map<std::string, double> scalars{};
    std::vector<std::pair<std::string, BasicTensor<T>>> buffers{};
  };

  Optimizer(std::vector<BasicTensor<T>> parameters, double lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::string type_name() const = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<BasicTensor<T>>& parameters() const { return parameters_; }

  State state() const;
  // Restores a state saved from an optimizer of the same type over
  // parameters of the same shapes; throws std::invalid_argument otherwise.
  void load_state(const State& state);

 protected:
  // Per-parameter buffer `name` for parameter i, created as zeros.
  BasicTensor<T>& buffer(const std::string& name, std::size_t i);
  bool has_buffer(const std::string& name, std::size_t i) const;
  virtual std::map<std::string, double> hyperparameters() const = 0;
  std::vector<BasicTensor<T>> parameters_;
  double lr_;
  std::map<std::string, std::vector<BasicTensor<T>>> buffers_;  // name -> one per parameter (undefined until used)
  std::vector<std::size_t> steps_;                              // per parameter, for bias corrections
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};
template <class T = float>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<BasicTensor<T>> parameters, SGDOptions options = {});
  void step() override;
  std::string type_name() const override { return "SGD"; }
  SGDOptions options;

 protected:
  std::map<std::string, double> hyperparameters() const override;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (Adam) or decoupled (AdamW)
};
template <class T = float>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<BasicTensor<T>> parameters, AdamOptions options = {});
  void step() override;
  std::string type_name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  AdamOptions options;

 protected:
  Adam(std::vector<BasicTensor<T>> parameters, AdamOptions options, bool decoupled);
  std::map<std::string, double> hyperparameters() const override;

 private:
  bool decoupled_ = false;
};
// AdamW: the decay multiplies the parameters by (1 - lr * weight_decay)
// before the Adam step. Default weight_decay 0.01, as PyTorch.
template <class T = float>
class AdamW : public Adam<T> {
 public:
  AdamW(std::vector<BasicTensor<T>> parameters, AdamOptions options = with_default_decay());
  static AdamOptions with_default_decay() {
    AdamOptions o;
    o.weight_decay = 0.01;
    return o;
  }
};

struct RMSpropOptions {
  double lr = 0.01;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};
template <class T = float>
class RMSprop : public Optimizer<T> {
 public:
  RMSprop(std::vector<BasicTensor<T>> parameters, RMSpropOptions options = {});
  void step() override;
  std::string type_name() const override { return "RMSprop"; }
  RMSpropOptions options;

 protected:
  std::map<std::string, double> hyperparameters() const override;
};

#define XGRAD_DECLARE(T)              \
  extern template class Optimizer<T>; \
  extern template class SGD<T>;       \
  extern template class Adam<T>;      \
  extern template class AdamW<T>;     \
  extern template class RMSprop<T>;
XGRAD_DECLARE(float)
XGRAD_DECLARE(double)
#undef XGRAD_DECLARE

}  // namespace xgrad::nn
