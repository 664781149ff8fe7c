// Embedding: a lookup table, row i of the weight is the vector for id i.
#pragma once

#include <cstdint>
#include <optional>

#include "heed/nn/module.h"

namespace heed::nn {

// ids: int64, any shape [...] -> [..., embedding_dim]
// weight: [V, E] (V = num_embeddings, E = embedding_dim), weight[v] = dy summed
// over every position holding id v; the padding row gets no gradient.
// padding_idx may be given (negative counts from the end) or left empty.
Tensor embedding(const Tensor& weight, const Tensor& ids, std::optional<int64_t> padding_idx = {});

// Parameters as in PyTorch: weight [num_embeddings, embedding_dim] drawn from
// N(0, 1). If padding_idx is given, that row starts at zero and never receives a
// gradient, so it stays zero in training (a "no token here" vector).
class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = {});
  Tensor forward(const Tensor& ids) const override;

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // stored wrapped into [0, num_embeddings)
  Tensor weight;
};

}  // namespace heed::nn
