// Positional embeddings: attention itself ignores order (permute the keys and
// the weights permute with them), so a Transformer adds to each token's vector
// a vector that says where it stands.
//
//   sinusoidal (Vaswani et al.):  pe[pos, 2i]   = sin(pos / 10000^(2i / E))
//                                 pe[pos, 2i+1] = cos(pos / 10000^(2i / E))
//     fixed, no parameters; each pair of features is a clock of its own
//     frequency, so pe[pos + k] is a rotation of pe[pos] (the same for every pos)
//   learned (GPT-2):              pe = weight [max_len, E], a parameter
//
// Both add pe to x: out = x + pe[start : start + T], for x [T, B, E] (or
// [B, T, E] with batch_first, [T, E] unbatched). start, 0 by default, is the
// position of x's first token: generation with a cache feeds one new token at
// position t. A sequence that runs past max_len is a ShapeError naming both.
#pragma once

#include <cstdint>

#include "heed/nn/module.h"

namespace heed::nn {

class SinusoidalPositionalEncoding : public UnaryModule {
 public:
  explicit SinusoidalPositionalEncoding(int64_t d_model, int64_t max_len = 5000, bool batch_first = false);
  Tensor forward(const Tensor& x) const override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t start) const;
  using UnaryModule::operator();
  Tensor operator()(const Tensor& x, int64_t start) const { return forward(x, start); }

  int64_t d_model, max_len;
  bool batch_first;
  Tensor pe;  // [max_len, E]; not a parameter or buffer: it is a function of the sizes, not state to save
};

class LearnedPositionalEmbedding : public UnaryModule {
 public:
  // weight initialised N(0, 1), as nn::Embedding's (GPT-2 uses N(0, 0.02^2): set it so).
  LearnedPositionalEmbedding(int64_t max_len, int64_t d_model, bool batch_first = false);
  Tensor forward(const Tensor& x) const override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t start) const;
  using UnaryModule::operator();
  Tensor operator()(const Tensor& x, int64_t start) const { return forward(x, start); }

  int64_t max_len, d_model;
  bool batch_first;
  Tensor weight;  // [max_len, E]
};

}  // namespace heed::nn
