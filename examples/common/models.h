// Models more than one example uses.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>

#include "heed/heed.h"

namespace examples {

// The self-attention model of seed article 000, section 4, with V as wide as Q
// and K (the article's V of width 1 is one of its bugs; article_self_attention.cpp
// tells that story): every row of x attends to every row.
class SelfAttentionModel : public heed::nn::Module {
 public:
  explicit SelfAttentionModel(int64_t d)
      : query(register_module("query", std::make_shared<heed::nn::Linear>(d, d))),
        key(register_module("key", std::make_shared<heed::nn::Linear>(d, d))),
        value(register_module("value", std::make_shared<heed::nn::Linear>(d, d))),
        scale(1.0 / std::sqrt(static_cast<double>(d))) {}

  // The intermediate tensors too, so that hooks and pictures can name them.
  struct Forward {
    heed::Tensor q, k, v, scores, a, output;
  };

  // x: [N, d] -> output: [N, d]
  Forward forward(const heed::Tensor& x) const {
    Forward f;
    f.q = query->forward(x);                          // [N, d]
    f.k = key->forward(x);                            // [N, d]
    f.v = value->forward(x);                          // [N, d]
    f.scores = heed::matmul(f.q, f.k.t()) * scale;    // [N, N]: how well row i's query fits row j's key
    f.a = heed::softmax(f.scores, 1);                 // [N, N]: each row sums to 1
    f.output = heed::matmul(f.a, f.v);                // [N, d]: each row a weighted mean of V's rows
    return f;
  }

  std::shared_ptr<heed::nn::Linear> query, key, value;
  double scale;
};

}  // namespace examples
