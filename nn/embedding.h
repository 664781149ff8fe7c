// Embedding as a module: a lookup table, row i of the weight is the vector for id i.
// The op is ops/embedding.h.
#pragma once

#include <cstdint>
#include <optional>

#include "heed/nn/module.h"
#include "heed/ops/embedding.h"

namespace heed::nn {

using heed::embedding;  // the op (ops/embedding.h), named here like torch.nn.functional's

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
