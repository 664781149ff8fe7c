// The fused attention op (ops/attention.h) against the same attention composed
// from ops (matmul, scaling, softmax), whose every piece is tested on its own:
// outputs and gradients in float64, both of its outputs in the loss or one at a
// time, every layout the kernel reads in place, both ways it threads, the packed
// form, float64 gradchecks, empty sizes, in-place writes, and each error.
// (PyTorch parity comes through nn::SelfAttention and scaled_dot_product_attention
// in test_nn_attention.cpp, which run on this op.)
#include <omp.h>

#include <cmath>
#include <memory>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {

// softmax(scale q k^T) v from separate ops: the reference.
std::pair<Tensor, Tensor> composed(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  Tensor w = softmax(matmul(q, k.transpose(-2, -1)) * scale, -1);
  return {matmul(w, v), w};
}

// A loss that uses the output, the weights, or both, with random coefficients
// so that every entry's gradient differs.
struct Loss {
  bool use_out = true, use_weights = true;
  Tensor r_out, r_weights;
  Tensor operator()(const std::pair<Tensor, Tensor>& ow) const {
    Tensor loss = Tensor::scalar(0, kFloat64);
    if (use_out) loss = loss + (ow.first * r_out).sum();
    if (use_weights) loss = loss + (ow.second * r_weights).sum();
    return loss;
  }
};

Tensor leaf_like(const Tensor& t) { return t.detach().clone().requires_grad_(); }

void check_same(const Tensor& got, const Tensor& want, const char* what) {
  INFO(what);
  REQUIRE(got.defined() == want.defined());
  if (!got.defined()) return;
  REQUIRE(got.shape() == want.shape());
  check_values(got, want.to_vector<double>(), 1e-10);
}

// Compares the op's outputs with the reference's, then sends the same random
// loss back through both and compares the gradients of the leaves each was
// made from (dq, dk, dv).
void check_outputs_and_grads(const std::pair<Tensor, Tensor>& got, const std::pair<Tensor, Tensor>& want, Loss loss,
                             const TensorList& leaves, const TensorList& reference_leaves) {
  check_same(got.first, want.first, "output");
  check_same(got.second, want.second, "weights");
  loss.r_out = Tensor::randn(want.first.shape(), kFloat64);
  loss.r_weights = Tensor::randn(want.second.shape(), kFloat64);
  loss(got).backward();
  loss(want).backward();
  const char* names[] = {"dq", "dk", "dv"};
  for (size_t i = 0; i < leaves.size(); ++i) check_same(leaves[i].grad(), reference_leaves[i].grad(), names[i]);
}

// Runs attention(q, k, v) and the composed reference on copies of the same
// leaves; compares outputs, weights and every gradient. make(q, k, v) turns the
// leaves into the op's inputs (views, say).
template <class Make>
void check_against_composed(const Tensor& q0, const Tensor& k0, const Tensor& v0, double scale, Loss loss,
                            Make make) {
  Tensor q = leaf_like(q0), k = leaf_like(k0), v = leaf_like(v0);
  Tensor rq = leaf_like(q0), rk = leaf_like(k0), rv = leaf_like(v0);
  auto got = [&] {
    auto [a, b, c] = make(q, k, v);
    return attention(a, b, c, scale);
  }();
  auto want = [&] {
    auto [a, b, c] = make(rq, rk, rv);
    return composed(a, b, c, scale);
  }();
  check_outputs_and_grads(got, want, loss, {q, k, v}, {rq, rk, rv});
}

auto as_is = [](const Tensor& q, const Tensor& k, const Tensor& v) { return std::tuple{q, k, v}; };

}  // namespace

TEST_CASE("attention op/matches the composed ops") {
  manual_seed(11);
  const double scale = 0.37;
  SUBCASE("two batch dims, Tq != Tk, D != Dv") {
    check_against_composed(randn64({2, 3, 4, 5}), randn64({2, 3, 6, 5}), randn64({2, 3, 6, 7}), scale, {},
                           as_is);
  }
  SUBCASE("plain matrices (no batch dims)") {
    check_against_composed(randn64({4, 3}), randn64({5, 3}), randn64({5, 2}), scale, {}, as_is);
  }
  SUBCASE("only the output in the loss: the weights' node is never reached") {
    check_against_composed(randn64({3, 4, 5}), randn64({3, 6, 5}), randn64({3, 6, 2}), scale,
                           {.use_out = true, .use_weights = false}, as_is);
  }
  SUBCASE("only the weights in the loss: v gets no gradient") {
    check_against_composed(randn64({3, 4, 5}), randn64({3, 6, 5}), randn64({3, 6, 2}), scale,
                           {.use_out = false, .use_weights = true}, as_is);
  }
  SUBCASE("views read in place: heads of a [B, T, H, d] tensor, rows of a wider tensor") {
    // q, k: [2, 5, 3, 4] transposed to [2, 3, 5, 4] (batch dims that do not fold into one);
    // v: columns 1..6 of a [2, 3, 5, 9] tensor (rows 9 apart).
    check_against_composed(randn64({2, 5, 3, 4}), randn64({2, 5, 3, 4}), randn64({2, 3, 5, 9}), scale, {},
                           [](const Tensor& q, const Tensor& k, const Tensor& v) {
                             return std::tuple{q.transpose(1, 2), k.transpose(1, 2), v.slice(3, 1, 7)};
                           });
  }
  SUBCASE("layouts that are copied first: a transposed k, every other column of v, an expanded batch") {
    check_against_composed(randn64({2, 4, 3}), randn64({2, 3, 6}), randn64({1, 6, 10}), scale, {},
                           [](const Tensor& q, const Tensor& k, const Tensor& v) {
                             return std::tuple{q, k.transpose(1, 2), v.slice(2, 0, 10, 2).expand({2, 6, 5})};
                           });
  }
  SUBCASE("the same tensor as q, k and v") {
    Tensor x = leaf_like(randn64({2, 4, 3})), rx = leaf_like(x);
    auto got = attention(x, x, x, scale);
    auto want = composed(rx, rx, rx, scale);
    check_same(got.first, want.first, "output");
    (got.first.sum() + got.second.pow(2).sum()).backward();
    (want.first.sum() + want.second.pow(2).sum()).backward();
    check_same(x.grad(), rx.grad(), "dx");
  }
}

TEST_CASE("attention op/masks, causal and dropout match the composed ops") {
  // The composed formula: masked_softmax (hidden scores -inf, a row with every key
  // hidden 0) of the scaled scores, then dropout, then the product with v. The
  // dropout masks agree because both draw them from the global generator, in the
  // same order, from the same seed.
  const double scale = 0.41;
  const Tensor q0 = randn64({2, 3, 4, 5}), k0 = randn64({2, 3, 6, 5}), v0 = randn64({2, 3, 6, 7});
  // [2, 1, 4, 6]: broadcast over the heads; batch 1, query 0 hides every key.
  Tensor mask = Tensor::zeros({2, 1, 4, 6});
  {
    NoGradGuard no_grad;
    for (int64_t j = 0; j < 6; j += 2) mask.select(0, 0).select(1, 1).select(1, j).fill_(1);
    mask.select(0, 1).select(1, 0).fill_(1);
  }
  SUBCASE("a mask, causal, both, and dropout") {
    for (int variant = 0; variant < 6; ++variant) {
      const bool with_mask = variant % 2 == 1, causal = variant >= 2 && variant < 4, dropping = variant >= 4;
      CAPTURE(with_mask);
      CAPTURE(causal);
      CAPTURE(dropping);
      const Tensor m = with_mask ? mask : Tensor();
      const double p = dropping ? 0.3 : 0.0;
      Tensor q = leaf_like(q0), k = leaf_like(k0), v = leaf_like(v0);
      Tensor rq = leaf_like(q0), rk = leaf_like(k0), rv = leaf_like(v0);
      manual_seed(21);
      auto got = attention(q, k, v, scale, m, causal, p);
      manual_seed(21);
      Tensor w = nn::masked_softmax(matmul(rq, rk.transpose(-2, -1)) * scale, m, causal);
      if (dropping) w = dropout(w, p, /*training=*/true);
      check_outputs_and_grads(got, {matmul(w, rv), w}, {}, {q, k, v}, {rq, rk, rv});
    }
  }
  SUBCASE("an additive bias (PyTorch's float attn_mask), alone and with a mask and causal") {
    // Random values, broadcast over the first batch dim, and -inf at two scores:
    // the composed form adds it to the scores before the masked softmax.
    Tensor bias = randn64({3, 4, 6});
    {
      NoGradGuard no_grad;
      bias.select(0, 1).select(0, 2).select(0, 3).fill_(-INFINITY);
      bias.select(0, 2).select(0, 1).select(0, 0).fill_(-INFINITY);
    }
    for (int variant = 0; variant < 2; ++variant) {
      const Tensor m = variant == 1 ? mask : Tensor();
      const bool causal = variant == 1;
      Tensor q = leaf_like(q0), k = leaf_like(k0), v = leaf_like(v0);
      Tensor rq = leaf_like(q0), rk = leaf_like(k0), rv = leaf_like(v0);
      auto got = attention(q, k, v, scale, m, causal, 0.0, bias);
      Tensor w = nn::masked_softmax(matmul(rq, rk.transpose(-2, -1)) * scale + bias, m, causal);
      check_outputs_and_grads(got, {matmul(w, rv), w}, {}, {q, k, v}, {rq, rk, rv});
    }
  }
  SUBCASE("causal over more queries than one block of the fast kernel") {
    // 70 queries and 50 keys, then 40 and 100: the fast kernel cuts causal
    // attention into blocks of rows whose products stop at the block's last key.
    for (auto [Tq, Tk] : {std::pair<int64_t, int64_t>{70, 50}, {40, 100}}) {
      const Tensor qa = randn64({2, Tq, 5}), ka = randn64({2, Tk, 5}), va = randn64({2, Tk, 3});
      Tensor q = leaf_like(qa), k = leaf_like(ka), v = leaf_like(va);
      Tensor rq = leaf_like(qa), rk = leaf_like(ka), rv = leaf_like(va);
      auto got = attention(q, k, v, scale, {}, true);
      Tensor w = nn::masked_softmax(matmul(rq, rk.transpose(-2, -1)) * scale, {}, true);
      check_outputs_and_grads(got, {matmul(w, rv), w}, {}, {q, k, v}, {rq, rk, rv});
    }
  }
  SUBCASE("packed q, k, v with a mask and causal") {
    Tensor x = leaf_like(randn64({2, 4, 9})), rx = leaf_like(x);
    Tensor pad = Tensor({{0.0, 0.0, 0.0, 1.0}, {0.0, 1.0, 1.0, 1.0}}).reshape({2, 1, 4});
    auto got = attention_packed(x, scale, pad, true);
    Tensor w = nn::masked_softmax(matmul(rx.narrow(-1, 0, 3), rx.narrow(-1, 3, 3).transpose(-2, -1)) * scale, pad,
                                  true);
    check_same(got.second, w, "weights");
    check_same(got.first, matmul(w, rx.narrow(-1, 6, 3)), "output");
  }
  SUBCASE("gradcheck with a mask and causal") {
    auto flat = [](const std::pair<Tensor, Tensor>& ow) { return cat({ow.first.flatten(), ow.second.flatten()}, 0); };
    CHECK(grad_ok([&](const TensorList& x) { return flat(attention(x[0], x[1], x[2], 0.5, mask, true)); },
                  {randn64({2, 3, 4, 5}), randn64({2, 3, 6, 5}), randn64({2, 3, 6, 7})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(attention(q0, k0, v0, 1.0, Tensor::zeros({4, 5})),
                            "attention: mask is [4, 5], the scores are [2, 3, 4, 6]", ShapeError);
    CHECK_THROWS_CONTAINING(attention(q0, k0, v0, 1.0, {}, false, 1.0), "dropout_p is 1; it must be in [0, 1)",
                            ValueError);
    CHECK_THROWS_CONTAINING(attention(q0, k0, v0, 1.0, {}, false, 0.0, Tensor::zeros({4, 5})),
                            "attention: bias is [4, 5], the scores are [2, 3, 4, 6]", ShapeError);
    CHECK_THROWS_CONTAINING(attention(q0, k0, v0, 1.0, {}, false, 0.0, Tensor::zeros({4, 6}, kInt64)),
                            "attention: bias is int64; an additive bias must be floating-point", DTypeError);
    CHECK_THROWS_CONTAINING(attention(q0, k0, v0, 1.0, {}, false, 0.0, randn64({4, 6}).requires_grad_()),
                            "attention: bias requires grad", ValueError);
  }
}

TEST_CASE("attention op/threads: batch shared out and entry by entry agree") {
  // A batch of 8 big enough to share out between threads, and the same batch one
  // entry at a time (a batch of 1 runs entry by entry, BLAS threading each product).
  manual_seed(12);
  Tensor q = randn64({8, 16, 32}), k = randn64({8, 24, 32}), v = randn64({8, 24, 16});
  check_against_composed(q, k, v, 0.2, {}, as_is);
  for (int64_t b : {0, 5}) {
    Tensor qb = q.select(0, b).unsqueeze(0), kb = k.select(0, b).unsqueeze(0), vb = v.select(0, b).unsqueeze(0);
    auto whole = attention(q, k, v, 0.2);
    auto one = attention(qb, kb, vb, 0.2);
    check_same(one.first.select(0, 0), whole.first.select(0, b), "entry's output");
    check_same(one.second.select(0, 0), whole.second.select(0, b), "entry's weights");
  }
  if (omp_get_max_threads() < 2) MESSAGE("one OpenMP thread: the shared-out path ran on a single thread");
}

TEST_CASE("attention op/float32 matches the composed ops") {
  manual_seed(13);
  Tensor q = Tensor::randn({4, 9, 8}), k = Tensor::randn({4, 7, 8}), v = Tensor::randn({4, 7, 5});
  auto got = attention(q, k, v, 0.35);
  auto want = composed(q, k, v, 0.35);
  CHECK(got.first.dtype() == kFloat32);
  check_values(got.first, want.first.to_vector<double>(), 1e-5);
  check_values(got.second, want.second.to_vector<double>(), 1e-5);
}

TEST_CASE("attention op/packed heads: one [.., T, 3C] projection, heads side by side") {
  // The reference: split qkv into q, k, v and each into H heads [B, H, T, D]
  // (reshape, transpose), attention(), merge the heads back to [B, T, C].
  manual_seed(15);
  const int64_t B = 2, T = 37, H = 3, D = 4, C = H * D;  // T > one causal block of the fast kernel
  const Tensor x0 = randn64({B, T, 3 * C});
  Tensor pad = Tensor::zeros({B, 1, 1, T});  // [B, 1, 1, T]: broadcast over heads and queries
  {
    NoGradGuard no_grad;
    pad.select(0, 1).slice(2, T - 5, T).fill_(1);
  }
  Tensor bias = randn64({H, T, T});  // a different additive bias per head
  for (int variant = 0; variant < 4; ++variant) {
    const bool causal = variant >= 1, masked = variant >= 2, dropping = variant == 3;
    CAPTURE(variant);
    const Tensor m = masked ? pad : Tensor(), bi = masked ? bias : Tensor();
    const double p = dropping ? 0.25 : 0.0;
    Tensor x = leaf_like(x0), rx = leaf_like(x0);
    manual_seed(41);
    auto got = attention_packed_heads(x, H, 0.3, m, causal, p, bi);
    auto heads = [&](int64_t j) {  // [B, T, C] third j -> [B, H, T, D]
      return rx.slice(2, j * C, (j + 1) * C).reshape({B, T, H, D}).transpose(1, 2);
    };
    manual_seed(41);
    auto [o, w] = attention(heads(0), heads(1), heads(2), 0.3, m, causal, p, bi);
    Tensor merged = o.transpose(1, 2).reshape({B, T, C});
    CHECK(got.first.shape() == Shape{B, T, C});
    CHECK(got.second.shape() == Shape{B, H, T, T});
    check_outputs_and_grads(got, {merged, w}, {}, {x}, {rx});
  }
  SUBCASE("gradcheck") {
    auto flat = [](const std::pair<Tensor, Tensor>& ow) { return cat({ow.first.flatten(), ow.second.flatten()}, 0); };
    CHECK(grad_ok([&](const TensorList& t) { return flat(attention_packed_heads(t[0], 2, 0.5, {}, true)); },
                  {randn64({2, 4, 12})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(attention_packed_heads(randn64({2, 4, 12}), 3, 0.5),
                            "attention_packed_heads: qkv is [2, 4, 12], num_heads 3; C = 4 must split into num_heads",
                            ValueError);
    CHECK_THROWS_CONTAINING(attention_packed_heads(randn64({2, 4, 12}), 2, 0.5, Tensor::zeros({3, 4, 4})),
                            "attention_packed_heads: mask is [3, 4, 4], the scores are [2, 2, 4, 4]", ShapeError);
  }
}

TEST_CASE("attention op/packed q, k, v") {
  manual_seed(14);
  const int64_t C = 3;
  Tensor qkv = leaf_like(randn64({2, 5, 3 * C}));
  Tensor q = leaf_like(qkv.slice(2, 0, C)), k = leaf_like(qkv.slice(2, C, 2 * C)),
         v = leaf_like(qkv.slice(2, 2 * C, 3 * C));
  SUBCASE("equals attention on the thirds; one gradient for qkv") {
    auto got = attention_packed(qkv, 0.4);
    auto want = attention(q, k, v, 0.4);
    check_same(got.first, want.first, "output");
    check_same(got.second, want.second, "weights");
    Tensor r = randn64({2, 5, C}), rw = randn64({2, 5, 5});
    ((got.first * r).sum() + (got.second * rw).sum()).backward();
    ((want.first * r).sum() + (want.second * rw).sum()).backward();
    check_same(qkv.grad(), cat({q.grad(), k.grad(), v.grad()}, 2), "d(qkv)");
  }
  SUBCASE("weights alone in the loss: v's third of the gradient is 0") {
    auto got = attention_packed(qkv, 0.4);
    got.second.pow(2).sum().backward();
    check_values(qkv.grad().slice(2, 2 * C, 3 * C), std::vector<double>(2 * 5 * C, 0.0));
  }
  SUBCASE("a packed tensor that is itself a view (rows wider than 3C)") {
    Tensor wide = leaf_like(randn64({2, 5, 3 * C + 2}));
    auto got = attention_packed(wide.slice(2, 1, 3 * C + 1), 0.4);
    auto want = composed(wide.slice(2, 1, C + 1), wide.slice(2, C + 1, 2 * C + 1), wide.slice(2, 2 * C + 1, 3 * C + 1), 0.4);
    check_same(got.first, want.first, "output");
    check_same(got.second, want.second, "weights");
  }
}

TEST_CASE("attention op/gradcheck") {
  manual_seed(15);
  auto flat = [](const std::pair<Tensor, Tensor>& ow) {
    return cat({ow.first.reshape({-1}), ow.second.reshape({-1})}, 0);
  };
  CHECK(grad_ok([&](const TensorList& x) { return flat(attention(x[0], x[1], x[2], 0.6)); },
                {randn64({2, 3, 4}), randn64({2, 5, 4}), randn64({2, 5, 3})}));
  CHECK(grad_ok([&](const TensorList& x) { return flat(attention_packed(x[0], 0.6)); }, {randn64({2, 4, 6})}));
}

TEST_CASE("attention op/keys attended at every step add their gradients into the engine's sum") {
  // A decoder's queries, one per step, attend over the same keys, which are the
  // values. From the second backward on, the engine offers the attention's
  // backward the sum of the keys' gradients so far (autograd/engine.h:
  // gradient_sum_of_input), and the kernel adds dk and dv into it. Checked
  // numerically in float64; in float32 against anomaly mode, where the engine
  // offers no sum; and by what the backward allocates, which shows the offer
  // was taken: dq only, instead of dq, dk and dv.
  manual_seed(21);
  auto run = [](const Tensor& queries, const Tensor& keys) {  // queries [steps, B, 1, D], keys [B, Tk, D]
    Tensor total = Tensor::zeros({}, keys.dtype());
    for (int64_t t = 0; t < queries.size(0); ++t) {
      Tensor out = attention(queries.select(0, t), keys, keys, 0.5).first;
      total = total + (out * out).sum();
    }
    return total;
  };
  CHECK(grad_ok([&](const TensorList& x) { return run(x[0], x[1]).reshape({1}); },
                {randn64({4, 2, 1, 3}), randn64({2, 5, 3})}));

  Tensor queries = Tensor::randn({6, 4, 1, 8}).requires_grad_(), keys = Tensor::randn({4, 7, 8}).requires_grad_();
  int64_t in_place_bytes = 0, fresh_bytes = 0;
  auto attention_backward_bytes = [](const profiler::Profiler& prof) {
    int64_t bytes = 0;
    for (const profiler::Row& row : prof.rows())
      if (row.kind == profiler::Kind::Backward && row.name == "attention") bytes += row.bytes;
    return bytes;
  };
  {
    profiler::Profiler prof;
    run(queries, keys).backward();
    prof.stop();
    in_place_bytes = attention_backward_bytes(prof);
  }
  const std::vector<double> dq = queries.grad().to_vector<double>(), dk = keys.grad().to_vector<double>();
  queries.zero_grad();
  keys.zero_grad();
  {
    DetectAnomalyGuard anomaly;
    profiler::Profiler prof;
    run(queries, keys).backward();
    prof.stop();
    fresh_bytes = attention_backward_bytes(prof);
  }
  check_values(queries.grad(), dq, 1e-5);
  check_values(keys.grad(), dk, 1e-5);
  // Six backwards, each with dq [4, 1, 8]; fresh, each also dk and dv [4, 7, 8]
  // (the first backward, offered no sum yet, makes them in both runs).
  const int64_t dq_bytes = 4 * 8 * 4, dkv_bytes = 2 * 4 * 7 * 8 * 4;
  CHECK(fresh_bytes == 6 * (dq_bytes + dkv_bytes));
  CHECK(in_place_bytes == 6 * dq_bytes + dkv_bytes);
}

TEST_CASE("attention op/empty sizes go through the composed ops") {
  // No keys: nothing to attend to, the output is 0. D = 0: the scores are all 0,
  // so the weights are uniform. No queries: empty results.
  auto [o1, w1] = attention(Tensor::ones({2, 3, 4}), Tensor::zeros({2, 0, 4}), Tensor::zeros({2, 0, 5}), 0.5);
  CHECK(o1.shape() == Shape{2, 3, 5});
  check_values(o1, std::vector<double>(30, 0.0));
  CHECK(w1.shape() == Shape{2, 3, 0});
  auto [o2, w2] = attention(Tensor::zeros({1, 2, 0}), Tensor::zeros({1, 4, 0}), Tensor::ones({1, 4, 1}), 0.5);
  check_values(w2, std::vector<double>(8, 0.25));
  auto [o3, w3] = attention(Tensor::zeros({2, 0, 4}), Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 3, 5}), 0.5);
  CHECK(o3.shape() == Shape{2, 0, 5});
  auto [o4, w4] = attention_packed(Tensor::zeros({2, 3, 0}), 0.5);
  CHECK(o4.shape() == Shape{2, 3, 0});
  check_values(w4, std::vector<double>(18, 1.0 / 3));
}

TEST_CASE("attention op/autograd bookkeeping") {
  manual_seed(16);
  Tensor q = randn64({2, 3, 4}).requires_grad_(), k = randn64({2, 3, 4}), v = randn64({2, 3, 4});
  SUBCASE("an in-place write to the weights before backward is caught") {
    auto [out, w] = attention(q, k, v, 0.5);
    {
      NoGradGuard guard;  // (heed refuses in-place writes it would have to record)
      w.mul_(2.0);
    }
    CHECK_THROWS_CONTAINING(out.sum().backward(), "modified by an in-place", AutogradError);
  }
  SUBCASE("no graph under NoGradGuard, nor for inputs that need no gradient") {
    {
      NoGradGuard guard;
      auto [out, w] = attention(q, k, v, 0.5);
      CHECK_FALSE(out.grad_fn());
      CHECK_FALSE(w.grad_fn());
    }
    auto [out, w] = attention(q.detach(), k, v, 0.5);
    CHECK_FALSE(out.grad_fn());
  }
  SUBCASE("the two nodes die with their outputs (no cycle through the saved weights)") {
    std::weak_ptr<Node> out_node, w_node;
    {
      auto [out, w] = attention(q, k, v, 0.5);
      out_node = out.grad_fn();
      w_node = w.grad_fn();
      CHECK(out_node.lock());
      CHECK(w_node.lock());
    }
    CHECK(out_node.expired());
    CHECK(w_node.expired());
  }
  SUBCASE("only the inputs that need a gradient get one") {
    auto [out, w] = attention(q, k, v, 0.5);
    (out.sum() + w.sum()).backward();
    CHECK(q.grad().defined());
    CHECK_FALSE(k.grad().defined());
  }
  SUBCASE("the weights need no node when only v needs a gradient (they depend on q and k)") {
    Tensor v2 = v.clone().requires_grad_();
    auto [out, w] = attention(q.detach(), k, v2, 0.5);
    CHECK(out.grad_fn());
    CHECK_FALSE(w.grad_fn());
    CHECK_FALSE(w.requires_grad());
  }
}

TEST_CASE("attention op/errors") {
  Tensor q = Tensor::zeros({2, 3, 4}), k = Tensor::zeros({2, 5, 4}), v = Tensor::zeros({2, 5, 6});
  CHECK_THROWS_CONTAINING(attention(Tensor::zeros({4}), Tensor::zeros({4}), Tensor::zeros({4}), 1.0),
                          "attention: q is [4], k [4], v [4]; they must have one number of dims, at least 2",
                          ShapeError);
  CHECK_THROWS_CONTAINING(attention(q, Tensor::zeros({5, 4}), v, 1.0), "one number of dims", ShapeError);
  CHECK_THROWS_CONTAINING(attention(q, Tensor::zeros({3, 5, 4}), Tensor::zeros({3, 5, 6}), 1.0),
                          "leading (batch) dims must be equal", ShapeError);
  CHECK_THROWS_CONTAINING(attention(q, Tensor::zeros({2, 5, 3}), v, 1.0), "q's last dim (4) must equal k's (3)",
                          ShapeError);
  CHECK_THROWS_CONTAINING(attention(q, k, Tensor::zeros({2, 4, 6}), 1.0), "one value per key (dim -2: 5 vs 4)",
                          ShapeError);
  CHECK_THROWS_AS(attention(q, k.to(kFloat64), v, 1.0), DTypeError);
  CHECK_THROWS_AS(attention(q.to(kInt64), k.to(kInt64), v.to(kInt64), 1.0), DTypeError);
  CHECK_THROWS_CONTAINING(attention(q, k, v, std::nan("")), "attention: scale is nan; it must be finite",
                          ValueError);
  CHECK_THROWS_CONTAINING(attention_packed(Tensor::zeros({2, 3, 7}), 1.0),
                          "attention_packed: qkv is [2, 3, 7]; it must be [.., T, 3C]", ShapeError);
  CHECK_THROWS_CONTAINING(attention_packed(Tensor::zeros({6}), 1.0), "attention_packed: qkv is [6]", ShapeError);
  CHECK_THROWS_AS(attention_packed(Tensor::zeros({2, 3, 6}, kInt64), 1.0), DTypeError);
}
