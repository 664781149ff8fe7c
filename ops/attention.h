// Scaled dot-product attention (no mask, no dropout) as one fused op.
//
//   q: [.., Tq, D], k: [.., Tk, D], v: [.., Tk, Dv]  (the same leading dims)
//   weights = softmax(scale q k^T) along the keys     [.., Tq, Tk]
//   out     = weights v                               [.., Tq, Dv]
//
// nn::scaled_dot_product_attention (nn/attention.h) is the layer-level function
// users call: it checks the arguments, handles masks, causal masking, dropout
// and broadcast batch dims with separate ops, and comes here for the plain case.
// ops/attention.cpp explains why fusing pays and derives the backward.
#pragma once

#include <utility>

#include "heed/core/tensor.h"

namespace heed {

// -> {out, weights}. Both carry gradients back to q, k (and v, through out).
std::pair<Tensor, Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale);

// The same with q, k and v side by side in the last dim of one tensor, as one
// projection to 3C makes them (nn::SelfAttention):
//   qkv: [.., T, 3C]  ->  attention(q, k, v) with q = qkv[.., 0:C], k = qkv[.., C:2C], v = qkv[.., 2C:3C].
// Its gradient comes back as one [.., T, 3C] tensor, with no copies to split or join.
std::pair<Tensor, Tensor> attention_packed(const Tensor& qkv, double scale);

}  // namespace heed
