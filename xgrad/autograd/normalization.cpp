#include "xgrad/autograd/normalization.hpp"

#include <string>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/reduction.hpp"

namespace xgrad {

template <class T>
BasicTensor<T> layer_norm(const BasicTensor<T>& a, std::size_t normalized_axes, const BasicTensor<T>& weight,
                          const BasicTensor<T>& bias, T eps) {
  const Shape shape = a.shape();
  if (normalized_axes == 0 || normalized_axes > shape.size()) {
    throw_op_error("layer_norm", "cannot normalize over the last " + std::to_string(normalized_axes) +
                                     " axes of shape " + shape_to_string(shape));
  }
  const Shape normalized(shape.end() - static_cast<std::ptrdiff_t>(normalized_axes), shape.end());
  for (const auto* p : {&weight, &bias}) {
    if (p->defined() && p->shape() != normalized) {
      throw_op_error("layer_norm", std::string(p == &weight ? "weight" : "bias") + " of shape " +
                                       shape_to_string(p->shape()) + " must have the normalized shape " +
                                       shape_to_string(normalized));
    }
  }
  Axes axes;
  for (std::size_t i = shape.size() - normalized_axes; i < shape.size(); ++i)
    axes.push_back(static_cast<std::ptrdiff_t>(i));
  const BasicTensor<T> centered = a - mean(a, axes, true);
  const BasicTensor<T> variance = mean(centered * centered, axes, true);
  BasicTensor<T> out = centered / sqrt(variance + eps);
  if (weight.defined()) out = out * weight;
  if (bias.defined()) out = out + bias;
  return out;
}

template BasicTensor<float> layer_norm(const BasicTensor<float>&, std::size_t, const BasicTensor<float>&,
                                       const BasicTensor<float>&, float);
template BasicTensor<double> layer_norm(const BasicTensor<double>&, std::size_t, const BasicTensor<double>&,
                                        const BasicTensor<double>&, double);

}  // namespace xgrad
