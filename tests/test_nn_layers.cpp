// nn layers: Linear, Embedding, LayerNorm, Dropout, the activation modules and
// Sequential. Each against PyTorch (tests/reference/layers.py), a float64
// gradcheck, and the errors it raises.
#include <cmath>

#include "heed/nn/activation.h"
#include "heed/nn/dropout.h"
#include "heed/nn/embedding.h"
#include "heed/nn/layer_norm.h"
#include "heed/nn/linear.h"
#include "heed/nn/sequential.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
using namespace heed::nn;

namespace {

const StateDict& fixtures() { return fixture_file("layers.safetensors"); }
Tensor fx(const std::string& name) { return fixture("layers.safetensors", name); }

// The entries "<layer_case>.<key>" for each parameter key of module, as a state dict.
StateDict params_of(const std::string& layer_case, const Module& module) {
  StateDict sd;
  for (auto& [name, p] : module.named_parameters()) sd.set(name, fx(layer_case + "." + name));
  return sd;
}

// Loads the case's weights into module, runs x (from the fixture) forward and dy
// backward, and compares y, dx and every parameter's grad with PyTorch's.
void check_layer_against_pytorch(const std::string& c, UnaryModule& module, bool float_input = true) {
  module.load_state_dict(params_of(c, module));
  Tensor x = float_input ? fx(c + ".x").clone().requires_grad_() : fx(c + ".ids");
  Tensor y = module(x);
  check_close(c + " y", y, fx(c + ".y"));
  y.backward(fx(c + ".dy"));
  if (float_input) check_close(c + " grad x", x.grad(), fx(c + ".grad.x"));
  for (auto& [name, p] : module.named_parameters())
    check_close(c + " grad " + name, p.grad(), fx(c + ".grad." + name));
}

}  // namespace

TEST_CASE("Linear") {
  SUBCASE("matches PyTorch on a 3-D input") {
    Linear lin(5, 3);
    check_layer_against_pytorch("linear", lin);
  }
  SUBCASE("parameters: PyTorch's names, shapes and init range U(-1/sqrt(in), 1/sqrt(in))") {
    manual_seed(1);
    Linear lin(16, 8);
    auto named = lin.named_parameters();
    REQUIRE(named.size() == 2);
    CHECK(named[0].first == "weight");
    CHECK(named[1].first == "bias");
    CHECK(lin.weight.shape() == Shape{8, 16});
    CHECK(lin.bias.shape() == Shape{8});
    double wmax = 0;
    for (double v : lin.weight.to_vector<double>()) wmax = std::max(wmax, std::abs(v));
    CHECK(wmax <= 0.25);
    CHECK(wmax > 0.2);  // 128 draws of U(-0.25, 0.25): the largest is near the bound
    Linear nb(4, 2, /*bias=*/false);
    CHECK(nb.named_parameters().size() == 1);
    CHECK_FALSE(nb.bias.defined());
    check_values(nb(Tensor::zeros({3, 4})), std::vector<double>(6, 0.0));
  }
  SUBCASE("float64 gradcheck: input (transposed view) and parameters") {
    Linear lin(3, 4);
    lin.to(kFloat64);
    CHECK(grad_ok([&](const TensorList& x) { return lin(x[0]); }, {randn64({3, 2}).t()}));
    Tensor x = randn64({2, 5, 3});
    CHECK(module_gradcheck(lin, [&] { return lin(x); }));
  }
  SUBCASE("errors") {
    Linear lin(5, 3);
    CHECK_THROWS_CONTAINING(lin(Tensor::zeros({2, 4})), "Linear: input has shape [2, 4]", ShapeError);
    CHECK_THROWS_CONTAINING(lin(Tensor::scalar(1)), "in_features (5)", ShapeError);
    CHECK_THROWS_CONTAINING(Linear(-1, 3), "must be >= 0", ValueError);
  }
}

TEST_CASE("Embedding") {
  SUBCASE("matches PyTorch: repeated ids add their gradients, the padding row gets none") {
    Embedding emb(10, 4, /*padding_idx=*/0);
    check_layer_against_pytorch("embedding", emb, /*float_input=*/false);
    std::vector<double> pad_grad = emb.weight.grad().select(0, 0).to_vector<double>();
    CHECK(pad_grad == std::vector<double>(4, 0.0));
    // id 3 appears three times: its row's gradient is the sum of three rows of dy.
    Tensor dy = fx("embedding.dy");
    Tensor expect = dy.select(0, 0).select(0, 2) + dy.select(0, 0).select(0, 3) + dy.select(0, 1).select(0, 2);
    check_close("embedding row 3", emb.weight.grad().select(0, 3), expect);
  }
  SUBCASE("init: N(0, 1), padding row zero; a negative padding_idx counts from the end") {
    manual_seed(2);
    Embedding emb(1000, 20, -1);
    CHECK(emb.padding_idx == 999);
    CHECK(emb.weight.select(0, 999).to_vector<double>() == std::vector<double>(20, 0.0));
    std::vector<double> w = emb.weight.slice(0, 0, 999).to_vector<double>();
    double mean = 0, sq = 0;
    for (double v : w) mean += v;
    mean /= w.size();
    for (double v : w) sq += (v - mean) * (v - mean);
    double sd = std::sqrt(sq / w.size());
    // 19980 draws: the sample mean has sd 0.007, the sample sd about 0.005.
    CHECK(std::abs(mean) < 0.05);
    CHECK(std::abs(sd - 1) < 0.05);
  }
  SUBCASE("ids of any shape: [...] -> [..., dim]") {
    Embedding emb(5, 3);
    CHECK(emb(Tensor::scalar(2, kInt64)).shape() == Shape{3});
    Tensor ids = Tensor({{{0, 4}, {1, 1}}, {{3, 2}, {0, 0}}}, kInt64);
    Tensor y = emb(ids);
    CHECK(y.shape() == Shape{2, 2, 2, 3});
    check_values(y.select(0, 1).select(0, 0).select(0, 0), emb.weight.select(0, 3).to_vector<double>());
    CHECK(emb(Tensor::zeros({0, 7}, kInt64)).shape() == Shape{0, 7, 3});
  }
  SUBCASE("float64 gradcheck of the weight, ids non-contiguous and repeated") {
    Tensor ids = Tensor({{1, 2, 2}, {0, 1, 3}}, kInt64).t();
    CHECK(grad_ok([&](const TensorList& x) { return embedding(x[0], ids); }, {randn64({4, 3})}));
    // With padding, the padding row's gradient is zero by design (so a plain gradcheck
    // would flag it); every other row must still be exact.
    Tensor w = randn64({4, 3}).requires_grad_();
    Tensor r = randn64({3, 2, 3});
    (embedding(w, ids, 2) * r).sum().backward();
    CHECK(w.grad().select(0, 2).to_vector<double>() == std::vector<double>(3, 0.0));
    Tensor w2 = w.detach().clone().requires_grad_();
    (embedding(w2, ids) * r).sum().backward();
    check_values(w.grad().select(0, 1), w2.grad().select(0, 1).to_vector<double>(), 1e-12);
  }
  SUBCASE("errors") {
    Embedding emb(5, 3);
    CHECK_THROWS_CONTAINING(emb(Tensor({1, 5}, kInt64)), "embedding: id 5 (element 1", IndexError);
    CHECK_THROWS_CONTAINING(emb(Tensor({-1}, kInt64)), "out of range for num_embeddings 5", IndexError);
    CHECK_THROWS_CONTAINING(emb(Tensor({1.0, 2.0})), "ids must be int64", DTypeError);
    CHECK_THROWS_CONTAINING(Embedding(5, 3, 5), "padding_idx 5 is out of range", IndexError);
    CHECK_THROWS_CONTAINING(Embedding(5, 3, -6), "padding_idx -6", IndexError);
    CHECK_THROWS_CONTAINING(Embedding(-5, 3), "must be >= 0", ValueError);
    CHECK_THROWS_CONTAINING(embedding(Tensor::zeros({5}), Tensor({1}, kInt64)), "must be 2-D", ShapeError);
  }
}

TEST_CASE("LayerNorm") {
  SUBCASE("matches PyTorch over the last dim") {
    LayerNorm ln(6);
    check_layer_against_pytorch("layer_norm", ln);
  }
  SUBCASE("matches PyTorch over the last 2 dims") {
    LayerNorm ln(Shape{4, 5});
    check_layer_against_pytorch("layer_norm2", ln);
  }
  SUBCASE("defaults: weight ones, bias zeros; rows come out with mean 0 and biased variance 1") {
    LayerNorm ln(Shape{2, 3});
    check_values(ln.weight, std::vector<double>(6, 1.0));
    check_values(ln.bias, std::vector<double>(6, 0.0));
    CHECK(ln.weight.shape() == Shape{2, 3});
    Tensor y = ln(Tensor({{{1, 2, 3}, {4, 5, 6}}}, kFloat64).to(kFloat32));
    // mean 3.5, biased variance 35/12: y = (x - 3.5) / sqrt(35/12 + 1e-5)
    const double s = std::sqrt(35.0 / 12 + 1e-5);
    check_values(y, {-2.5 / s, -1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s, 2.5 / s}, 1e-6);
    LayerNorm plain(4, 1e-5, /*elementwise_affine=*/false);
    CHECK(plain.named_parameters().empty());
    CHECK(plain(Tensor::ones({2, 4})).to_vector<double>() == std::vector<double>(8, 0.0));
  }
  SUBCASE("float64 gradcheck: x, weight and bias, one and two normalized dims, strided x") {
    auto ln1 = [](const TensorList& t) { return layer_norm(t[0], {3}, t[1], t[2]); };
    CHECK(grad_ok(ln1, {randn64({4, 3}), randn64({3}), randn64({3})}));
    CHECK(grad_ok(ln1, {randn64({3, 2, 4}).permute({1, 2, 0}), randn64({3}), randn64({3})}));
    auto ln2 = [](const TensorList& t) { return layer_norm(t[0], {2, 3}, t[1], t[2], 1e-3); };
    CHECK(grad_ok(ln2, {randn64({2, 2, 3}), randn64({2, 3}), randn64({2, 3})}));
    CHECK(grad_ok([](const TensorList& t) { return layer_norm(t[0], {5}); }, {randn64({2, 5})}));
    LayerNorm mod(Shape{3});
    mod.to(kFloat64);
    Tensor x = randn64({4, 3});
    CHECK(module_gradcheck(mod, [&] { return mod(x); }));
  }
  SUBCASE("errors") {
    LayerNorm ln(Shape{4, 5});
    CHECK_THROWS_CONTAINING(ln(Tensor::zeros({2, 5, 4})),
                            "input is [2, 5, 4], normalized_shape is [4, 5]; the input's last 2 dims", ShapeError);
    CHECK_THROWS_CONTAINING(ln(Tensor::zeros({5})), "last 2 dims must equal", ShapeError);
    CHECK_THROWS_CONTAINING(layer_norm(Tensor::zeros({2, 3}), {3}, Tensor::ones({2})),
                            "weight is [2], normalized_shape is [3]", ShapeError);
    CHECK_THROWS_CONTAINING(layer_norm(Tensor::zeros({2, 3}), {3}, Tensor::ones({3}, kFloat64)), "layer_norm",
                            DTypeError);
    CHECK_THROWS_CONTAINING(layer_norm(Tensor::zeros({2, 3}, kInt64), {3}), "layer_norm", DTypeError);
    CHECK_THROWS_CONTAINING(layer_norm(Tensor::zeros({2, 3}), Shape{}), "normalized_shape is empty", ValueError);
    CHECK_THROWS_CONTAINING(LayerNorm(Shape{}), "normalized_shape is empty", ValueError);
    CHECK_THROWS_CONTAINING(LayerNorm(3, -1.0), "eps is -1", ValueError);
  }
}

TEST_CASE("Dropout module") {
  SUBCASE("follows the training flag, also when set on a parent") {
    auto seq = std::make_shared<Sequential>();
    auto drop = seq->emplace<Dropout>(0.5);
    Tensor x = Tensor::ones({1000});
    Tensor y = (*seq)(x);
    double zeros = 0;
    for (double v : y.to_vector<double>()) {
      CHECK((v == 0 || v == 2));
      zeros += v == 0;
    }
    CHECK(zeros > 400);  // 1000 draws at p = 0.5: sd 16
    CHECK(zeros < 600);
    seq->eval();
    CHECK_FALSE(drop->is_training());
    CHECK(drop->forward(x).to_vector<double>() == x.to_vector<double>());
    seq->train();
    CHECK(drop->is_training());
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(Dropout(1.5), "Dropout: p is 1.5", ValueError);
    CHECK_THROWS_CONTAINING(Dropout(-0.1), "probability in [0, 1]", ValueError);
  }
}

TEST_CASE("activation modules") {
  Tensor x = Tensor({-2.0, -0.5, 0.0, 0.5, 3.0}, kFloat64);
  check_values(Tanh()(x), tanh(x).to_vector<double>(), 1e-15);
  check_values(Sigmoid()(x), {0.11920292202211755, 0.3775406687981454, 0.5, 0.6224593312018546, 0.9525741268224334});
  check_values(ReLU()(x), {0, 0, 0, 0.5, 3});
  // torch.nn.GELU()(x) for these x
  check_values(GELU()(x), {-0.04550026389635842, -0.15426876936299347, 0, 0.34573123063700656, 2.9959502751318098});
  CHECK(ReLU().named_parameters().empty());
  CHECK(grad_ok([](const TensorList& t) { return GELU()(t[0]); }, {randn64({3, 2})}));
}

TEST_CASE("Sequential") {
  SUBCASE("registers members as 0, 1, 2 and chains them in order") {
    manual_seed(3);
    auto fc1 = std::make_shared<Linear>(4, 8);
    auto fc2 = std::make_shared<Linear>(8, 2);
    Sequential mlp{fc1, std::make_shared<ReLU>(), fc2};
    std::vector<std::string> names;
    for (auto& [n, p] : mlp.named_parameters()) names.push_back(n);
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
    CHECK(mlp.size() == 3);
    CHECK(mlp[0] == fc1);
    Tensor x = Tensor::randn({5, 4});
    check_values(mlp(x), (*fc2)(relu((*fc1)(x))).to_vector<double>(), 1e-7);
  }
  SUBCASE("builder: add chains, emplace returns the typed module; nested Sequential") {
    Sequential seq;
    auto lin = seq.emplace<Linear>(3, 3);
    seq.add(std::make_shared<Tanh>()).add(std::make_shared<Sequential>(
        std::initializer_list<std::shared_ptr<UnaryModule>>{std::make_shared<Linear>(3, 1)}));
    CHECK(lin->weight.shape() == Shape{3, 3});
    CHECK(seq.state_dict().keys() == std::vector<std::string>{"0.weight", "0.bias", "2.0.weight", "2.0.bias"});
    CHECK(seq(Tensor::zeros({2, 3})).shape() == Shape{2, 1});
    Sequential empty;
    Tensor x = Tensor::randn({2});
    CHECK(empty(x).shares_storage(x));
  }
  SUBCASE("float64 gradcheck of the whole stack") {
    Sequential mlp{std::make_shared<Linear>(3, 4), std::make_shared<Tanh>(), std::make_shared<LayerNorm>(4),
                   std::make_shared<GELU>(), std::make_shared<Linear>(4, 2), std::make_shared<Sigmoid>()};
    mlp.to(kFloat64);
    Tensor x = randn64({2, 3});
    CHECK(module_gradcheck(mlp, [&] { return mlp(x); }));
    CHECK(grad_ok([&](const TensorList& t) { return mlp(t[0]); }, {x}));
  }
  SUBCASE("errors") {
    Sequential seq{std::make_shared<ReLU>()};
    CHECK_THROWS_CONTAINING(seq[1], "Sequential: index 1 is out of range for 1 modules", IndexError);
    CHECK_THROWS_CONTAINING(seq.add(nullptr), "module 1 is null", ValueError);
    Sequential bad{std::make_shared<Linear>(3, 4), std::make_shared<Linear>(3, 4)};
    CHECK_THROWS_CONTAINING(bad(Tensor::zeros({1, 3})), "Linear: input has shape [1, 4]", ShapeError);
  }
}
