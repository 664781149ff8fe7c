// Chapter 11: a GPT from heed's pieces. Causal attention against the masked
// formula, a pre-norm block that cannot see the future, and generation with a
// KV cache against recomputing every position.
#include "check.h"

#include <cmath>

using namespace heed;
using tour::check;

int main() {
  manual_seed(0);
  // [causal]
  const int64_t B = 2, T = 6, H = 2, D = 4, C = H * D;
  const double scale = 1 / std::sqrt(double(D));
  Tensor qkv = Tensor::randn({B, T, 3 * C});  // q, k, v side by side, each H heads of D
  auto [y, weights] = attention_packed_heads(qkv, H, scale, {}, /*causal=*/true);  // y [B, T, C]
  // By hand, head by head: the scores of the future (key j > query i) set to -inf.
  Tensor future = triu(Tensor::ones({T, T}), 1);
  double worst = 0;
  for (int64_t h = 0; h < H; ++h) {
    auto part = [&](int64_t j) { return qkv.slice(2, j * C + h * D, j * C + (h + 1) * D); };  // [B, T, D]
    Tensor s = matmul(part(0), part(1).transpose(1, 2)) * scale;                              // [B, T, T]
    Tensor w = softmax(masked_fill(s, future, -INFINITY), -1);
    worst = std::max(worst, tour::max_diff(y.slice(2, h * D, (h + 1) * D), matmul(w, part(2))));
  }
  check(worst < 1e-5, "causal attention = softmax(q k^T / sqrt(D), the future at -inf) v, head by head");
  check(max(weights * future).item() == 0, "no query gives any weight to a later key");
  // [end causal]

  // [block]
  nn::LayerNorm ln_1(C), ln_2(C);
  nn::Linear c_attn(C, 3 * C), attn_proj(C, C), c_fc(C, 4 * C), mlp_proj(4 * C, C);
  auto block = [&](const Tensor& x) {  // pre-norm: each branch reads a normalized copy, adds to x
    Tensor h = x + attn_proj(attention_packed_heads(c_attn(ln_1(x)), H, scale, {}, true).first);
    return h + mlp_proj(gelu_tanh(c_fc(ln_2(h))));
  };
  Tensor x = Tensor::randn({B, T, C});
  Tensor changed = x.clone();
  changed.slice(1, T - 1, T).fill_(3.0);  // a different last token
  check(tour::max_diff(block(changed).slice(1, 0, T - 1), block(x).slice(1, 0, T - 1)) < 1e-6,
        "a block's output at t depends on positions 0..t only: the last token changes no earlier output");
  // [end block]

  // [cache]
  NoGradGuard no_grad;
  Tensor xs = Tensor::randn({1, T, C});
  Tensor all_at_once = attention_packed_heads(c_attn(xs), H, scale, {}, true).first;  // [1, T, C]
  Tensor k_cache = Tensor::zeros({1, H, T, D}), v_cache = Tensor::zeros({1, H, T, D});
  double cache_worst = 0;
  for (int64_t t = 0; t < T; ++t) {  // one position at a time, as generation feeds them
    Tensor qkv_t = c_attn(xs.slice(1, t, t + 1));  // [1, 1, 3C]: this position only
    auto heads = [&](int64_t j) { return qkv_t.slice(2, j * C, (j + 1) * C).reshape({1, 1, H, D}).transpose(1, 2); };
    k_cache.slice(2, t, t + 1).copy_(heads(1));  // its key and value join the cache ...
    v_cache.slice(2, t, t + 1).copy_(heads(2));
    auto [y_t, w_t] = attention(heads(0), k_cache.slice(2, 0, t + 1), v_cache.slice(2, 0, t + 1), scale);
    // ... and its query attends over keys 0..t: all of them, so no mask is needed
    Tensor merged = y_t.transpose(1, 2).reshape({1, 1, C});
    cache_worst = std::max(cache_worst, tour::max_diff(merged, all_at_once.slice(1, t, t + 1)));
  }
  check(cache_worst < 1e-5, "one position at a time against the cache = every position at once");
  // [end cache]
  return tour::failures();
}
