#pragma once
// Sequential: applies registered single-input modules in order
// (torch.nn.Sequential). Sub-modules are named "0", "1", ... And small
// activation modules to put in one.

#include <memory>

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

template <class T = float>
class Sequential : public Module<T> {
 public:
  Sequential() = default;
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

extern template class Sequential<float>;
extern template class Sequential<double>;
extern template class ReLU<float>;
extern template class ReLU<double>;
extern template class Tanh<float>;
extern template class Tanh<double>;
extern template class Sigmoid<float>;
extern template class Sigmoid<double>;

}  // namespace xgrad::nn
