#include "xgrad/nn/embedding.hpp"

#include <stdexcept>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/shape_ops.hpp"
#include "xgrad/nn/init.hpp"

namespace xgrad::nn {

template <class T>
Embedding<T>::Embedding(std::size_t num, std::size_t dim, std::optional<std::size_t> pad)
    : num_embeddings(num), embedding_dim(dim), padding_idx(pad) {
  if (num == 0 || dim == 0) throw std::invalid_argument("Embedding: num_embeddings and embedding_dim must be positive");
  if (pad && *pad >= num) {
    throw std::invalid_argument("Embedding: padding_idx " + std::to_string(*pad) + " is out of range [0, " +
                                std::to_string(num) + ")");
  }
  weight = this->register_parameter("weight", BasicTensor<T>::zeros({num, dim}));
  init::normal_(weight, 0.0, 1.0);
  if (pad) std::fill_n(weight.mutable_data() + *pad * dim, dim, T(0));
}

template <class T>
BasicTensor<T> Embedding<T>::forward(const xt::xarray<std::int64_t>& indices) {
  for (std::int64_t i : indices) {
    if (i < 0 || static_cast<std::size_t>(i) >= num_embeddings) {
      throw std::invalid_argument("Embedding: index " + std::to_string(i) + " is out of range [0, " +
                                  std::to_string(num_embeddings) + ")");
    }
  }
  BasicTensor<T> rows = index_select(weight, indices, 0);
  if (!padding_idx) return rows;
  // The padding row gets no gradient: its looked-up copies are multiplied
  // by a constant 0/1 mask (their values are that row, zero unless a user
  // changed it, and stay as looked up).
  Shape mask_shape(indices.shape().begin(), indices.shape().end());
  mask_shape.push_back(1);
  xt::xarray<T> keep = xt::empty<T>(mask_shape);
  bool any_padding = false;
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const bool pad = static_cast<std::size_t>(indices.data()[i]) == *padding_idx;
    keep.data()[i] = pad ? T(0) : T(1);
    any_padding |= pad;
  }
  if (!any_padding) return rows;
  BasicTensor<T> padded_rows = index_select(weight.detach(), indices, 0);
  // rows where kept, the constant lookup where padded.
  return where(BasicTensor<T>(std::move(keep)), rows, padded_rows);
}

template class Embedding<float>;
template class Embedding<double>;

}  // namespace xgrad::nn
