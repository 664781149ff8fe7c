// Chapter 7: the attention formulas, each computed by hand from heed's small
// ops and compared with heed's layers.
#include "check.h"

#include <cmath>

using namespace heed;
using tour::check;

int main() {
  manual_seed(0);
  // [worked_example]
  // One query, two keys, d_k = 1: the scores are q.k1 = 1 and q.k2 = 0.5.
  Tensor q({{1.0}}), k({{1.0}, {0.5}}), v({{1.0, 0.0}, {0.0, 1.0}});  // [1, 1], [2, 1], [2, 2]
  auto [context, weights] = nn::scaled_dot_product_attention(q, k, v);
  const double w1 = std::exp(1.0) / (std::exp(1.0) + std::exp(0.5));  // 0.6225
  check(std::abs(weights.at({0, 0}) - w1) < 1e-6 && std::abs(weights.at({0, 1}) - (1 - w1)) < 1e-6,
        "weights = softmax(1, 0.5) = (0.6225, 0.3775)");
  check(std::abs(context.at({0, 0}) - w1) < 1e-6, "context = 0.6225 v1 + 0.3775 v2");
  // [end worked_example]

  // [scaled_dot_product]
  const int64_t Bn = 2, Tq = 3, Tk = 5, D = 4;
  Tensor Q = Tensor::randn({Bn, Tq, D}), K = Tensor::randn({Bn, Tk, D}), V = Tensor::randn({Bn, Tk, D});
  Tensor scores = matmul(Q, K.transpose(1, 2)) / std::sqrt(double(D));  // [B, Tq, Tk]
  Tensor by_hand = matmul(softmax(scores, -1), V);                        // [B, Tq, D]
  auto sdpa = nn::scaled_dot_product_attention(Q, K, V);
  check(tour::max_diff(sdpa.output, by_hand) < 1e-6, "out = softmax(Q K^T / sqrt(d_k)) V");
  check(tour::max_diff(sdpa.weights.sum({-1}), Tensor::ones({Bn, Tq})) < 1e-6,
        "each query's weights sum to 1 (softmax over the keys, the last dim)");
  Tensor mask = Tensor::zeros({Bn, 1, Tk});
  mask.slice(2, 3, Tk).fill_(1);  // nonzero = hidden: the last two keys are padding
  auto masked = nn::scaled_dot_product_attention(Q, K, V, mask);
  check(max(masked.weights.slice(2, 3, Tk)).item() == 0, "a masked key gets weight exactly 0");
  // [end scaled_dot_product]

  // [additive]
  nn::AdditiveAttention additive(D, D, /*attention_dim=*/8);
  Tensor Wq = additive.query_proj->weight, Wk = additive.key_proj->weight, w = additive.score_proj->weight;
  // score_ij = w^T tanh(W_q q_i + W_k k_j): broadcast queries [B, Tq, 1, A] against keys [B, 1, Tk, A]
  Tensor feats = tanh(matmul(Q, Wq.t()).unsqueeze(2) + matmul(K, Wk.t()).unsqueeze(1));  // [B, Tq, Tk, A]
  Tensor add_scores = matmul(feats, w.t()).squeeze(-1);                                  // [B, Tq, Tk]
  check(tour::max_diff(additive(Q, K, V).output, matmul(softmax(add_scores, -1), V)) < 1e-6,
        "additive: out = softmax(w^T tanh(W_q q + W_k k)) V");
  // [end additive]

  // [multihead]
  const int64_t E = 6, heads = 2, Dh = E / heads;
  nn::MultiheadAttention mha(E, heads, {.batch_first = true});
  Tensor X = Tensor::randn({Bn, Tq, E});
  Tensor Wi = mha.in_proj_weight, bi = mha.in_proj_bias;  // [3E, E], [3E]: rows for q, then k, then v
  auto project = [&](int64_t which) {
    return matmul(X, Wi.slice(0, which * E, (which + 1) * E).t()) + bi.slice(0, which * E, (which + 1) * E);
  };
  Tensor q_all = project(0), k_all = project(1), v_all = project(2);  // [B, T, E]
  std::vector<Tensor> head_outputs;
  for (int64_t h = 0; h < heads; ++h) {  // head h: its own D = E / H features of each
    auto cut = [&](const Tensor& t) { return t.slice(2, h * Dh, (h + 1) * Dh); };
    head_outputs.push_back(nn::scaled_dot_product_attention(cut(q_all), cut(k_all), cut(v_all)).output);
  }
  Tensor mh_by_hand = (*mha.out_proj)(cat(head_outputs, -1));  // concat the heads, then W_o
  check(tour::max_diff(mha(X, X, X).output, mh_by_hand) < 1e-5,
        "multi-head: concat(head_1, head_2) W_o^T + b_o, each head on its own slice");
  // [end multihead]

  // [fused]
  // The same attention as one op (ops/attention.h), float64 so the two agree closely.
  Tensor q64 = Tensor::randn({2, 4, 8}, kFloat64).requires_grad_(), k64 = Tensor::randn({2, 6, 8}, kFloat64),
         v64 = Tensor::randn({2, 6, 3}, kFloat64);
  auto [fused_out, fused_w] = attention(q64, k64, v64, 0.5);
  Tensor composed_w = softmax(matmul(q64, k64.transpose(1, 2)) * 0.5, -1);
  check(tour::max_diff(fused_w, composed_w) < 1e-14 && tour::max_diff(fused_out, matmul(composed_w, v64)) < 1e-14,
        "attention(q, k, v, scale): softmax(scale q k^T) v, the weights too");
  check(fused_out.grad_fn()->name() == "attention" && fused_w.grad_fn()->name() == "attention_weights",
        "one graph node for the output, one for the weights");
  // SelfAttention stacks its three projections' weights into one [3C, C] product.
  nn::SelfAttention self_attn(8);
  Tensor X8 = Tensor::randn({2, 5, 8});
  auto by_layers = nn::scaled_dot_product_attention((*self_attn.q_proj)(X8), (*self_attn.k_proj)(X8),
                                                    (*self_attn.v_proj)(X8));
  check(tour::max_diff(self_attn(X8).output, (*self_attn.out_proj)(by_layers.output)) < 1e-5,
        "SelfAttention: one product for q, k and v, the same result as three");
  // [end fused]

  // [fold]
  // out = P v Wo^T + bo with v = x Wv^T + bv, and each row of P sums to 1, so
  // out = P v' with v' = x (Wo Wv)^T + (Wo bv + bo): one product fewer per step.
  nn::SelfAttention layer(8);
  Tensor x = Tensor::randn({4, 8, 8}, kFloat64);  // B*T = 32 >= 2C: the layer folds
  layer.to(kFloat64);
  Tensor Wo = layer.out_proj->weight, bo = layer.out_proj->bias;
  Tensor P = layer(x).weights;                                               // [B, T, T]
  Tensor written = matmul(matmul(P, (*layer.v_proj)(x)), Wo.t()) + bo;      // (P v) Wo^T + bo
  Tensor v_out = matmul(x, matmul(Wo, layer.v_proj->weight).t()) + (matmul(Wo, layer.v_proj->bias) + bo);
  check(tour::max_diff(written, matmul(P, v_out)) < 1e-12, "P v Wo^T + bo = P (x (Wo Wv)^T + Wo bv + bo)");
  check(tour::max_diff(layer(x).output, written) < 1e-12, "SelfAttention computes it that way, the same numbers");
  // [end fold]
  return tour::failures();
}
