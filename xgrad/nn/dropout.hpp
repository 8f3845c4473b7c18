#pragma once
// Dropout (inverted, torch.nn.Dropout): in training, each element is zeroed
// with probability p and the rest scaled by 1/(1-p); in eval it is the
// identity. Masks are drawn from a generator: the default one, or the one
// given (seeded, reproducible).

#include "xgrad/autograd/random.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

// A constant mask of `shape`: 0 with probability p, else 1/(1-p).
template <class T>
BasicTensor<T> dropout_mask(const Shape& shape, double p, Generator& gen);

template <class T = float>
class Dropout : public Module<T> {
 public:
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  BasicTensor<T> forward(const BasicTensor<T>& x) override;
  std::string type_name() const override { return "Dropout"; }
  double p;

 private:
  Generator* generator_;  // not owned; nullptr = default_generator()
};

extern template class Dropout<float>;
extern template class Dropout<double>;

}  // namespace xgrad::nn
