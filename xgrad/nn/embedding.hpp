#pragma once
// Embedding: a lookup table (torch.nn.Embedding). indices of any shape
// (integers in [0, num_embeddings)) -> indices.shape + (embedding_dim).
// weight (num_embeddings, embedding_dim) starts N(0, 1). With padding_idx,
// that row starts at zero and receives no gradient.

#include <cstdint>
#include <optional>

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

template <class T = float>
class Embedding : public Module<T> {
 public:
  Embedding(std::size_t num_embeddings, std::size_t embedding_dim, std::optional<std::size_t> padding_idx = {});
  BasicTensor<T> forward(const xt::xarray<std::int64_t>& indices);
  std::string type_name() const override { return "Embedding"; }
  BasicTensor<T> weight;
  std::size_t num_embeddings, embedding_dim;
  std::optional<std::size_t> padding_idx;
};

extern template class Embedding<float>;
extern template class Embedding<double>;

}  // namespace xgrad::nn
