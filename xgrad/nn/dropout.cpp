#include "xgrad/nn/dropout.hpp"

#include <stdexcept>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/elementwise.hpp"

namespace xgrad::nn {

template <class T>
BasicTensor<T> dropout_mask(const Shape& shape, double p, Generator& gen) {
  if (!(p >= 0.0 && p < 1.0)) throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p));
  xt::xarray<T> m = xt::empty<T>(shape);
  const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
  for (auto& v : m) v = gen.uniform() < p ? T(0) : keep_scale;
  return BasicTensor<T>(std::move(m));
}

template <class T>
Dropout<T>::Dropout(double p_, Generator* generator) : p(p_), generator_(generator) {
  if (!(p >= 0.0 && p < 1.0)) throw std::invalid_argument("Dropout: p must be in [0, 1), got " + std::to_string(p));
}

template <class T>
BasicTensor<T> Dropout<T>::forward(const BasicTensor<T>& x) {
  if (!this->is_training() || p == 0.0) return x;
  return mask(x, dropout_mask<T>(x.shape(), p, generator_ ? *generator_ : default_generator()));
}

template BasicTensor<float> dropout_mask<float>(const Shape&, double, Generator&);
template BasicTensor<double> dropout_mask<double>(const Shape&, double, Generator&);
template class Dropout<float>;
template class Dropout<double>;

}  // namespace xgrad::nn
