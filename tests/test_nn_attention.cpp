// Attention layers (nn/attention.h, nn/multihead_attention.h): hand-worked
// values, PyTorch parity from tests/reference/attention.py (forward, and the
// gradients of inputs and parameters), float64 gradchecks, masks, and errors.
//
// Mask convention under test: nonzero = hidden. The script saves every mask
// as float 0/1 in that convention (PyTorch's MultiheadAttention bool masks
// mean the same; its manual single-head references use masked_fill(True)).
#include <cmath>
#include <limits>

#include "heed/nn/attention.h"
#include "heed/nn/multihead_attention.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
using heed::nn::AttentionResult;

namespace {

// ---- fixtures -------------------------------------------------------------------
Tensor fx(const std::string& key) { return fixture("attention.safetensors", key); }
// A leaf copy of a fixture tensor that collects its gradient.
Tensor leaf(const std::string& key) { return fx(key).clone().detach().requires_grad_(); }
// "<name>.params.*" entries, with the prefix removed: a state dict for the layer.
StateDict params_of(const std::string& name) { return fixture_params("attention.safetensors", name); }

// The script's loss, (out*R).sum() + (weights*RW).sum(), backward; then every
// result compared with PyTorch's: output, weights, the inputs' and the
// parameters' gradients. float32 on both sides, rtol 1e-5 (atol 1e-6 for
// entries near 0, where a relative error means nothing).
void check_against_pytorch(const std::string& name, const AttentionResult& r,
                           const std::vector<std::pair<std::string, Tensor>>& inputs,
                           const nn::Module* module = nullptr) {
  check_close(name + " output", r.output, fx(name + ".out"));
  check_close(name + " weights", r.weights, fx(name + ".weights"));
  Tensor loss = (r.output * fx(name + ".R")).sum() + (r.weights * fx(name + ".RW")).sum();
  loss.backward();
  for (const auto& [input, t] : inputs)
    check_close(name + " grad " + input, t.grad(), fx(name + ".grad." + input));
  if (!module) return;
  for (const auto& [param, p] : module->named_parameters())
    check_close(name + " grad " + param, p.grad(), fx(name + ".grad.params." + param));
}

// Output and weights in one flat tensor, so one gradcheck covers both paths.
Tensor flat(const AttentionResult& r) { return cat({r.output.reshape({-1}), r.weights.reshape({-1})}, 0); }

bool has_nan(const Tensor& t) {
  for (double v : t.to_vector<double>())
    if (std::isnan(v)) return true;
  return false;
}

const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// ==== scaled_dot_product_attention ====================================================

TEST_CASE("attention/worked example from the seed article") {
  // Two keys whose scores are 1 and 0.5 with d_k = 1 (so no scaling):
  //   w1 = e / (e + e^0.5) = 0.6225,  w2 = e^0.5 / (e + e^0.5) = 0.3775.
  Tensor q({{1.0}});                   // [Tq=1, D=1]
  Tensor k({{1.0}, {0.5}});            // [Tk=2, D=1]: q.k = 1 and 0.5
  Tensor v({{1.0, 0.0}, {0.0, 1.0}});  // one-hot values: the output is the weights themselves
  auto [out, weights] = nn::scaled_dot_product_attention(q, k, v);
  const double e = std::exp(1.0), w1 = e / (e + std::sqrt(e));
  CHECK(w1 == doctest::Approx(0.6225).epsilon(1e-4));
  check_values(weights, {w1, 1 - w1});
  check_values(out, {w1, 1 - w1});
  CHECK(weights.at({0, 0}) == doctest::Approx(0.6225).epsilon(1e-4));
  CHECK(weights.at({0, 1}) == doctest::Approx(0.3775).epsilon(1e-4));

  // The article's context step: both values are the same vector, so the
  // weighted average is that vector whatever the weights.
  auto [context, w] = nn::scaled_dot_product_attention(q, k, Tensor({{3.0, -1.0}, {3.0, -1.0}}));
  check_values(context, {3.0, -1.0});
}

TEST_CASE("attention/scaled_dot_product_attention values") {
  SUBCASE("scores are divided by sqrt(D), not D") {
    // D = 4: q.k0 = 4 -> 4 / sqrt(4) = 2;  q.k1 = 0 -> 0.  (Dividing by D would give 1 and 0.)
    Tensor q({{1.0, 1.0, 1.0, 1.0}});
    Tensor k({{1.0, 1.0, 1.0, 1.0}, {0.0, 0.0, 0.0, 0.0}});
    Tensor v({{10.0}, {20.0}});
    auto [out, w] = nn::scaled_dot_product_attention(q, k, v);
    const double w0 = std::exp(2.0) / (std::exp(2.0) + 1);
    check_values(w, {w0, 1 - w0});
    check_values(out, {10 * w0 + 20 * (1 - w0)});
  }
  SUBCASE("softmax is over the keys: every row sums to 1") {
    manual_seed(1);
    auto [out, w] = nn::scaled_dot_product_attention(Tensor::randn({2, 3, 4}), Tensor::randn({2, 5, 4}),
                                                     Tensor::randn({2, 5, 6}));
    CHECK(out.shape() == Shape{2, 3, 6});
    CHECK(w.shape() == Shape{2, 3, 5});
    check_values(w.sum({-1}), std::vector<double>(6, 1.0), 1e-6);
  }
  SUBCASE("batch dims broadcast like matmul") {
    manual_seed(2);
    Tensor q = Tensor::randn({2, 3, 4, 5}), k = Tensor::randn({3, 6, 5}), v = Tensor::randn({1, 6, 2});
    auto [out, w] = nn::scaled_dot_product_attention(q, k, v);
    CHECK(out.shape() == Shape{2, 3, 4, 2});
    CHECK(w.shape() == Shape{2, 3, 4, 6});
    // Batch (1, 2) against the same attention done on the expanded tensors.
    auto [out12, w12] =
        nn::scaled_dot_product_attention(q.select(0, 1).select(0, 2), k.select(0, 2), v.select(0, 0));
    check_values(out.select(0, 1).select(0, 2), out12.to_vector<double>(), 1e-6);
    check_values(w.select(0, 1).select(0, 2), w12.to_vector<double>(), 1e-6);
  }
}

TEST_CASE("attention/scaled_dot_product_attention matches PyTorch") {
  SUBCASE("with a mask broadcast over heads") {
    Tensor q = leaf("sdpa_mask.q"), k = leaf("sdpa_mask.k"), v = leaf("sdpa_mask.v");
    auto r = nn::scaled_dot_product_attention(q, k, v, fx("sdpa_mask.mask"));
    check_against_pytorch("sdpa_mask", r, {{"q", q}, {"k", k}, {"v", v}});
  }
  SUBCASE("causal") {
    Tensor q = leaf("sdpa_causal.q"), k = leaf("sdpa_causal.k"), v = leaf("sdpa_causal.v");
    auto r = nn::scaled_dot_product_attention(q, k, v, {}, /*causal=*/true);
    check_against_pytorch("sdpa_causal", r, {{"q", q}, {"k", k}, {"v", v}});
  }
}

TEST_CASE("attention/masks: nonzero = hidden") {
  manual_seed(3);
  Tensor q = Tensor::randn({2, 3, 4}), k = Tensor::randn({2, 4, 4}), v = Tensor::randn({2, 4, 2});
  auto [out0, w0] = nn::scaled_dot_product_attention(q, k, v);

  SUBCASE("a hidden key gets weight exactly 0, the others renormalise") {
    Tensor mask({0.0, 1.0, 0.0, 0.0});  // [Tk]: hide key 1 from every query
    auto [out, w] = nn::scaled_dot_product_attention(q, k, v, mask);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < 3; ++i) {
        CHECK(w.at({b, i, 1}) == 0.0);
        double kept = 1 - w0.at({b, i, 1});
        for (int64_t j : {0, 2, 3}) CHECK(w.at({b, i, j}) == doctest::Approx(w0.at({b, i, j}) / kept));
      }
  }
  SUBCASE("any nonzero value hides, in any dtype: -1, 2, -inf, int64") {
    auto [ref, wref] = nn::scaled_dot_product_attention(q, k, v, Tensor({0.0, 1.0, 1.0, 0.0}));
    for (Tensor m : {Tensor({0.0, -1.0, 2.0, 0.0}), Tensor({0.0, -kInf, -kInf, 0.0}),
                     Tensor::from_vector(std::vector<int64_t>{0, 1, 5, 0}, {4}),
                     Tensor({0.0, 1.0, 1.0, 0.0}, kFloat64)}) {
      auto [out, w] = nn::scaled_dot_product_attention(q, k, v, m);
      check_values(w, wref.to_vector<double>(), 1e-7);
      check_values(out, ref.to_vector<double>(), 1e-7);
    }
  }
  SUBCASE("a padding mask [B, 1, Tk] hides different keys per batch") {
    Tensor mask = Tensor({{0.0, 0.0, 0.0, 1.0}, {0.0, 0.0, 1.0, 1.0}}).reshape({2, 1, 4});
    auto [out, w] = nn::scaled_dot_product_attention(q, k, v, mask);
    for (int64_t i = 0; i < 3; ++i) {
      CHECK(w.at({0, i, 3}) == 0.0);
      CHECK(w.at({0, i, 2}) > 0.0);
      CHECK(w.at({1, i, 2}) == 0.0);
      CHECK(w.at({1, i, 3}) == 0.0);
    }
  }
  SUBCASE("causal hides key j > i, and combines with a mask") {
    Tensor x = Tensor::randn({3, 4});
    auto [out, w] = nn::scaled_dot_product_attention(x, x, x, {}, /*causal=*/true);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j) CHECK((w.at({i, j}) == 0.0) == (j > i));
    CHECK(w.at({0, 0}) == doctest::Approx(1.0));  // the first query sees only itself
    // causal is the same as the explicit upper-triangle mask
    auto [out2, w2] = nn::scaled_dot_product_attention(x, x, x, triu(Tensor::ones({3, 3}), 1));
    check_values(w, w2.to_vector<double>(), 1e-7);
    // with a mask too: hide key 0 as well; query 0 then sees nothing (see below), query 1 only key 1
    auto [out3, w3] = nn::scaled_dot_product_attention(x, x, x, Tensor({1.0, 0.0, 0.0}), true);
    check_values(w3.select(0, 1), {0.0, 1.0, 0.0});
    check_values(w3.select(0, 2).slice(0, 0, 1), {0.0});
  }
  SUBCASE("a query with every key hidden gets weights 0 and output 0, not NaN") {
    // PyTorch returns NaN for such a row (softmax of all -inf is 0/0); heed
    // returns zeros so a padded query cannot poison the loss and every gradient.
    Tensor qq = q.clone().detach().requires_grad_(), kk = k.clone().detach().requires_grad_(),
           vv = v.clone().detach().requires_grad_();
    Tensor mask = Tensor::zeros({2, 3, 4});
    {
      NoGradGuard g;
      mask.select(0, 1).select(0, 0).fill_(1);  // batch 1, query 0: every key hidden
    }
    auto [out, w] = nn::scaled_dot_product_attention(qq, kk, vv, mask);
    check_values(w.select(0, 1).select(0, 0), {0, 0, 0, 0});
    check_values(out.select(0, 1).select(0, 0), {0, 0});
    // The other rows are untouched.
    check_values(out.select(0, 0), out0.select(0, 0).to_vector<double>(), 1e-7);
    check_values(w.select(0, 1).slice(0, 1, 3), w0.select(0, 1).slice(0, 1, 3).to_vector<double>(), 1e-7);
    (out.sum() + w.sum()).backward();
    CHECK_FALSE(has_nan(qq.grad()));
    CHECK_FALSE(has_nan(kk.grad()));
    CHECK_FALSE(has_nan(vv.grad()));
    check_values(qq.grad().select(0, 1).select(0, 0), {0, 0, 0, 0});  // the hidden query gets no gradient
  }
}

TEST_CASE("attention/scaled_dot_product_attention gradcheck") {
  manual_seed(4);
  auto sdpa = [](const Tensor& mask, bool causal) {
    return [mask, causal](const TensorList& x) {
      return flat(nn::scaled_dot_product_attention(x[0], x[1], x[2], mask, causal));
    };
  };
  SUBCASE("plain") {
    CHECK(grad_ok(sdpa({}, false), {randn64({2, 3, 4}), randn64({2, 5, 4}), randn64({2, 5, 3})}));
  }
  SUBCASE("mask and causal") {
    Tensor mask = Tensor({{0.0, 0.0, 1.0, 0.0}, {1.0, 0.0, 0.0, 0.0}}).reshape({2, 1, 4});
    CHECK(grad_ok(sdpa(mask, true), {randn64({2, 4, 3}), randn64({2, 4, 3}), randn64({2, 4, 2})}));
  }
  SUBCASE("broadcast batch dims") {
    CHECK(grad_ok(sdpa({}, false), {randn64({2, 2, 3, 4}), randn64({2, 1, 5, 4}), randn64({5, 3})}));
  }
  SUBCASE("non-contiguous inputs (a transposed k, a sliced v)") {
    Tensor kt = randn64({2, 4, 5});     // will be transposed to [2, 5, 4]
    Tensor vwide = randn64({2, 5, 6});  // sliced to [2, 5, 3], every other column
    CHECK(grad_ok(
        [](const TensorList& x) {
          return flat(nn::scaled_dot_product_attention(x[0], x[1].transpose(1, 2), x[2].slice(2, 0, 6, 2)));
        },
        {randn64({2, 3, 4}), kt, vwide}));
  }
  SUBCASE("a fully hidden row") {
    Tensor mask({{1.0, 1.0, 1.0}, {0.0, 1.0, 0.0}});  // query 0 sees nothing
    CHECK(grad_ok(sdpa(mask, false), {randn64({2, 2}), randn64({3, 2}), randn64({3, 2})}));
  }
}

TEST_CASE("attention/scaled_dot_product_attention dropout") {
  manual_seed(5);
  Tensor q = Tensor::randn({2, 4, 3}), k = Tensor::randn({2, 6, 3}), v = Tensor::randn({2, 6, 2});
  auto [out0, w0] = nn::scaled_dot_product_attention(q, k, v);
  auto [out, w] = nn::scaled_dot_product_attention(q, k, v, {}, false, 0.5);
  // Each weight is dropped (0) or kept and scaled by 1 / (1 - p) = 2.
  std::vector<double> got = w.to_vector<double>(), plain = w0.to_vector<double>();
  int dropped = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == 0)
      ++dropped;
    else
      CHECK(got[i] == doctest::Approx(2 * plain[i]));
  }
  CHECK(dropped > 0);
  CHECK(dropped < static_cast<int>(got.size()));
  // The output uses the dropped weights.
  check_values(out, matmul(w, v).to_vector<double>(), 1e-6);
}

TEST_CASE("attention/scaled_dot_product_attention empty sizes") {
  // No queries, or no keys: nothing to attend to, no error and no NaN.
  auto [o1, w1] = nn::scaled_dot_product_attention(Tensor::zeros({2, 0, 3}), Tensor::zeros({2, 4, 3}),
                                                   Tensor::zeros({2, 4, 5}), Tensor::zeros({4}), true);
  CHECK(o1.shape() == Shape{2, 0, 5});
  CHECK(w1.shape() == Shape{2, 0, 4});
  auto [o2, w2] = nn::scaled_dot_product_attention(Tensor::ones({2, 3, 3}), Tensor::zeros({2, 0, 3}),
                                                   Tensor::zeros({2, 0, 5}));
  CHECK(o2.shape() == Shape{2, 3, 5});
  check_values(o2, std::vector<double>(30, 0.0));
  // D = 0: every score is the empty dot product 0, so the weights are uniform.
  auto [o3, w3] = nn::scaled_dot_product_attention(Tensor::zeros({1, 2, 0}), Tensor::zeros({1, 4, 0}),
                                                   Tensor::ones({1, 4, 1}));
  check_values(w3, std::vector<double>(8, 0.25));
}

TEST_CASE("attention/scaled_dot_product_attention errors") {
  Tensor q = Tensor::zeros({2, 3, 4}), k = Tensor::zeros({2, 5, 4}), v = Tensor::zeros({2, 5, 6});
  CHECK_THROWS_CONTAINING(nn::scaled_dot_product_attention(Tensor::zeros({4}), k, v), "at least 2 dims",
                          ShapeError);
  CHECK_THROWS_CONTAINING(nn::scaled_dot_product_attention(q, Tensor::zeros({2, 5, 3}), v),
                          "q's last dim (4) must equal k's (3)", ShapeError);
  CHECK_THROWS_CONTAINING(nn::scaled_dot_product_attention(q, k, Tensor::zeros({2, 4, 6})),
                          "one value per key (dim -2: 5 vs 4)", ShapeError);
  CHECK_THROWS_CONTAINING(
      nn::scaled_dot_product_attention(q, Tensor::zeros({3, 5, 4}), Tensor::zeros({3, 5, 6})),
      "batch dims (all but the last two) must broadcast", ShapeError);
  CHECK_THROWS_CONTAINING(nn::scaled_dot_product_attention(q, k, v, Tensor::zeros({4, 5})),
                          "mask is [4, 5], the scores are [2, 3, 5]", ShapeError);
  CHECK_THROWS_CONTAINING(nn::scaled_dot_product_attention(q, k, v, Tensor::zeros({1, 2, 3, 5})),
                          "must broadcast to the scores' shape", ShapeError);
  CHECK_THROWS_AS(nn::scaled_dot_product_attention(q, k.to(kFloat64), v), DTypeError);
  CHECK_THROWS_AS(nn::scaled_dot_product_attention(q.to(kInt64), k.to(kInt64), v.to(kInt64)), DTypeError);
  CHECK_THROWS_CONTAINING(nn::scaled_dot_product_attention(q, k, v, {}, false, 1.0), "dropout_p is 1",
                          ValueError);
  CHECK_THROWS_CONTAINING(nn::masked_softmax(Tensor::zeros({3})), "at least 2 dims", ShapeError);
  CHECK_THROWS_CONTAINING(nn::masked_softmax(Tensor::zeros({3, 4}), Tensor::zeros({3})),
                          "masked_softmax: mask is [3]", ShapeError);
}

// ==== score functions as layers ========================================================

TEST_CASE("attention/DotAttention") {
  manual_seed(6);
  nn::DotAttention dot;
  CHECK(dot.num_parameters() == 0);
  Tensor q = Tensor::randn({2, 3, 4}), k = Tensor::randn({2, 5, 4}), v = Tensor::randn({2, 5, 2});
  Tensor mask = Tensor({0.0, 0.0, 1.0, 0.0, 0.0});
  SUBCASE("values: unscaled q.k, which is SDPA with q scaled by sqrt(D)") {
    auto [out, w] = dot(q, k, v, mask);
    auto [out2, w2] = nn::scaled_dot_product_attention(q * 2.0, k, v, mask);  // sqrt(4) = 2
    check_values(w, w2.to_vector<double>(), 1e-6);
    check_values(out, out2.to_vector<double>(), 1e-6);
    CHECK(w.at({1, 2, 2}) == 0.0);
  }
  SUBCASE("gradcheck") {
    CHECK(grad_ok([&](const TensorList& x) { return flat(dot(x[0], x[1], x[2], mask)); },
                  {randn64({2, 3, 4}), randn64({2, 5, 4}), randn64({2, 5, 2})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(dot(q, Tensor::zeros({2, 5, 3}), v),
                            "DotAttention: keys is [2, 5, 3]; its last dim must be", ShapeError);
    CHECK_THROWS_CONTAINING(dot(q.select(0, 0), k, v), "each must be 3-D", ShapeError);
    CHECK_THROWS_CONTAINING(dot(q, k, Tensor::zeros({3, 5, 2})), "batch sizes (dim 0) must be equal",
                            ShapeError);
    CHECK_THROWS_CONTAINING(dot(q, k, Tensor::zeros({2, 4, 2})), "one value per key (dim 1: 5 vs 4)",
                            ShapeError);
    CHECK_THROWS_CONTAINING(dot(q, k, v, Tensor::zeros({4})), "DotAttention: mask is [4]", ShapeError);
  }
}

TEST_CASE("attention/GeneralAttention") {
  manual_seed(7);
  nn::GeneralAttention general(4, 3);
  auto params = general.named_parameters();
  REQUIRE(params.size() == 1);
  CHECK(params[0].first == "weight");
  CHECK(params[0].second.shape() == Shape{4, 3});
  CHECK(abs(general.weight).max().item() <= 1 / std::sqrt(3.0));  // U(-1/sqrt(Dk), 1/sqrt(Dk))

  SUBCASE("matches PyTorch (q^T W k written out)") {
    general.load_state_dict(params_of("general"));
    Tensor q = leaf("general.query"), k = leaf("general.keys"), v = leaf("general.values");
    check_against_pytorch("general", general(q, k, v), {{"query", q}, {"keys", k}, {"values", v}}, &general);
  }
  SUBCASE("gradcheck, float64 (inputs and the weight)") {
    general.to(kFloat64);
    Tensor mask = Tensor({{0.0, 1.0, 0.0}, {0.0, 0.0, 0.0}}).reshape({2, 1, 3});
    CHECK(grad_ok([&](const TensorList& x) { return flat(general(x[0], x[1], x[2], mask)); },
                  {randn64({2, 2, 4}), randn64({2, 3, 3}), randn64({2, 3, 5})}));
    Tensor q = randn64({2, 2, 4}), k = randn64({2, 3, 3}), v = randn64({2, 3, 5});
    CHECK(module_gradcheck(general, [&] { return flat(general(q, k, v, mask)); }));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(nn::GeneralAttention(0, 3),
                            "GeneralAttention: query_dim is 0; it must be positive", ValueError);
    Tensor q = Tensor::zeros({2, 2, 4}), k = Tensor::zeros({2, 3, 3}), v = Tensor::zeros({2, 3, 5});
    CHECK_THROWS_CONTAINING(general(Tensor::zeros({2, 2, 3}), k, v), "its last dim must be query_dim (4)",
                            ShapeError);
    CHECK_THROWS_CONTAINING(general(q, Tensor::zeros({2, 3, 4}), v), "its last dim must be key_dim (3)",
                            ShapeError);
  }
}

TEST_CASE("attention/AdditiveAttention") {
  manual_seed(8);
  nn::AdditiveAttention additive(3, 5, 6);
  std::vector<std::string> names;
  for (auto& [n, p] : additive.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"query_proj.weight", "key_proj.weight", "score_proj.weight"});
  CHECK(additive.score_proj->weight.shape() == Shape{1, 6});  // Bahdanau's v^T

  SUBCASE("matches PyTorch (v^T tanh(W_q q + W_k k) written out)") {
    additive.load_state_dict(params_of("additive"));
    Tensor q = leaf("additive.query"), k = leaf("additive.keys"), v = leaf("additive.values");
    auto r = additive(q, k, v, fx("additive.mask"));
    check_against_pytorch("additive", r, {{"query", q}, {"keys", k}, {"values", v}}, &additive);
  }
  SUBCASE("values by hand: one query, two keys, A = 1") {
    // W_q = W_k = 1, v = 2: scores 2 tanh(0.5 + 0.5) and 2 tanh(0.5 - 0.5) = 0.
    nn::AdditiveAttention tiny(1, 1, 1);
    StateDict w;
    w.set("query_proj.weight", Tensor({{1.0}}));
    w.set("key_proj.weight", Tensor({{1.0}}));
    w.set("score_proj.weight", Tensor({{2.0}}));
    tiny.load_state_dict(w);
    Tensor query = Tensor({0.5}).reshape({1, 1, 1}), keys = Tensor({0.5, -0.5}).reshape({1, 2, 1});
    auto [out, weights] = tiny(query, keys, Tensor({1.0, 0.0}).reshape({1, 2, 1}));
    const double s = std::exp(2 * std::tanh(1.0)), w0 = s / (s + 1);
    check_values(weights, {w0, 1 - w0});
    check_values(out, {w0});
  }
  SUBCASE("gradcheck, float64") {
    additive.to(kFloat64);
    Tensor mask = Tensor({{0.0, 0.0, 0.0, 1.0}, {0.0, 1.0, 0.0, 0.0}}).reshape({2, 1, 4});
    CHECK(grad_ok([&](const TensorList& x) { return flat(additive(x[0], x[1], x[2], mask)); },
                  {randn64({2, 3, 3}), randn64({2, 4, 5}), randn64({2, 4, 2})}));
    Tensor q = randn64({2, 3, 3}), k = randn64({2, 4, 5}), v = randn64({2, 4, 2});
    CHECK(module_gradcheck(additive, [&] { return flat(additive(q, k, v, mask)); }));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(nn::AdditiveAttention(3, 5, 0), "attention_dim is 0", ValueError);
    Tensor q = Tensor::zeros({2, 3, 3}), k = Tensor::zeros({2, 4, 5}), v = Tensor::zeros({2, 4, 2});
    CHECK_THROWS_CONTAINING(additive(q, Tensor::zeros({2, 4, 3}), v), "AdditiveAttention: keys is [2, 4, 3]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(additive(q, k, v, Tensor::zeros({2, 3, 5})),
                            "AdditiveAttention: mask is [2, 3, 5]", ShapeError);
  }
}

// ==== self- and cross-attention ===========================================================

TEST_CASE("attention/SelfAttention") {
  manual_seed(9);
  nn::SelfAttention self(6);
  std::vector<std::string> names;
  for (auto& [n, p] : self.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias",
                                          "v_proj.weight", "v_proj.bias", "out_proj.weight",
                                          "out_proj.bias"});

  SUBCASE("matches PyTorch (causal)") {
    self.load_state_dict(params_of("self"));
    Tensor x = leaf("self.x");
    check_against_pytorch("self", self(x, {}, /*causal=*/true), {{"x", x}}, &self);
  }
  SUBCASE("matches PyTorch without a mask (B*T >= 2C: v_proj folded into out_proj)") {
    nn::SelfAttention plain(5);
    plain.load_state_dict(params_of("self_plain"));
    Tensor x = leaf("self_plain.x");  // [2, 6, 5]: B*T = 12 >= 10
    check_against_pytorch("self_plain", plain(x), {{"x", x}}, &plain);
  }
  SUBCASE("the fold changes nothing but rounding, with and without bias, with and without causal") {
    // The layer against itself written out with ops, unfolded, in float64:
    // B*T = 2 (below 2C = 8, no fold) and B*T = 8 and 24 (folded).
    for (bool causal : {false, true})
    for (bool bias : {true, false}) {
      for (int64_t T : {1, 4, 12}) {
        CAPTURE(causal);
        CAPTURE(bias);
        CAPTURE(T);
        nn::SelfAttention layer(4, bias);
        layer.to(kFloat64);
        Tensor x = randn64({2, T, 4}).requires_grad_();
        auto [out, weights] = layer(x, {}, causal);
        // R weights the output: every entry of dL/dout differs.
        Tensor R = randn64({2, T, 4});
        (out * R).sum().backward();
        // clones: zero_grad below may zero the gradients in place
        const TensorList grads = {x.grad().clone(), layer.q_proj->weight.grad().clone(),
                                  layer.v_proj->weight.grad().clone(), layer.out_proj->weight.grad().clone()};
        const Tensor grad_bv = bias ? layer.v_proj->bias.grad().clone() : Tensor();
        const Tensor grad_bo = bias ? layer.out_proj->bias.grad().clone() : Tensor();
        layer.zero_grad();
        x.zero_grad();
        Tensor q = (*layer.q_proj)(x), k = (*layer.k_proj)(x), v = (*layer.v_proj)(x);
        auto [context, w2] = nn::scaled_dot_product_attention(q, k, v, {}, causal);
        Tensor out2 = (*layer.out_proj)(context);
        (out2 * R).sum().backward();
        check_values(out, out2.to_vector<double>(), 1e-12);
        check_values(weights, w2.to_vector<double>(), 1e-12);
        const TensorList grads2 = {x.grad(), layer.q_proj->weight.grad(), layer.v_proj->weight.grad(),
                                   layer.out_proj->weight.grad()};
        for (size_t i = 0; i < grads.size(); ++i) check_values(grads[i], grads2[i].to_vector<double>(), 1e-12);
        if (bias) {
          check_values(grad_bv, layer.v_proj->bias.grad().to_vector<double>(), 1e-12);
          check_values(grad_bo, layer.out_proj->bias.grad().to_vector<double>(), 1e-12);
        }
      }
    }
  }
  SUBCASE("gradcheck, float64, without a mask (folded)") {
    self.to(kFloat64);
    Tensor x = randn64({2, 6, 6});  // B*T = 12 >= 2C
    CHECK(grad_ok([&](const TensorList& in) { return flat(self(in[0])); }, {x}));
    CHECK(module_gradcheck(self, [&] { return flat(self(x)); }));
  }
  SUBCASE("gradcheck, float64, with a padding mask") {
    self.to(kFloat64);
    Tensor mask = Tensor({{0.0, 0.0, 0.0, 1.0}, {0.0, 0.0, 1.0, 1.0}}).reshape({2, 1, 4});
    CHECK(grad_ok([&](const TensorList& x) { return flat(self(x[0], mask)); }, {randn64({2, 4, 6})}));
    Tensor x = randn64({2, 4, 6});
    CHECK(module_gradcheck(self, [&] { return flat(self(x, mask, true)); }));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(nn::SelfAttention(0), "embed_dim is 0", ValueError);
    CHECK_THROWS_CONTAINING(self(Tensor::zeros({2, 4, 5})),
                            "SelfAttention: x is [2, 4, 5]; it must be [B, T, C]", ShapeError);
    CHECK_THROWS_CONTAINING(self(Tensor::zeros({4, 6})), "SelfAttention: x is [4, 6]", ShapeError);
    CHECK_THROWS_CONTAINING(self(Tensor::zeros({2, 4, 6}), Tensor::zeros({2, 4, 3})),
                            "SelfAttention: mask is", ShapeError);
  }
}

TEST_CASE("attention/CrossAttention") {
  manual_seed(10);
  nn::CrossAttention cross(3, 5, 4, /*concat_input=*/true);
  std::vector<std::string> names;
  for (auto& [n, p] : cross.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias",
                                          "v_proj.weight", "v_proj.bias", "out_proj.weight",
                                          "out_proj.bias"});
  CHECK(cross.k_proj->weight.shape() == Shape{4, 5});

  SUBCASE("matches PyTorch (concat(a, attention), padding mask on b)") {
    cross.load_state_dict(params_of("cross"));
    Tensor a = leaf("cross.a"), b = leaf("cross.b");
    check_against_pytorch("cross", cross(a, b, fx("cross.mask")), {{"a", a}, {"b", b}}, &cross);
  }
  SUBCASE("concat_input: the first Ca features are a itself") {
    Tensor a = Tensor::randn({2, 3, 3}), b = Tensor::randn({2, 7, 5});
    auto [out, w] = cross(a, b);
    CHECK(out.shape() == Shape{2, 3, 3 + 4});
    CHECK(w.shape() == Shape{2, 3, 7});
    check_values(out.slice(2, 0, 3), a.to_vector<double>(), 1e-12);
    nn::CrossAttention plain(3, 5, 4);
    plain.load_state_dict(cross.state_dict());
    auto [out2, w2] = plain(a, b);
    CHECK(out2.shape() == Shape{2, 3, 4});
    check_values(out.slice(2, 3, 7), out2.to_vector<double>(), 1e-6);
  }
  SUBCASE("gradcheck, float64") {
    cross.to(kFloat64);
    Tensor mask = Tensor({{0.0, 0.0, 0.0, 1.0}, {0.0, 0.0, 0.0, 0.0}}).reshape({2, 1, 4});
    CHECK(grad_ok([&](const TensorList& x) { return flat(cross(x[0], x[1], mask)); },
                  {randn64({2, 3, 3}), randn64({2, 4, 5})}));
    Tensor a = randn64({2, 3, 3}), b = randn64({2, 4, 5});
    CHECK(module_gradcheck(cross, [&] { return flat(cross(a, b, mask)); }));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(nn::CrossAttention(3, 0, 4), "context_dim is 0", ValueError);
    Tensor a = Tensor::zeros({2, 3, 3}), b = Tensor::zeros({2, 4, 5});
    CHECK_THROWS_CONTAINING(cross(Tensor::zeros({2, 3, 5}), b), "CrossAttention: a is [2, 3, 5]", ShapeError);
    CHECK_THROWS_CONTAINING(cross(a, Tensor::zeros({2, 4, 3})), "Cb = context_dim (5)", ShapeError);
    CHECK_THROWS_CONTAINING(cross(a, Tensor::zeros({1, 4, 5})), "batch sizes (dim 0) must be equal",
                            ShapeError);
    CHECK_THROWS_CONTAINING(cross(a, b, Tensor::zeros({3, 3})), "CrossAttention: mask is [3, 3]", ShapeError);
  }
}

// ==== MultiheadAttention ===============================================================

TEST_CASE("attention/MultiheadAttention parameters and init") {
  manual_seed(11);
  nn::MultiheadAttention mha(8, 2);
  CHECK(mha.head_dim == 4);
  // PyTorch's names, shapes and order.
  auto params = mha.named_parameters();
  REQUIRE(params.size() == 4);
  CHECK(params[0].first == "in_proj_weight");
  CHECK(params[0].second.shape() == Shape{24, 8});
  CHECK(params[1].first == "in_proj_bias");
  CHECK(params[1].second.shape() == Shape{24});
  CHECK(params[2].first == "out_proj.weight");
  CHECK(params[2].second.shape() == Shape{8, 8});
  CHECK(params[3].first == "out_proj.bias");
  // xavier_uniform on [3E, E]: bound sqrt(6 / (E + 3E)) = sqrt(6 / 32); zero biases.
  double bound = std::sqrt(6.0 / 32.0);
  CHECK(abs(mha.in_proj_weight).max().item() <= bound);
  CHECK(abs(mha.in_proj_weight).max().item() > 0.8 * bound);  // spread over the range, not all tiny
  check_values(mha.in_proj_bias, std::vector<double>(24, 0.0));
  check_values(mha.out_proj->bias, std::vector<double>(8, 0.0));
  CHECK(abs(mha.out_proj->weight).max().item() <= 1 / std::sqrt(8.0));

  nn::MultiheadAttention no_bias(6, 3, {.bias = false});
  auto names = no_bias.state_dict().keys();
  CHECK(names == std::vector<std::string>{"in_proj_weight", "out_proj.weight"});
}

TEST_CASE("attention/MultiheadAttention matches PyTorch") {
  SUBCASE("batch_first, key_padding_mask [B, S] and attn_mask [L, S], averaged weights") {
    nn::MultiheadAttention mha(8, 2, {.batch_first = true});
    mha.load_state_dict(params_of("mha"));
    Tensor q = leaf("mha.query"), k = leaf("mha.key"), v = leaf("mha.value");
    // The fixtures' masks are float 1 = hidden; as int64 they are PyTorch's bool masks.
    auto r = mha(q, k, v, fx("mha.key_padding_mask").to(kInt64), /*need_weights=*/true,
                 fx("mha.attn_mask").to(kInt64));
    CHECK(r.output.shape() == Shape{2, 4, 8});
    CHECK(r.weights.shape() == Shape{2, 4, 5});
    check_against_pytorch("mha", r, {{"query", q}, {"key", k}, {"value", v}}, &mha);
  }
  SUBCASE("sequence first, no bias, per-head attn_mask [B*H, L, S], per-head weights, x as q, k and v") {
    nn::MultiheadAttention mha(6, 3, {.bias = false});
    mha.load_state_dict(params_of("mha_seq"));
    Tensor x = leaf("mha_seq.x");  // [T, B, E]
    auto r = mha(x, x, x, {}, true, fx("mha_seq.attn_mask").to(kInt64), /*average_attn_weights=*/false);
    CHECK(r.output.shape() == Shape{3, 2, 6});
    CHECK(r.weights.shape() == Shape{2, 3, 3, 3});
    check_against_pytorch("mha_seq", r, {{"x", x}}, &mha);
  }
}

TEST_CASE("attention/MultiheadAttention gradcheck") {
  manual_seed(12);
  nn::MultiheadAttention mha(6, 2, {.batch_first = true});
  mha.to(kFloat64);
  {
    NoGradGuard g;  // non-zero biases, so their gradients are not trivially checked
    mha.in_proj_bias.copy_(Tensor::randn({18}, kFloat64));
    mha.out_proj->bias.copy_(Tensor::randn({6}, kFloat64));
  }
  Tensor kpm = Tensor({{0.0, 0.0, 1.0}, {0.0, 0.0, 0.0}}).to(kInt64);  // [B, S], nonzero = padding
  Tensor am = Tensor({{0.0, 1.0, 0.0}, {0.0, 0.0, 0.0}}).to(kInt64);   // [L, S], nonzero = hidden
  SUBCASE("inputs") {
    CHECK(grad_ok([&](const TensorList& x) { return flat(mha(x[0], x[1], x[2], kpm, true, am)); },
                  {randn64({2, 2, 6}), randn64({2, 3, 6}), randn64({2, 3, 6})}));
  }
  SUBCASE("parameters") {
    Tensor q = randn64({2, 2, 6}), k = randn64({2, 3, 6}), v = randn64({2, 3, 6});
    CHECK(module_gradcheck(mha, [&] { return flat(mha(q, k, v, kpm, true, am, false)); }));
  }
  SUBCASE("self-attention: one input used three times") {
    CHECK(grad_ok([&](const TensorList& x) { return flat(mha(x[0], x[0], x[0])); }, {randn64({2, 3, 6})}));
  }
}

TEST_CASE("attention/MultiheadAttention options") {
  manual_seed(13);
  nn::MultiheadAttention mha(8, 4, {.batch_first = true});
  Tensor q = Tensor::randn({1, 3, 8}), k = Tensor::randn({1, 5, 8}), v = Tensor::randn({1, 5, 8});
  Tensor kpm = Tensor({{0.0, 1.0, 0.0, 0.0, 0.0}}).to(kInt64);
  Tensor am = Tensor::rand({4, 3, 5});  // [B*H, L, S] with B = 1: hide where < 0.3, keep key 0
  am = (lt(am, Tensor::scalar(0.3)) * Tensor({0.0, 1.0, 1.0, 1.0, 1.0})).to(kInt64);
  auto batched = mha(q, k, v, kpm, true, am, false);

  SUBCASE("unbatched [L, E] inputs give the batched result without the batch dim") {
    auto r = mha(q.select(0, 0), k.select(0, 0), v.select(0, 0), kpm.select(0, 0), true, am, false);
    CHECK(r.output.shape() == Shape{3, 8});
    CHECK(r.weights.shape() == Shape{4, 3, 5});
    check_values(r.output, batched.output.select(0, 0).to_vector<double>(), 1e-6);
    check_values(r.weights, batched.weights.select(0, 0).to_vector<double>(), 1e-6);
  }
  SUBCASE("averaged weights are the mean of the per-head ones; need_weights=false gives none") {
    auto avg = mha(q, k, v, kpm, true, am);
    check_values(avg.weights, batched.weights.mean({1}).to_vector<double>(), 1e-6);
    auto none = mha(q, k, v, kpm, false, am);
    CHECK_FALSE(none.weights.defined());
    check_values(none.output, batched.output.to_vector<double>(), 1e-6);
    // hidden keys get 0 in every head
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t i = 0; i < 3; ++i) CHECK(batched.weights.at({0, h, i, 1}) == 0.0);
  }
  SUBCASE("a query with every key hidden: output = out_proj.bias, not NaN") {
    Tensor all = Tensor::ones({3, 5});
    {
      NoGradGuard g;
      all.slice(0, 1, 3).zero_();  // query 0 hides everything
    }
    auto r = mha(q, k, v, {}, true, all.to(kInt64));
    CHECK_FALSE(has_nan(r.output));
    check_values(r.output.select(0, 0).select(0, 0), mha.out_proj->bias.to_vector<double>(), 1e-6);
    check_values(r.weights.select(0, 0).select(0, 0), {0, 0, 0, 0, 0});
  }
  SUBCASE("dropout acts in training mode only") {
    nn::MultiheadAttention drop(8, 4, {.dropout = 0.5, .batch_first = true});
    drop.load_state_dict(mha.state_dict());
    drop.eval();
    auto e = drop(q, k, v, kpm, true, am, false);
    check_values(e.output, batched.output.to_vector<double>(), 1e-6);
    drop.train();
    auto t = drop(q, k, v, kpm, true, am, false);
    std::vector<double> wt = t.weights.to_vector<double>(), we = e.weights.to_vector<double>();
    int dropped = 0;
    for (size_t i = 0; i < wt.size(); ++i) {
      if (wt[i] == 0 && we[i] != 0)
        ++dropped;
      else
        CHECK(wt[i] == doctest::Approx(2 * we[i]));
    }
    CHECK(dropped > 0);
  }
}

TEST_CASE("attention/MultiheadAttention errors") {
  CHECK_THROWS_CONTAINING(nn::MultiheadAttention(10, 3), "embed_dim (10) must be divisible by num_heads (3)",
                          ValueError);
  CHECK_THROWS_CONTAINING(nn::MultiheadAttention(0, 1), "must be positive", ValueError);
  CHECK_THROWS_CONTAINING(nn::MultiheadAttention(8, 0), "must be positive", ValueError);
  CHECK_THROWS_CONTAINING(nn::MultiheadAttention(8, 2, {.dropout = 1.0}), "dropout is 1", ValueError);

  nn::MultiheadAttention mha(8, 2, {.batch_first = true});
  Tensor q = Tensor::zeros({2, 4, 8}), k = Tensor::zeros({2, 5, 8}), v = Tensor::zeros({2, 5, 8});
  CHECK_THROWS_CONTAINING(mha(Tensor::zeros({2, 4, 6}), k, v),
                          "MultiheadAttention: query is [2, 4, 6]; its last dim must be embed_dim (8)",
                          ShapeError);
  CHECK_THROWS_CONTAINING(mha(q, k, Tensor::zeros({2, 5, 7})), "value is [2, 5, 7]", ShapeError);
  CHECK_THROWS_CONTAINING(mha(Tensor::zeros({1, 2, 4, 8}), k, v), "all three must be 3-D ([B, L, E])",
                          ShapeError);
  CHECK_THROWS_CONTAINING(mha(q.select(0, 0), k, v), "or all 2-D", ShapeError);
  CHECK_THROWS_CONTAINING(mha(q, Tensor::zeros({3, 5, 8}), Tensor::zeros({3, 5, 8})),
                          "batch sizes must be equal", ShapeError);
  CHECK_THROWS_CONTAINING(mha(q, k, Tensor::zeros({2, 6, 8})), "same length S", ShapeError);
  CHECK_THROWS_CONTAINING(mha(q, k, v, Tensor::zeros({2, 4})),
                          "key_padding_mask is [2, 4]; it must be [B, S] = [2, 5]", ShapeError);
  CHECK_THROWS_CONTAINING(mha(q, k, v, {}, true, Tensor::zeros({5, 4})),
                          "attn_mask is [5, 4]; it must be [L, S] = [4, 5] or [B*H, L, S] = [4, 4, 5]",
                          ShapeError);
  CHECK_THROWS_CONTAINING(mha(q, k, v, {}, true, Tensor::zeros({2, 4, 5})), "attn_mask is [2, 4, 5]",
                          ShapeError);
  CHECK_THROWS_CONTAINING(mha(q.to(kFloat64), k.to(kFloat64), v.to(kFloat64)), "MultiheadAttention",
                          DTypeError);
}
