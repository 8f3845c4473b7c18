#include "xgrad/nn/sequential.hpp"

#include "xgrad/autograd/elementwise.hpp"

namespace xgrad::nn {

template <class T>
Sequential<T>& Sequential<T>::add(std::shared_ptr<Module<T>> module) {
  this->register_module(std::to_string(size()), std::move(module));
  return *this;
}

template <class T>
BasicTensor<T> Sequential<T>::forward(const BasicTensor<T>& x) {
  BasicTensor<T> y = x;
  for (const auto& child : this->children()) y = child.second->forward(y);
  return y;
}

template <class T>
BasicTensor<T> ReLU<T>::forward(const BasicTensor<T>& x) {
  return relu(x);
}
template <class T>
BasicTensor<T> Tanh<T>::forward(const BasicTensor<T>& x) {
  return tanh(x);
}
template <class T>
BasicTensor<T> Sigmoid<T>::forward(const BasicTensor<T>& x) {
  return sigmoid(x);
}

template class Sequential<float>;
template class Sequential<double>;
template class ReLU<float>;
template class ReLU<double>;
template class Tanh<float>;
template class Tanh<double>;
template class Sigmoid<float>;
template class Sigmoid<double>;

}  // namespace xgrad::nn
