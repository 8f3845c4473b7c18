#include "xgrad/nn/module.hpp"

#include <stdexcept>

#include <xtensor/xarray.hpp>

namespace xgrad::nn {

template <class T>
typename Module<T>::TensorType Module<T>::forward(const TensorType&) {
  throw std::logic_error(type_name() + ": forward(input) is not defined for this module");
}

template <class T>
typename Module<T>::TensorType Module<T>::register_parameter(const std::string& name, TensorType value) {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument(type_name() + ": parameter name '" + name + "' must be non-empty and contain no '.'");
  }
  for (const auto& p : parameters_)
    if (p.first == name) throw std::invalid_argument(type_name() + ": parameter '" + name + "' registered twice");
  if (!value.is_leaf()) value = value.detach();
  value.requires_grad_(true);
  parameters_.emplace_back(name, value);
  return value;
}

template <class T>
void Module<T>::add_child(const std::string& name, std::shared_ptr<Module> module) {
  if (!module) throw std::invalid_argument(type_name() + ": sub-module '" + name + "' is null");
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument(type_name() + ": sub-module name '" + name + "' must be non-empty and contain no '.'");
  }
  for (const auto& c : children_)
    if (c.first == name) throw std::invalid_argument(type_name() + ": sub-module '" + name + "' registered twice");
  children_.emplace_back(name, std::move(module));
}

template <class T>
void Module<T>::collect(const std::string& prefix, std::vector<NamedTensor>& out) const {
  for (const auto& [name, p] : parameters_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

template <class T>
std::vector<typename Module<T>::NamedTensor> Module<T>::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", out);
  return out;
}

template <class T>
std::vector<typename Module<T>::TensorType> Module<T>::parameters() const {
  std::vector<TensorType> out;
  for (auto& np : named_parameters()) out.push_back(np.second);
  return out;
}

template <class T>
std::size_t Module<T>::parameter_count() const {
  std::size_t n = 0;
  for (const auto& p : parameters()) n += p.size();
  return n;
}

template <class T>
void Module<T>::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

template <class T>
void Module<T>::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

template class Module<float>;
template class Module<double>;

}  // namespace xgrad::nn
