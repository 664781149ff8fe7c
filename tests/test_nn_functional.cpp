// nn::functional: each function gives its module's numbers (the modules are
// checked against PyTorch in test_nn_layers.cpp), and F::scaled_dot_product_attention
// (nn/attention.h, named in F) gives the composed formula softmax(q k^T s + bias) v.
#include <cmath>
#include <limits>

#include "heed/nn/activation.h"
#include "heed/nn/dropout.h"
#include "heed/nn/embedding.h"
#include "heed/nn/functional.h"
#include "heed/nn/layer_norm.h"
#include "heed/nn/linear.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace F = heed::nn::functional;

TEST_CASE("functional: each function equals its module") {
  manual_seed(1);
  const Tensor x = Tensor::randn({3, 4, 6});
  nn::Linear lin(6, 5);
  CHECK(F::linear(x, lin.weight, lin.bias).to_vector() == lin.forward(x).to_vector());
  nn::LayerNorm ln(6);
  CHECK(F::layer_norm(x, {6}, ln.weight, ln.bias).to_vector() == ln.forward(x).to_vector());
  nn::Embedding emb(10, 6, 0);
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{0, 3, 9, 3}, {2, 2});
  CHECK(F::embedding(ids, emb.weight, 0).to_vector() == emb.forward(ids).to_vector());
  CHECK(F::gelu(x, "tanh").to_vector() == nn::GELU("tanh").forward(x).to_vector());
  CHECK(F::gelu(x).to_vector() == nn::GELU().forward(x).to_vector());
  CHECK(F::relu(x).to_vector() == nn::ReLU().forward(x).to_vector());
  CHECK(F::tanh(x).to_vector() == nn::Tanh().forward(x).to_vector());
  CHECK(F::sigmoid(x).to_vector() == nn::Sigmoid().forward(x).to_vector());
  CHECK(F::softmax(x, -1).to_vector() == x.softmax(-1).to_vector());
  CHECK(F::log_softmax(x, 1).to_vector() == x.log_softmax(1).to_vector());

  nn::Dropout drop(0.3);
  Generator g1(5), g2(5);
  manual_seed(9);
  const Tensor by_module = drop.forward(x);
  manual_seed(9);
  CHECK(F::dropout(x, 0.3).to_vector() == by_module.to_vector());
  CHECK(F::dropout(x, 0.3, /*training=*/false).to_vector() == x.to_vector());
  CHECK(F::dropout(x, 0.3, true, g1).to_vector() == F::dropout(x, 0.3, true, g2).to_vector());

  CHECK(F::cross_entropy(x.reshape({12, 6}), Tensor::zeros({12}, kInt64)).item() > 0);  // the losses, named here too
  CHECK_THROWS_WITH_AS(F::gelu(x, "erf"), doctest::Contains("\"none\" or \"tanh\""), ValueError);
}

namespace {

// softmax(q k^T s + mask) v, composed from plain ops.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double s) {
  Tensor scores = q.matmul(k.transpose(-2, -1)) * s;
  if (mask.defined()) scores = scores + mask;
  return scores.softmax(-1).matmul(v);
}

}  // namespace

TEST_CASE("functional: scaled_dot_product_attention is the composed formula") {
  manual_seed(2);
  const int64_t B = 2, H = 3, T = 5, D = 4;
  const Tensor q = randn64({B, H, T, D}), k = randn64({B, H, T, D}), v = randn64({B, H, T, D});
  const double s = 1.0 / std::sqrt(static_cast<double>(D));
  const double inf = std::numeric_limits<double>::infinity();

  // causal: the upper triangle hidden, as the float mask -inf above the diagonal
  Tensor causal_mask = Tensor::zeros({T, T}, kFloat64);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = i + 1; j < T; ++j) causal_mask.slice(0, i, i + 1).slice(1, j, j + 1).fill_(-inf);
  const std::vector<double> got = F::scaled_dot_product_attention(q, k, v, {}, /*causal=*/true).output.to_vector<double>();
  const std::vector<double> want = composed_attention(q, k, v, causal_mask, s).to_vector<double>();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));

  // a float bias added to the scores, broadcast over batch and heads
  const Tensor bias = randn64({T, T});
  const std::vector<double> got2 = F::scaled_dot_product_attention(q, k, v, {}, false, 0, bias).output.to_vector<double>();
  const std::vector<double> want2 = composed_attention(q, k, v, bias, s).to_vector<double>();
  for (size_t i = 0; i < got2.size(); ++i) CHECK(got2[i] == doctest::Approx(want2[i]).epsilon(1e-12));
}
