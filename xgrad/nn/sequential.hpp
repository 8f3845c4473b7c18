#pragma once
// Sequential: applies registered single-input modules in order
// (torch.nn.Sequential). Sub-modules are named "0", "1", ... And small
// activation modules to put in one.

#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

template <class T = float>
class Sequential : public Module<T> {
 public:
  Sequential() = default;
  // The modules in order: Sequential<>({std::make_shared<Linear<>>(1, 32), std::make_shared<ReLU<>>()}).
  explicit Sequential(std::initializer_list<std::shared_ptr<Module<T>>> modules) {
    for (const auto& m : modules) add(m);
  }
  // Appends a module; returns *this for chaining.
  Sequential& add(std::shared_ptr<Module<T>> module);
  BasicTensor<T> forward(const BasicTensor<T>& x) override;
  std::string type_name() const override { return "Sequential"; }
  std::size_t size() const { return this->children().size(); }
};

template <class T = float>
class ReLU : public Module<T> {
 public:
  BasicTensor<T> forward(const BasicTensor<T>& x) override;
  std::string type_name() const override { return "ReLU"; }
};
template <class T = float>
class Tanh : public Module<T> {
 public:
  BasicTensor<T> forward(const BasicTensor<T>& x) override;
  std::string type_name() const override { return "Tanh"; }
};
template <class T = float>
class Sigmoid : public Module<T> {
 public:
  BasicTensor<T> forward(const BasicTensor<T>& x) override;
  std::string type_name() const override { return "Sigmoid"; }
};

// Any single-input function as a module, e.g. a custom op inside a
// Sequential (keras.layers.Lambda): Lambda<>(mish<float>). No parameters.
template <class T = float>
class Lambda : public Module<T> {
 public:
  using Function = std::function<BasicTensor<T>(const BasicTensor<T>&)>;
  explicit Lambda(Function f, std::string name = "Lambda") : f_(std::move(f)), name_(std::move(name)) {
    if (!f_) throw std::invalid_argument("Lambda: the function is empty");
  }
  BasicTensor<T> forward(const BasicTensor<T>& x) override { return f_(x); }
  std::string type_name() const override { return name_; }

 private:
  Function f_;
  std::string name_;
};

extern template class Sequential<float>;
extern template class Sequential<double>;
extern template class ReLU<float>;
extern template class ReLU<double>;
extern template class Tanh<float>;
extern template class Tanh<double>;
extern template class Sigmoid<float>;
extern template class Sigmoid<double>;

}  // namespace xgrad::nn
