// Embedding lookup: row i of a [V, E] table is the vector for id i.
#pragma once

#include <cstdint>
#include <optional>

#include "heed/core/tensor.h"

namespace heed {

// ids: int64, any shape [...] -> [..., embedding_dim]
// weight: [V, E] (V = num_embeddings, E = embedding_dim), weight[v] = dy summed
// over every position holding id v; the padding row gets no gradient.
// padding_idx may be given (negative counts from the end) or left empty.
Tensor embedding(const Tensor& weight, const Tensor& ids, std::optional<int64_t> padding_idx = {});

// padding_idx in [-V, V) wrapped into [0, V), as torch.nn.Embedding does; an
// IndexError naming `op` outside that range. Empty stays empty.
std::optional<int64_t> wrap_padding_idx(const char* op, std::optional<int64_t> padding_idx, int64_t V);

}  // namespace heed
