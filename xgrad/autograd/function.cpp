#include "xgrad/autograd/function.hpp"

#include <cmath>
#include <vector>

#include <xtensor/xbuilder.hpp>

namespace xgrad {

void throw_op_error(const char* op, const std::string& message) {
  throw std::invalid_argument(std::string(op) + ": " + message);
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw_op_error(op,
                     "shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " cannot be broadcast together");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::size_t normalize_axis(const char* op, std::ptrdiff_t axis, std::size_t rank) {
  const auto r = static_cast<std::ptrdiff_t>(rank);
  if (axis < -r || axis >= r) {
    throw_op_error(op,
                   "axis " + std::to_string(axis) + " is out of range for a tensor of rank " + std::to_string(rank));
  }
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

template <class T>
xt::xarray<T> sum_to_shape(const xt::xarray<T>& g, const Shape& shape) {
  const std::size_t rank = g.dimension();
  if (rank == shape.size() && std::equal(shape.begin(), shape.end(), g.shape().begin())) return g;
  if (shape.size() > rank) throw std::logic_error("sum_to_shape: target rank exceeds gradient rank");
  // Walk g in row-major order, adding each element into the target element
  // it was broadcast from (stride 0 along broadcast axes).
  const std::size_t lead = rank - shape.size();
  std::vector<std::size_t> target_stride(rank, 0);
  std::size_t stride = 1;
  for (std::size_t i = rank; i-- > lead;) {
    const std::size_t d = shape[i - lead];
    if (d != 1 && d != g.shape()[i]) throw std::logic_error("sum_to_shape: shapes do not broadcast");
    target_stride[i] = d == 1 ? 0 : stride;
    stride *= d;
  }
  xt::xarray<T> out = xt::zeros<T>(shape);
  T* o = out.data();
  const T* src = g.data();
  const std::size_t inner = rank ? g.shape()[rank - 1] : 1;
  const std::size_t inner_stride = rank ? target_stride[rank - 1] : 0;
  std::vector<std::size_t> index(rank, 0);
  std::size_t offset = 0;
  for (std::size_t done = 0; done < g.size(); done += inner) {
    for (std::size_t j = 0; j < inner; ++j) o[offset + j * inner_stride] += src[done + j];
    for (std::size_t d = rank - 1; d-- > 0;) {  // advance the outer multi-index
      offset += target_stride[d];
      if (++index[d] < g.shape()[d]) break;
      offset -= target_stride[d] * index[d];
      index[d] = 0;
    }
  }
  return out;
}

template <class T>
void accumulate_grad_unbroadcast(const BasicTensor<T>& t, const xt::xarray<T>& g) {
  if (!t.requires_grad()) return;
  accumulate_grad(t, sum_to_shape(g, t.shape()));
}

template xt::xarray<float> sum_to_shape(const xt::xarray<float>&, const Shape&);
template xt::xarray<double> sum_to_shape(const xt::xarray<double>&, const Shape&);
template <class T>
void accumulate_grad_unbroadcast(const BasicTensor<T>& t, xt::xarray<T>&& g) {
  if (!t.requires_grad()) return;
  const auto& ts = t.node()->gradient_shape();
  if (g.dimension() == ts.size() && std::equal(ts.begin(), ts.end(), g.shape().begin())) {
    accumulate_grad(t, std::move(g));
  } else {
    accumulate_grad(t, sum_to_shape(g, t.shape()));
  }
}

template void accumulate_grad_unbroadcast(const BasicTensor<float>&, xt::xarray<float>&&);
template void accumulate_grad_unbroadcast(const BasicTensor<double>&, xt::xarray<double>&&);
template void accumulate_grad_unbroadcast(const BasicTensor<float>&, const xt::xarray<float>&);
template void accumulate_grad_unbroadcast(const BasicTensor<double>&, const xt::xarray<double>&);

}  // namespace xgrad
