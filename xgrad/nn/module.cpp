#include "xgrad/nn/module.hpp"

#include <set>
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
typename Module<T>::StateDict Module<T>::state_dict() const {
  StateDict out;
  for (const auto& [name, p] : named_parameters()) out.emplace(name, p.value());
  return out;
}

template <class T>
typename Module<T>::LoadResult Module<T>::load_state_dict(const StateDict& state, bool strict) {
  LoadResult result;
  std::vector<std::string> mismatched;
  std::vector<std::pair<TensorType, const xt::xarray<T>*>> assignments;
  std::set<std::string> known;
  for (const auto& [name, p] : named_parameters()) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      result.missing_keys.push_back(name);
      continue;
    }
    const Shape given(it->second.shape().begin(), it->second.shape().end());
    if (given != p.shape()) {
      mismatched.push_back(name + ": the dict has shape " + shape_to_string(given) + ", the parameter " +
                           shape_to_string(p.shape()));
      continue;
    }
    assignments.emplace_back(p, &it->second);
  }
  for (const auto& entry : state)
    if (!known.count(entry.first)) result.unexpected_keys.push_back(entry.first);
  const bool names_fail = strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty());
  if (!mismatched.empty() || names_fail) {
    std::string message = type_name() + ": load_state_dict failed, nothing was loaded:";
    auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      message += std::string("\n  ") + what + ":";
      for (const auto& n : names) message += " " + n + ";";
    };
    if (strict) {
      list("missing keys", result.missing_keys);
      list("unexpected keys", result.unexpected_keys);
    }
    list("size mismatch", mismatched);
    throw std::invalid_argument(message);
  }
  for (auto& [p, values] : assignments) p.copy_(*values);
  return result;
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
