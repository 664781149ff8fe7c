// Scaled dot-product attention as one fused op.
//
//   q: [.., Tq, D], k: [.., Tk, D], v: [.., Tk, Dv]  (the same leading dims)
//   scores  = scale q k^T (+ bias)                            [.., Tq, Tk]
//   weights = softmax(scores) along the keys, hidden scores
//             excluded; then dropout, when dropout_p > 0       [.., Tq, Tk]
//   out     = weights v                                       [.., Tq, Dv]
//
// bias, where given, is added to the scores (it broadcasts like the mask, and a
// bias of -inf hides its score): PyTorch's float attn_mask. It takes no
// gradient. Hidden scores: where `mask` is nonzero (any dtype; it broadcasts to
// [.., Tq, Tk]: a key padding mask is [B, 1, Tk], one mask for every entry
// [Tq, Tk]), and with causal every key j > query i. A query whose every key is
// hidden gets weights 0, so its output is 0 (where PyTorch gives NaN).
// dropout_p > 0 zeroes each weight with probability p and scales the rest by
// 1/(1-p), drawing from the global generator; the weights returned are those
// after dropout, the ones out was made from.
//
// The attention layers (nn/attention.h, nn/multihead_attention.h) all come here.
// ops/attention.cpp derives the backward.
#pragma once

#include <utility>

#include "heed/core/tensor.h"

namespace heed {

// -> {out, weights}. Both carry gradients back to q, k (and v, through out).
std::pair<Tensor, Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                    const Tensor& mask = {}, bool causal = false, double dropout_p = 0,
                                    const Tensor& bias = {});

// The same with q, k and v side by side in the last dim of one tensor, as one
// projection to 3C makes them (nn::SelfAttention):
//   qkv: [.., T, 3C]  ->  attention(q, k, v) with q = qkv[.., 0:C], k = qkv[.., C:2C], v = qkv[.., 2C:3C].
// Its gradient comes back as one [.., T, 3C] tensor, with no copies to split or join.
std::pair<Tensor, Tensor> attention_packed(const Tensor& qkv, double scale, const Tensor& mask = {},
                                           bool causal = false, double dropout_p = 0, const Tensor& bias = {});

// Multi-head self-attention from one packed projection, the layout a [3C, C]
// in_proj_weight (PyTorch's) or c_attn (GPT-2's) makes, with C = H D:
//   qkv: [.., T, 3C]; head h of q is columns [hD, (h+1)D), of k C + those, of v 2C + those
//   -> out [.., T, C]: the heads' outputs side by side, head h in columns [hD, (h+1)D),
//      which is the layout the output projection reads (no transpose, no copy)
//      weights [.., H, T, T]
// mask and bias broadcast to [.., H, T, T]. The same as splitting qkv into heads
// ([.., H, T, D] each), attention(q, k, v, ...), and merging the heads back, but
// every step reads and writes qkv's and out's own memory, and the gradient comes
// back as one [.., T, 3C] tensor.
std::pair<Tensor, Tensor> attention_packed_heads(const Tensor& qkv, int64_t num_heads, double scale,
                                                 const Tensor& mask = {}, bool causal = false, double dropout_p = 0,
                                                 const Tensor& bias = {});

}  // namespace heed
