// Attention: a weighted average of values, the weights saying how well each
// key matches a query.
//
//   scores  = score(q_i, k_j)                  [.., Tq, Tk]   one per (query, key) pair
//   weights = softmax(scores) over j (the keys) [.., Tq, Tk]   each row sums to 1
//   out     = weights v                        [.., Tq, Dv]   out_i = sum_j weights_ij v_j
//
// The layers below differ only in the score:
//   scaled dot product (Vaswani et al.)   q . k / sqrt(D)            scaled_dot_product_attention
//   dot (Luong)                           q . k                      DotAttention
//   general (Luong)                       q^T W k                    GeneralAttention
//   additive (Bahdanau)                   v^T tanh(W_q q + W_k k)    AdditiveAttention
// and SelfAttention / CrossAttention add learned projections around the
// scaled dot product. MultiheadAttention (nn/multihead_attention.h) runs H of
// them side by side, with PyTorch's parameters.
//
// Shapes: B batch, Tq queries, Tk keys (= values), D query/key width, Dv value width.
//
// MASKS: nonzero = HIDDEN. Every mask in heed marks with a nonzero entry (1,
// or any value but 0) the scores to hide: those are set to -inf before the
// softmax, so they get weight exactly 0. A mask may have any dtype and must
// broadcast to the scores' shape [.., Tq, Tk]; a padding mask for keys is
// [B, 1, Tk], a per-query mask [B, Tq, Tk], one mask for the whole batch [Tq, Tk].
// This is PyTorch's convention for MultiheadAttention's bool masks (True =
// masked) and for masked_fill, but the OPPOSITE of the bool attn_mask of
// torch.nn.functional.scaled_dot_product_attention (True = keep): negate such
// a mask (1 - keep) before handing it to heed. A PyTorch additive float mask of
// 0 / -inf works as a mask unchanged (-inf is nonzero: hidden); one with other
// values is a bias, and goes in scaled_dot_product_attention's `bias`.
// MultiheadAttention and the Transformer layers take PyTorch's masks as they
// are: float ones added, int64 ones (PyTorch's bool) hiding where nonzero.
//
// FULLY HIDDEN ROWS: if a mask hides every key of a query, softmax over
// nothing but -inf is 0/0, and PyTorch returns NaN there, which then spreads
// silently into the loss and every gradient. heed returns weights 0 for that
// row instead, so its output is 0 (no value is attended to) and its gradient
// is 0. This is the one place heed differs from PyTorch on purpose.
#pragma once

#include <cstdint>

#include "heed/nn/linear.h"
#include "heed/nn/module.h"

namespace heed::nn {

// What every attention returns: the result, and the weights that made it
// (users plot them: row i shows where query i looked). Unpacks as
//   auto [out, weights] = scaled_dot_product_attention(q, k, v);
struct AttentionResult {
  Tensor output;   // [.., Tq, Dv]
  Tensor weights;  // [.., Tq, Tk]; undefined when a layer is asked not to return them
};

// softmax over the last dim (the keys) of scores, with the entries where
// `mask` is nonzero hidden (set to -inf first), and, with causal, every key
// j > i hidden from query i. Rows with every key hidden get weights 0 (see
// FULLY HIDDEN ROWS above). This is the step all the layers share.
// scores: [.., Tq, Tk], mask: broadcasts to it  ->  weights [.., Tq, Tk]
Tensor masked_softmax(const Tensor& scores, const Tensor& mask = {}, bool causal = false);

// out = softmax(q k^T / sqrt(D), with hidden scores set to -inf) v
// q: [.., Tq, D], k: [.., Tk, D], v: [.., Tk, Dv]  ->  out [.., Tq, Dv], weights [.., Tq, Tk].
// The leading (batch) dims broadcast, as in matmul. mask: nonzero = hidden
// (see MASKS above), broadcasting to [.., Tq, Tk]. causal hides key j from
// query i when j > i. dropout_p > 0 drops weights (and rescales the rest by
// 1/(1-p)) before they multiply v, as PyTorch does; the returned weights are
// those after dropout. Like PyTorch's functional form it always drops when
// dropout_p > 0: a layer passes 0 in eval mode. bias, floating-point and
// broadcasting like the mask, is added to the scores first (PyTorch's float
// attn_mask; -inf hides); it takes no gradient.
AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const Tensor& mask = {}, bool causal = false,
                                             double dropout_p = 0.0, const Tensor& bias = {});

// ---- score functions as layers (Luong et al. 2015, Bahdanau et al. 2015) ------
// Each: forward(query [B, Tq, Dq], keys [B, Tk, Dk], values [B, Tk, Dv], mask)
//   -> {context [B, Tq, Dv], weights [B, Tq, Tk]}.

// score = q . k (no scaling; Dq must equal Dk). No parameters.
class DotAttention : public Module {
 public:
  AttentionResult forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                          const Tensor& mask = {}) const;
  AttentionResult operator()(const Tensor& query, const Tensor& keys, const Tensor& values,
                             const Tensor& mask = {}) const {
    return forward(query, keys, values, mask);
  }
};

// score = q^T W k with W [Dq, Dk] (parameter "weight"), initialised like a
// Linear layer's weight: U(-1/sqrt(Dk), 1/sqrt(Dk)).
class GeneralAttention : public Module {
 public:
  GeneralAttention(int64_t query_dim, int64_t key_dim);
  AttentionResult forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                          const Tensor& mask = {}) const;
  AttentionResult operator()(const Tensor& query, const Tensor& keys, const Tensor& values,
                             const Tensor& mask = {}) const {
    return forward(query, keys, values, mask);
  }

  int64_t query_dim, key_dim;
  Tensor weight;  // [Dq, Dk]
};

// score = v^T tanh(W_q q + W_k k), an MLP with one hidden layer of width A
// (attention_dim). Submodules, all without bias: query_proj (W_q: Dq -> A),
// key_proj (W_k: Dk -> A), score_proj (v^T: A -> 1).
class AdditiveAttention : public Module {
 public:
  AdditiveAttention(int64_t query_dim, int64_t key_dim, int64_t attention_dim);
  AttentionResult forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                          const Tensor& mask = {}) const;
  AttentionResult operator()(const Tensor& query, const Tensor& keys, const Tensor& values,
                             const Tensor& mask = {}) const {
    return forward(query, keys, values, mask);
  }

  int64_t query_dim, key_dim, attention_dim;
  std::shared_ptr<Linear> query_proj, key_proj, score_proj;
};

// ---- single-head attention with learned projections ---------------------------

// Self-attention over one sequence: every position attends to every position.
//   q, k, v = q_proj(x), k_proj(x), v_proj(x)        each [B, T, C]
//   out     = out_proj(softmax(q k^T / sqrt(C)) v)   [B, T, C]
// Submodules q_proj, k_proj, v_proj, out_proj: Linear(C, C, bias).
// Without a mask, and with B*T >= 2C, it computes the same with one product
// fewer: v_proj folded into out_proj (nn/attention.cpp, docs/07-attention.md).
class SelfAttention : public Module {
 public:
  explicit SelfAttention(int64_t embed_dim, bool bias = true);
  // x: [B, T, C] -> {out [B, T, C], weights [B, T, T]}; mask broadcasts to [B, T, T].
  AttentionResult forward(const Tensor& x, const Tensor& mask = {}, bool causal = false) const;
  AttentionResult operator()(const Tensor& x, const Tensor& mask = {}, bool causal = false) const {
    return forward(x, mask, causal);
  }

  int64_t embed_dim;
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;
};

// Cross-attention between two sequences of different lengths and widths (two
// modalities: words attending to image regions, say). Queries come from a
// [B, Ta, Ca], keys and values from b [B, Tb, Cb]; both are projected to a
// common width E:
//   q = q_proj(a) [B, Ta, E],  k = k_proj(b), v = v_proj(b) [B, Tb, E]
//   attention = out_proj(softmax(q k^T / sqrt(E)) v)   [B, Ta, E]
// With concat_input the output is concat(a, attention) along the features,
// [B, Ta, Ca + E], so the next layer sees both what a was and what it found in b.
class CrossAttention : public Module {
 public:
  CrossAttention(int64_t query_dim, int64_t context_dim, int64_t embed_dim, bool concat_input = false,
                 bool bias = true);
  // a: [B, Ta, Ca], b: [B, Tb, Cb] -> {out [B, Ta, E or Ca + E], weights [B, Ta, Tb]};
  // mask broadcasts to [B, Ta, Tb].
  AttentionResult forward(const Tensor& a, const Tensor& b, const Tensor& mask = {}) const;
  AttentionResult operator()(const Tensor& a, const Tensor& b, const Tensor& mask = {}) const {
    return forward(a, b, mask);
  }

  int64_t query_dim, context_dim, embed_dim;
  bool concat_input;
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;
};

}  // namespace heed::nn
