// MultiheadAttention: H scaled dot-product attentions side by side, each on its
// own D = E / H slice of the projected queries, keys and values, with
// PyTorch's torch.nn.MultiheadAttention parameters, so a state dict moves
// between the two unchanged:
//
//   in_proj_weight  [3E, E]   rows [0, E) project queries, [E, 2E) keys, [2E, 3E) values
//   in_proj_bias    [3E]      (when bias)
//   out_proj.weight [E, E], out_proj.bias [E]   a Linear submodule named out_proj
//
//   q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v     [B, L or S, E]
//   head h  = softmax(q_h k_h^T / sqrt(D)) v_h                          [B, L, D]
//   output  = concat(head_1, ..., head_H) W_o^T + b_o                   [B, L, E]
//
// Shapes: B batch, L target (query) length, S source (key/value) length,
// E embed_dim, H num_heads, D = E / H head size.
//
// Masks mean what they mean in PyTorch. A floating-point mask is ADDED to the
// scores (0 keeps a score, -inf hides it, other values bias it). An int64 mask
// stands for PyTorch's bool mask, which heed has no dtype for: nonzero = HIDDEN
// (True = not allowed to attend), heed's rule for every mask (nn/attention.h).
// is_causal hides every key after its query without any mask tensor.
//
// One difference from PyTorch, on purpose: a query whose keys are all hidden
// gets weights 0 (output = out_proj.bias) where PyTorch gives NaN.
// Not supported: kdim / vdim different from E, add_bias_kv, add_zero_attn.
#pragma once

#include <cstdint>
#include <memory>

#include "heed/nn/attention.h"
#include "heed/nn/linear.h"
#include "heed/nn/module.h"

namespace heed::nn {

// PyTorch's keyword arguments, by name:
//   MultiheadAttention mha(8, 2, {.dropout = 0.1, .batch_first = true});
struct MultiheadAttentionOptions {
  double dropout = 0.0;      // on the attention weights, in training mode only
  bool bias = true;          // in_proj_bias and out_proj.bias
  bool batch_first = false;  // inputs [B, L, E] instead of PyTorch's default [L, B, E]
};

class MultiheadAttention : public Module {
 public:
  // Initialised like PyTorch: xavier_uniform in_proj_weight, zero biases,
  // out_proj.weight as any Linear (U(-1/sqrt(E), 1/sqrt(E))).
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {});

  // query [L, B, E], key and value [S, B, E] ([B, L, E], [B, S, E] with
  // batch_first; [L, E], [S, E] for one unbatched sequence).
  //   key_padding_mask [B, S] (or [S] unbatched): int64 nonzero = that key is padding, hidden;
  //     float: added to that key's scores
  //   attn_mask [L, S] for every batch and head, or [B*H, L, S] (index b*H + h), or [H, L, S] unbatched;
  //     int64: nonzero = hidden; float: added to the scores
  //   is_causal: query i sees keys 0..i only (no mask tensor is made; L <= S as in PyTorch's usage)
  // Returns {output [L, B, E] (or [B, L, E]), weights}: with need_weights the
  // attention weights [B, L, S] averaged over the heads (average_attn_weights),
  // or per head [B, H, L, S]; without, weights is undefined. As in PyTorch the
  // weights returned are those after dropout.
  AttentionResult forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, bool need_weights = true,
                          const Tensor& attn_mask = {}, bool average_attn_weights = true,
                          bool is_causal = false) const;
  AttentionResult operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const Tensor& key_padding_mask = {}, bool need_weights = true,
                             const Tensor& attn_mask = {}, bool average_attn_weights = true,
                             bool is_causal = false) const {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal);
  }

  int64_t embed_dim, num_heads, head_dim;
  double dropout;
  bool batch_first;
  Tensor in_proj_weight;  // [3E, E]
  Tensor in_proj_bias;    // [3E]; undefined without bias
  std::shared_ptr<Linear> out_proj;

 private:
  // The masks combined, each broadcasting to [B, H, L, S] (undefined if none):
  // hidden, nonzero = hidden, from the int64 masks; bias, added to the scores,
  // from the floating-point ones.
  struct Masks {
    Tensor hidden, bias;
  };
  Masks merge_masks(const Tensor& key_padding_mask, const Tensor& attn_mask, int64_t B, int64_t L, int64_t S,
                     bool batched) const;
  // query W_i^T + b_i with W_i the i-th block of E rows of in_proj_weight (0 q, 1 k, 2 v).
  Tensor in_projection(const Tensor& x, int64_t i) const;
};

}  // namespace heed::nn
