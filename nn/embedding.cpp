#include "heed/nn/embedding.h"

#include "heed/nn/init.h"

namespace heed::nn {

Embedding::Embedding(int64_t num, int64_t dim, std::optional<int64_t> pad)
    : num_embeddings(num), embedding_dim(dim) {
  if (num < 0 || dim < 0)
    throw ValueError(msg("Embedding: num_embeddings (", num, ") and embedding_dim (", dim,
                         ") must be >= 0"));
  padding_idx = wrap_padding_idx("Embedding", pad, num);
  Tensor w = init::normal({num, dim});
  if (padding_idx) w.select(0, *padding_idx).zero_();  // w is not a parameter yet: no grad to upset
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const Tensor& ids) const {
  return report_output(embedding(weight, ids, padding_idx));
}

}  // namespace heed::nn
