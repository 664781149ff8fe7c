// Attention built from heed ops (matmul, softmax, masked_fill, ...): each op
// records its own backward, so nothing here needs a hand-written gradient.
#include "heed/nn/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "heed/nn/init.h"
#include "heed/ops/map.h"
#include "heed/ops/ops.h"

namespace heed::nn {

namespace {

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

// 1 where t is nonzero, 0 elsewhere, in t's dtype.
Tensor nonzero(const Tensor& t) { return ne(t, Tensor::scalar(0, t.dtype())); }

// The mask must broadcast to the scores' shape (it may not add dims of its own).
void check_mask(const char* op, const Tensor& mask, const Shape& scores) {
  if (!mask.defined()) return;
  bool fits = mask.dim() <= static_cast<int64_t>(scores.size());
  for (int64_t i = 1; fits && i <= mask.dim(); ++i) {
    int64_t m = mask.size(-i), s = scores[scores.size() - i];
    fits = m == s || m == 1;
  }
  if (!fits)
    throw ShapeError(msg(op, ": mask is ", mask.shape(), ", the scores are ", scores,
                         " [.., Tq, Tk]; the mask must broadcast to the scores' shape"));
}

// Queries, keys and values of the layers: [B, Tq, Dq], [B, Tk, Dk], [B, Tk, Dv].
void check_layer_inputs(const char* op, const Tensor& query, const Tensor& keys, const Tensor& values) {
  if (query.dim() != 3 || keys.dim() != 3 || values.dim() != 3)
    throw ShapeError(msg(op, ": query is ", query.shape(), ", keys ", keys.shape(), ", values ",
                         values.shape(), "; each must be 3-D: [B, Tq, Dq], [B, Tk, Dk], [B, Tk, Dv]"));
  if (keys.size(0) != query.size(0) || values.size(0) != query.size(0))
    throw ShapeError(msg(op, ": query is ", query.shape(), ", keys ", keys.shape(), ", values ",
                         values.shape(), "; their batch sizes (dim 0) must be equal"));
  if (values.size(1) != keys.size(1))
    throw ShapeError(msg(op, ": keys are ", keys.shape(), ", values ", values.shape(),
                         "; there must be one value per key (dim 1: ", keys.size(1), " vs ",
                         values.size(1), ")"));
}

void check_width(const char* op, const char* what, const Tensor& t, int64_t expected, const char* name) {
  if (t.size(-1) != expected)
    throw ShapeError(msg(op, ": ", what, " is ", t.shape(), "; its last dim must be ", name, " (",
                         expected, ")"));
}

void check_positive(const char* op, const char* name, int64_t value) {
  if (value <= 0) throw ValueError(msg(op, ": ", name, " is ", value, "; it must be positive"));
}

// The step every layer ends with: weights = masked softmax of the scores,
// context = weights values.  scores [B, Tq, Tk], values [B, Tk, Dv] -> [B, Tq, Dv]
AttentionResult attend(const Tensor& scores, const Tensor& values, const Tensor& mask) {
  Tensor weights = masked_softmax(scores, mask);
  return {matmul(weights, values), weights};
}

}  // namespace

// ---- masked softmax --------------------------------------------------------
// weights = softmax(scores with hidden entries set to -inf) over the keys.
// Backward comes from the ops: softmax's y (dy - sum(dy y)), and masked_fill
// sends no gradient to hidden scores (their weight is exactly 0 either way).
Tensor masked_softmax(const Tensor& scores, const Tensor& mask, bool causal) {
  if (scores.dim() < 2)
    throw ShapeError(msg("masked_softmax: scores are ", scores.shape(),
                         "; they need at least 2 dims [.., Tq, Tk]"));
  check_floating("masked_softmax", scores);
  check_mask("masked_softmax", mask, scores.shape());
  if ((!mask.defined() && !causal) || scores.numel() == 0) return softmax(scores, -1);

  const DType dtype = scores.dtype();
  const int64_t Tq = scores.size(-2), Tk = scores.size(-1);
  // hidden: 1 where a score is hidden, 0 where kept; broadcasts to [.., Tq, Tk].
  Tensor hidden;
  if (mask.defined()) hidden = nonzero(mask.to(dtype));  // masks come in any dtype
  if (causal) {
    Tensor future = triu(Tensor::ones({Tq, Tk}, dtype), 1);  // [Tq, Tk]: 1 where key j > query i
    hidden = hidden.defined() ? nonzero(hidden + future) : future;
  }

  // A query whose keys are all hidden would get softmax(-inf, ..., -inf) = 0/0 = NaN,
  // which spreads through the loss into every gradient. Leave such rows unmasked
  // (their softmax stays finite) and multiply their weights by 0 afterwards, so
  // the output is 0 and the gradient through them is 0 rather than NaN.
  Tensor row_hidden = min(hidden, -1, /*keepdim=*/true);  // [.., Tq or 1, 1]: 1 iff every key is hidden
  if (max(row_hidden).item() == 0)  // the common case: every query keeps a key
    return softmax(masked_fill(scores, hidden, kMinusInf), -1);
  Tensor row_kept = 1.0 - row_hidden;
  Tensor weights = softmax(masked_fill(scores, hidden * row_kept, kMinusInf), -1);  // [.., Tq, Tk]
  return weights * row_kept;
}

// ---- scaled dot-product attention ------------------------------------------
// out = softmax(q k^T / sqrt(D)) v: the checks and the scale here, the work and
// the backward in the fused op (ops/attention.h).
AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const Tensor& mask, bool causal, double dropout_p, const Tensor& bias) {
  const char* op = "scaled_dot_product_attention";
  if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2)
    throw ShapeError(msg(op, ": q is ", q.shape(), ", k ", k.shape(), ", v ", v.shape(),
                         "; each needs at least 2 dims: [.., Tq, D], [.., Tk, D], [.., Tk, Dv]"));
  check_floating(op, q);
  check_same_dtype(op, q, k);
  check_same_dtype(op, q, v);
  if (q.size(-1) != k.size(-1))
    throw ShapeError(msg(op, ": q is ", q.shape(), ", k is ", k.shape(), "; q's last dim (", q.size(-1),
                         ") must equal k's (", k.size(-1), "): a score is a dot product of the two"));
  if (k.size(-2) != v.size(-2))
    throw ShapeError(msg(op, ": k is ", k.shape(), ", v is ", v.shape(),
                         "; there must be one value per key (dim -2: ", k.size(-2), " vs ", v.size(-2), ")"));
  // The leading dims are batch dims and broadcast, as in matmul.
  auto batch = [](const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); };
  Shape scores_shape;
  try {
    scores_shape = broadcast_shapes(op, broadcast_shapes(op, batch(q), batch(k)), batch(v));
  } catch (const ShapeError&) {
    throw ShapeError(msg(op, ": q is ", q.shape(), ", k ", k.shape(), ", v ", v.shape(),
                         "; their batch dims (all but the last two) must broadcast together"));
  }
  scores_shape.push_back(q.size(-2));
  scores_shape.push_back(k.size(-2));
  check_mask(op, mask, scores_shape);
  if (!(dropout_p >= 0 && dropout_p < 1))
    throw ValueError(msg(op, ": dropout_p is ", dropout_p, "; it must be in [0, 1)"));

  // 1/sqrt(D) computed in double from the integer D. (One tutorial writes
  // torch.sqrt(self.input_dim), which fails in PyTorch: sqrt of a Python int.)
  // With D = 0 every dot product is the empty sum 0, and any scale leaves it 0:
  // use 1 rather than 1/sqrt(0) = inf, which would turn 0 into NaN.
  const int64_t D = q.size(-1);
  const double scale = D > 0 ? 1.0 / std::sqrt(static_cast<double>(D)) : 1.0;

  // The fused op (ops/attention.h) wants one batch shape for all three: expand
  // them to it (views; expand's backward sums their gradients back).
  const Shape full(scores_shape.begin(), scores_shape.end() - 2);
  auto expanded = [&](const Tensor& t) {
    Shape s = full;
    s.insert(s.end(), {t.size(-2), t.size(-1)});
    return t.shape() == s ? t : t.expand(s);
  };
  auto [out, weights] = attention(expanded(q), expanded(k), expanded(v), scale, mask, causal, dropout_p, bias);
  return {out, weights};
}

// ---- Luong dot: score = q . k ------------------------------------------------
AttentionResult DotAttention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                      const Tensor& mask) const {
  check_layer_inputs("DotAttention", query, keys, values);
  check_width("DotAttention", "keys", keys, query.size(-1), "the query's width Dq");
  check_mask("DotAttention", mask, {query.size(0), query.size(1), keys.size(1)});
  // The fused op with scale 1: scores = q k^T [B, Tq, Tk], softmax, times values.
  auto [context, weights] = attention(query, keys, values, 1.0, mask);
  return {report_output(context), weights};
}

// ---- Luong general: score = q^T W k ------------------------------------------
GeneralAttention::GeneralAttention(int64_t query_dim_, int64_t key_dim_)
    : query_dim(query_dim_), key_dim(key_dim_) {
  check_positive("GeneralAttention", "query_dim", query_dim);
  check_positive("GeneralAttention", "key_dim", key_dim);
  // W maps a key (Dk) into query space (Dq), like a Linear(Dk, Dq) weight.
  weight = register_parameter("weight", init::fan_in_uniform({query_dim, key_dim}, key_dim));
}

AttentionResult GeneralAttention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                          const Tensor& mask) const {
  check_layer_inputs("GeneralAttention", query, keys, values);
  check_width("GeneralAttention", "query", query, query_dim, "query_dim");
  check_width("GeneralAttention", "keys", keys, key_dim, "key_dim");
  check_mask("GeneralAttention", mask, {query.size(0), query.size(1), keys.size(1)});
  // q^T W k is the dot score of the projected query q^T W and k.
  Tensor qw = matmul(query, weight);  // [B, Tq, Dq] x [Dq, Dk] -> [B, Tq, Dk]
  auto [context, weights] = attention(qw, keys, values, 1.0, mask);
  return {report_output(context), weights};
}

// ---- Bahdanau additive: score = v^T tanh(W_q q + W_k k) ------------------------
AdditiveAttention::AdditiveAttention(int64_t query_dim_, int64_t key_dim_, int64_t attention_dim_)
    : query_dim(query_dim_), key_dim(key_dim_), attention_dim(attention_dim_) {
  check_positive("AdditiveAttention", "query_dim", query_dim);
  check_positive("AdditiveAttention", "key_dim", key_dim);
  check_positive("AdditiveAttention", "attention_dim", attention_dim);
  query_proj = register_module("query_proj", std::make_shared<Linear>(query_dim, attention_dim, false));
  key_proj = register_module("key_proj", std::make_shared<Linear>(key_dim, attention_dim, false));
  score_proj = register_module("score_proj", std::make_shared<Linear>(attention_dim, 1, false));
}

AttentionResult AdditiveAttention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                           const Tensor& mask) const {
  check_layer_inputs("AdditiveAttention", query, keys, values);
  check_width("AdditiveAttention", "query", query, query_dim, "query_dim");
  check_width("AdditiveAttention", "keys", keys, key_dim, "key_dim");
  check_mask("AdditiveAttention", mask, {query.size(0), query.size(1), keys.size(1)});
  // W_q and W_k are separate maps into one space of width A, and v^T is a third
  // (A -> 1). (One tutorial reuses its A -> 1 layer on the keys as well, which
  // adds a [.., 1] key score to a [.., A] query feature: not Bahdanau's score.)
  Tensor wq = (*query_proj)(query).unsqueeze(2);  // [B, Tq, A] -> [B, Tq, 1, A]
  Tensor wk = (*key_proj)(keys).unsqueeze(1);     // [B, Tk, A] -> [B, 1, Tk, A]
  // Broadcasting the sum pairs every query with every key: [B, Tq, Tk, A].
  Tensor features = tanh(wq + wk);
  Tensor scores = (*score_proj)(features).squeeze(-1);  // [B, Tq, Tk, 1] -> [B, Tq, Tk]
  AttentionResult r = attend(scores, values, mask);
  report_output(r.output);
  return r;
}

// ---- self-attention -----------------------------------------------------------
SelfAttention::SelfAttention(int64_t embed_dim_, bool bias) : embed_dim(embed_dim_) {
  check_positive("SelfAttention", "embed_dim", embed_dim);
  q_proj = register_module("q_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias));
  k_proj = register_module("k_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias));
  v_proj = register_module("v_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias));
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias));
}

AttentionResult SelfAttention::forward(const Tensor& x, const Tensor& mask, bool causal) const {
  if (x.dim() != 3 || x.size(-1) != embed_dim)
    throw ShapeError(msg("SelfAttention: x is ", x.shape(), "; it must be [B, T, C] with C = embed_dim (",
                         embed_dim, ")"));
  const int64_t B = x.size(0), T = x.size(1);
  check_mask("SelfAttention", mask, {B, T, T});
  // q, k and v as one product, x times the three weights stacked [3C, C]: x is
  // read once instead of three times, and the fused attention takes the
  // [B, T, 3C] result as it is (ops/attention.h). The stacking copies 3C^2
  // numbers; the product it saves reads and writes 6BTC.
  //
  // Folding v_proj into out_proj. With P the weights, the output is
  // out = P v Wo^T + bo with v = x Wv^T + bv. Matrix products associate, and when
  // every row of P sums to 1 (P 1 = 1, so P 1 bv^T = 1 bv^T),
  //   out = P v',   v' = x (Wo Wv)^T + (Wo bv + bo):
  // values projected straight into output space, and no out_proj product. That
  // trades the [BT, C] x [C, C] output product and the two of its backward for
  // Wo Wv and its two: 3BTC^2 multiply-adds out, 3C^3 in, fewer whenever B*T > C.
  // Below B*T = 2C the two extra small ops cost about what the fold saves
  // (bench/RESULTS.md, note 3), so it starts there. Autograd takes the
  // gradients of Wo, Wv, bv and bo through the fold: the same numbers up to
  // float rounding (tests/test_nn_attention.cpp checks it against the layer
  // unfolded). Never with a mask: a query whose keys are all hidden has a row of
  // zeros in P, where P 1 = 1 fails. (A causal query always sees key 0.)
  const bool fold = !mask.defined() && B * T >= 2 * embed_dim;
  Tensor wv = v_proj->weight, bv = v_proj->bias;
  if (fold) {
    wv = matmul(out_proj->weight, wv);                                     // Wo Wv [C, C]
    if (bv.defined()) bv = matmul(out_proj->weight, bv) + out_proj->bias;  // Wo bv + bo [C]
  }
  const Tensor w = cat({q_proj->weight, k_proj->weight, wv}, 0);
  const Tensor b = bv.defined() ? cat({q_proj->bias, k_proj->bias, bv}, 0) : Tensor();
  // Softmax over the keys (the last dim). A tutorial this layer follows takes it
  // over dim=1 of [B, T, T], the queries: then each key's weights sum to 1
  // instead of each query's, and the "average" is not one.
  auto [context, weights] = attention_packed(linear(x, w, b), 1.0 / std::sqrt(static_cast<double>(embed_dim)),
                                             mask, causal);
  return {report_output(fold ? context : (*out_proj)(context)), weights};  // [B, T, C], [B, T, T]
}

// ---- cross-attention ------------------------------------------------------------
CrossAttention::CrossAttention(int64_t query_dim_, int64_t context_dim_, int64_t embed_dim_,
                               bool concat_input_, bool bias)
    : query_dim(query_dim_), context_dim(context_dim_), embed_dim(embed_dim_), concat_input(concat_input_) {
  check_positive("CrossAttention", "query_dim", query_dim);
  check_positive("CrossAttention", "context_dim", context_dim);
  check_positive("CrossAttention", "embed_dim", embed_dim);
  q_proj = register_module("q_proj", std::make_shared<Linear>(query_dim, embed_dim, bias));
  k_proj = register_module("k_proj", std::make_shared<Linear>(context_dim, embed_dim, bias));
  v_proj = register_module("v_proj", std::make_shared<Linear>(context_dim, embed_dim, bias));
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias));
}

AttentionResult CrossAttention::forward(const Tensor& a, const Tensor& b, const Tensor& mask) const {
  if (a.dim() != 3 || a.size(-1) != query_dim)
    throw ShapeError(msg("CrossAttention: a is ", a.shape(), "; it must be [B, Ta, Ca] with Ca = query_dim (",
                         query_dim, ")"));
  if (b.dim() != 3 || b.size(-1) != context_dim)
    throw ShapeError(msg("CrossAttention: b is ", b.shape(),
                         "; it must be [B, Tb, Cb] with Cb = context_dim (", context_dim, ")"));
  if (a.size(0) != b.size(0))
    throw ShapeError(msg("CrossAttention: a is ", a.shape(), ", b is ", b.shape(),
                         "; their batch sizes (dim 0) must be equal"));
  check_mask("CrossAttention", mask, {a.size(0), a.size(1), b.size(1)});
  Tensor q = (*q_proj)(a);                        // [B, Ta, E]
  Tensor k = (*k_proj)(b), v = (*v_proj)(b);      // [B, Tb, E]
  auto [context, weights] = scaled_dot_product_attention(q, k, v, mask);  // [B, Ta, E], [B, Ta, Tb]
  Tensor attention = (*out_proj)(context);        // [B, Ta, E]
  return {report_output(concat_input ? concat({a, attention}, -1) : attention), weights};  // [B, Ta, Ca (+ E)]
}

}  // namespace heed::nn
