#include "heed/nn/multihead_attention.h"

#include <cmath>
#include <tuple>

#include "heed/autograd/grad_mode.h"
#include "heed/nn/init.h"
#include "heed/ops/map.h"
#include "heed/ops/ops.h"

namespace heed::nn {

namespace {
const char* kOp = "MultiheadAttention";
}  // namespace

MultiheadAttention::MultiheadAttention(int64_t embed_dim_, int64_t num_heads_,
                                       MultiheadAttentionOptions options)
    : embed_dim(embed_dim_),
      num_heads(num_heads_),
      head_dim(0),
      dropout(options.dropout),
      batch_first(options.batch_first) {
  if (embed_dim <= 0 || num_heads <= 0)
    throw ValueError(msg(kOp, ": embed_dim (", embed_dim, ") and num_heads (", num_heads,
                         ") must be positive"));
  if (embed_dim % num_heads != 0)
    throw ValueError(msg(kOp, ": embed_dim (", embed_dim, ") must be divisible by num_heads (", num_heads,
                         "): each head gets embed_dim / num_heads features"));
  if (!(dropout >= 0 && dropout < 1))
    throw ValueError(msg(kOp, ": dropout is ", dropout, "; it must be in [0, 1)"));
  head_dim = embed_dim / num_heads;
  const int64_t E = embed_dim;
  // PyTorch's registration order and initialisation (its _reset_parameters):
  // xavier_uniform on the [3E, E] weight (fan_in E, fan_out 3E), zero biases.
  in_proj_weight = register_parameter("in_proj_weight", init::xavier_uniform({3 * E, E}));
  if (options.bias) in_proj_bias = register_parameter("in_proj_bias", Tensor::zeros({3 * E}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(E, E, options.bias));
  if (options.bias) {
    NoGradGuard no_grad;  // an in-place write to a parameter is not part of any graph
    out_proj->bias.zero_();
  }
}

// x W_i^T + b_i, with W_i rows [iE, (i+1)E) of in_proj_weight.  x [B, T, E] -> [B, T, E]
Tensor MultiheadAttention::in_projection(const Tensor& x, int64_t i) const {
  const int64_t E = embed_dim;
  Tensor w = in_proj_weight.slice(0, i * E, (i + 1) * E);  // [E, E], a view
  Tensor y = matmul(x, w.t());
  return in_proj_bias.defined() ? y + in_proj_bias.slice(0, i * E, (i + 1) * E) : y;
}

MultiheadAttention::Masks MultiheadAttention::merge_masks(const Tensor& key_padding_mask, const Tensor& attn_mask,
                                                          int64_t B, int64_t L, int64_t S, bool batched) const {
  const int64_t H = num_heads;
  Masks masks;
  // A floating-point mask is added to the scores, an int64 one hides where it
  // is nonzero. Two of a kind combine: flags by their sum (nonzero exactly
  // where either hides), biases by their sum (what adding both would give).
  auto add = [&](const Tensor& m) {
    if (is_floating(m.dtype())) {
      Tensor b = m.to(in_proj_weight.dtype());
      masks.bias = masks.bias.defined() ? masks.bias + b : b;
    } else {
      const DType dtype = in_proj_weight.dtype();  // 0/1 flags in the float dtype, which adds
      Tensor h = ne(m.to(dtype), Tensor::scalar(0, dtype));
      masks.hidden = masks.hidden.defined() ? masks.hidden + h : h;
    }
  };
  if (key_padding_mask.defined()) {
    Shape expected = batched ? Shape{B, S} : Shape{S};
    if (key_padding_mask.shape() != expected)
      throw ShapeError(msg(kOp, ": key_padding_mask is ", key_padding_mask.shape(), "; it must be ",
                           batched ? "[B, S] = " : "[S] = ", expected,
                           ", one entry per key (int64: nonzero = padding; float: added to its scores)"));
    // One entry per key, the same for every head and query: [B, S] -> [B, 1, 1, S]
    add(key_padding_mask.reshape({B, 1, 1, S}));
  }
  if (attn_mask.defined()) {
    if (attn_mask.shape() == Shape{L, S}) {
      add(attn_mask);  // [L, S]: broadcasts over batch and heads
    } else if (attn_mask.shape() == Shape{B * H, L, S}) {
      add(attn_mask.reshape({B, H, L, S}));  // entry b*H + h is batch b, head h, as in PyTorch
    } else {
      Shape per_head{B * H, L, S};
      throw ShapeError(msg(kOp, ": attn_mask is ", attn_mask.shape(), "; it must be [L, S] = ", Shape{L, S},
                           batched ? " or [B*H, L, S] = " : " or [H, L, S] = ", per_head));
    }
  }
  return masks;
}

AttentionResult MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const Tensor& key_padding_mask, bool need_weights,
                                            const Tensor& attn_mask, bool average_attn_weights, bool is_causal) const {
  const int64_t E = embed_dim, H = num_heads, D = head_dim;
  // ---- check the inputs -------------------------------------------------------
  const bool batched = query.dim() == 3;
  if ((query.dim() != 3 && query.dim() != 2) || key.dim() != query.dim() || value.dim() != query.dim())
    throw ShapeError(msg(kOp, ": query is ", query.shape(), ", key ", key.shape(), ", value ", value.shape(),
                         "; all three must be 3-D (", batch_first ? "[B, L, E]" : "[L, B, E]",
                         ") or all 2-D ([L, E], unbatched)"));
  for (const auto& [name, t] :
       {std::pair{"query", query}, std::pair{"key", key}, std::pair{"value", value}}) {
    if (t.size(-1) != E)
      throw ShapeError(msg(kOp, ": ", name, " is ", t.shape(), "; its last dim must be embed_dim (", E, ")"));
    check_same_dtype(kOp, t, in_proj_weight);
  }
  // Put every input in [B, T, E] layout; the output goes back at the end.
  auto to_bte = [&](const Tensor& t) {
    return !batched ? t.unsqueeze(0) : batch_first ? t : t.transpose(0, 1);
  };
  Tensor q_in = to_bte(query), k_in = to_bte(key), v_in = to_bte(value);  // [B, L, E], [B, S, E], [B, S, E]
  if (k_in.size(0) != q_in.size(0) || v_in.size(0) != q_in.size(0) || v_in.size(1) != k_in.size(1))
    throw ShapeError(msg(kOp, ": query is ", query.shape(), ", key ", key.shape(), ", value ", value.shape(),
                         "; the batch sizes must be equal, and key and value must have the same length S"));
  const int64_t B = q_in.size(0), L = q_in.size(1), S = k_in.size(1);
  const Masks masks = merge_masks(key_padding_mask, attn_mask, B, L, S, batched);

  double p = is_training() ? dropout : 0.0;
  Tensor context, weights;  // [B, L, E] (the heads side by side), [B, H, L, S]
  if (&query.impl() == &key.impl() && &key.impl() == &value.impl()) {
    // ---- self-attention: one [3E, E] product, the heads read in place ---------------
    // q, k and v side by side, [B, T, 3E], exactly as in_proj_weight stacks W_q, W_k, W_v;
    // the op splits the heads and writes their outputs side by side (ops/attention.h).
    Tensor qkv = matmul(q_in, in_proj_weight.t());
    if (in_proj_bias.defined()) qkv = qkv + in_proj_bias;
    std::tie(context, weights) =
        attention_packed_heads(qkv, H, 1.0 / std::sqrt(static_cast<double>(D)), masks.hidden, is_causal, p, masks.bias);
  } else {
    // ---- project, split into heads, attend ----------------------------------------
    // [B, T, E] -> [B, T, H, D] -> [B, H, T, D]: head h owns features [hD, (h+1)D).
    auto split_heads = [&](const Tensor& t) { return t.reshape({B, t.size(1), H, D}).transpose(1, 2); };
    Tensor q = split_heads(in_projection(q_in, 0));  // [B, H, L, D]
    Tensor k = split_heads(in_projection(k_in, 1));  // [B, H, S, D]
    Tensor v = split_heads(in_projection(v_in, 2));  // [B, H, S, D]
    auto r = scaled_dot_product_attention(q, k, v, masks.hidden, is_causal, p, masks.bias);
    // context [B, H, L, D] -> [B, L, H, D] -> [B, L, E]: the heads' outputs side by side.
    context = r.output.transpose(1, 2).reshape({B, L, E});
    weights = r.weights;
  }

  // ---- project out ------------------------------------------------------------------
  Tensor out = (*out_proj)(context);                 // [B, L, E]
  if (!batched) out = out.squeeze(0);                // [L, E]
  else if (!batch_first) out = out.transpose(0, 1);  // [L, B, E]
  report_output(out);

  if (!need_weights) return {out, Tensor()};
  if (average_attn_weights) weights = weights.mean({1});  // [B, H, L, S] -> [B, L, S]
  if (!batched) weights = weights.squeeze(0);             // [L, S] or [H, L, S]
  return {out, weights};
}

}  // namespace heed::nn
