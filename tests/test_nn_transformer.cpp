// The Transformer layers and model (nn/transformer.h) against PyTorch 1.13 on the same
// weights (tests/reference/transformer.py): outputs and the gradients of every
// input and parameter, post-norm and pre-norm, with and without masks (float
// added, bool as int64, causal as a mask and as is_causal); float64 gradchecks;
// the stacks' names; the positional embeddings; and each error.
#include <cmath>

#include "helpers.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;

namespace {

const char* kFile = "transformer.safetensors";
Tensor fx(const std::string& key) { return fixture(kFile, key); }
bool has_fx(const std::string& key) { return fixture_file(kFile).contains(key); }
Tensor leaf(const std::string& key) { return fx(key).clone().detach().requires_grad_(); }

StateDict params_of(const std::string& name) { return fixture_params(kFile, name); }

// A mask of case `name`: a float one as stored (added to the scores), a bool one
// (stored as float 0/1 under "<mask>.bool") as int64, or none.
Tensor mask_of(const std::string& name, const std::string& mask) {
  const std::string key = name + "." + mask;
  if (has_fx(key)) return fx(key);
  if (has_fx(key + ".bool")) return fx(key + ".bool").to(kInt64);
  return {};
}

// PyTorch's loss (out * R).sum(), backward, and every result compared. float32 on
// both sides through two layer norms and a softmax: rtol 2e-5, atol 5e-6 (the
// largest errors seen are 6.5e-6 relative, 1.7e-6 absolute).
void check_case(const std::string& name, const nn::Module& module, const Tensor& out,
                const std::vector<std::pair<std::string, Tensor>>& inputs) {
  const double rtol = 2e-5, atol = 5e-6;
  check_close(name + " output", out, fx(name + ".out"), rtol, atol);
  (out * fx(name + ".R")).sum().backward();
  for (const auto& [input, t] : inputs) check_close(name + " grad " + input, t.grad(), fx(name + ".grad." + input),
                                                    rtol, atol);
  int checked = 0;
  for (const auto& [param, p] : module.named_parameters()) {
    check_close(name + " grad " + param, p.grad(), fx(name + ".grad.params." + param), rtol, atol);
    ++checked;
  }
  CHECK(checked == static_cast<int>(params_of(name).size()));
}

nn::TransformerLayerOptions options(const std::string& activation, bool batch_first, bool norm_first) {
  return {.dim_feedforward = 16, .dropout = 0.0, .activation = activation, .batch_first = batch_first,
          .norm_first = norm_first};
}

}  // namespace

TEST_CASE("transformer/encoder layer matches PyTorch") {
  SUBCASE("post-norm, relu, batch_first, an additive float src_mask and a bool padding mask") {
    nn::TransformerEncoderLayer layer(8, 2, options("relu", true, false));
    layer.load_state_dict(params_of("enc_post"));
    Tensor src = leaf("enc_post.src");
    Tensor out = layer(src, mask_of("enc_post", "src_mask"), mask_of("enc_post", "src_key_padding_mask"));
    check_case("enc_post", layer, out, {{"src", src}});
  }
  for (bool as_flag : {false, true}) {
    CAPTURE(as_flag);
    SUBCASE("pre-norm, gelu, sequence first, causal: as PyTorch's float mask and as is_causal") {
      nn::TransformerEncoderLayer layer(8, 2, options("gelu", false, true));
      layer.load_state_dict(params_of("enc_pre"));
      Tensor src = leaf("enc_pre.src");
      Tensor out = as_flag ? layer(src, {}, {}, /*is_causal=*/true) : layer(src, mask_of("enc_pre", "src_mask"));
      check_case("enc_pre", layer, out, {{"src", src}});
    }
  }
  SUBCASE("post-norm, gelu_tanh, no masks, one unbatched sequence") {
    nn::TransformerEncoderLayer layer(8, 2, options("gelu_tanh", false, false));
    layer.load_state_dict(params_of("enc_tanh"));
    Tensor src = leaf("enc_tanh.src");
    Tensor out = layer(src);
    CHECK(out.shape() == Shape{4, 8});
    check_case("enc_tanh", layer, out, {{"src", src}});
  }
}

TEST_CASE("transformer/decoder layer matches PyTorch") {
  for (bool as_flag : {false, true}) {
    CAPTURE(as_flag);
    SUBCASE("post-norm, batch_first, causal tgt_mask (or tgt_is_causal), bool padding of tgt and memory") {
      nn::TransformerDecoderLayer layer(8, 2, options("relu", true, false));
      layer.load_state_dict(params_of("dec_post"));
      Tensor tgt = leaf("dec_post.tgt"), memory = leaf("dec_post.memory");
      Tensor tgt_mask = as_flag ? Tensor() : mask_of("dec_post", "tgt_mask");
      Tensor out = layer(tgt, memory, tgt_mask, {}, mask_of("dec_post", "tgt_key_padding_mask"),
                         mask_of("dec_post", "memory_key_padding_mask"), /*tgt_is_causal=*/as_flag);
      check_case("dec_post", layer, out, {{"tgt", tgt}, {"memory", memory}});
    }
  }
  SUBCASE("pre-norm, gelu, sequence first, an additive float memory_mask") {
    nn::TransformerDecoderLayer layer(8, 2, options("gelu", false, true));
    layer.load_state_dict(params_of("dec_pre"));
    Tensor tgt = leaf("dec_pre.tgt"), memory = leaf("dec_pre.memory");
    Tensor out = layer(tgt, memory, {}, mask_of("dec_pre", "memory_mask"));
    check_case("dec_pre", layer, out, {{"tgt", tgt}, {"memory", memory}});
  }
}

TEST_CASE("transformer/stacks match PyTorch, names included") {
  SUBCASE("encoder: 2 pre-norm layers and a final norm, bool padding") {
    nn::TransformerEncoder enc(8, 2, 2, options("relu", true, true), /*final_norm=*/true);
    // The same keys as PyTorch's state dict, in the same order as its named_parameters().
    auto names = enc.state_dict().keys();
    CHECK(names.size() == params_of("enc_stack").size());
    CHECK(names.front() == "layers.0.self_attn.in_proj_weight");
    CHECK(names[12] == "layers.1.self_attn.in_proj_weight");
    CHECK(names.back() == "norm.bias");
    enc.load_state_dict(params_of("enc_stack"));
    Tensor src = leaf("enc_stack.src");
    Tensor out = enc(src, {}, mask_of("enc_stack", "src_key_padding_mask"));
    check_case("enc_stack", enc, out, {{"src", src}});
  }
  SUBCASE("decoder: 2 post-norm layers and a final norm, sequence first, causal") {
    nn::TransformerDecoder dec(8, 2, 2, options("relu", false, false), /*final_norm=*/true);
    dec.load_state_dict(params_of("dec_stack"));
    Tensor tgt = leaf("dec_stack.tgt"), memory = leaf("dec_stack.memory");
    Tensor out = dec(tgt, memory, mask_of("dec_stack", "tgt_mask"));
    check_case("dec_stack", dec, out, {{"tgt", tgt}, {"memory", memory}});
  }
}

TEST_CASE("transformer/the whole Transformer matches PyTorch") {
  nn::Transformer model({.d_model = 8, .nhead = 2, .num_encoder_layers = 2, .num_decoder_layers = 1,
                         .layer = options("relu", true, false)});
  auto names = model.state_dict().keys();
  CHECK(names.size() == params_of("transformer").size());
  CHECK(names.front() == "encoder.layers.0.self_attn.in_proj_weight");
  CHECK(names.back() == "decoder.norm.bias");
  model.load_state_dict(params_of("transformer"));
  Tensor src = leaf("transformer.src"), tgt = leaf("transformer.tgt");
  Tensor kpm = mask_of("transformer", "src_key_padding_mask");
  Tensor out = model(src, tgt, {}, mask_of("transformer", "tgt_mask"), {}, kpm, {}, kpm);
  check_case("transformer", model, out, {{"src", src}, {"tgt", tgt}});
}

TEST_CASE("transformer/the Transformer's initialisation and errors") {
  manual_seed(34);
  nn::Transformer model({.d_model = 16, .nhead = 4, .num_encoder_layers = 1, .num_decoder_layers = 1});
  // xavier_uniform on every matrix: linear1.weight [2048, 16] has bound sqrt(6 / (16 + 2048))
  Tensor w = model.encoder->layers->as<nn::TransformerEncoderLayer>()[0]->linear1->weight;
  CHECK(max(abs(w)).item() <= std::sqrt(6.0 / (16 + 2048)));
  CHECK(max(abs(w)).item() > 0.9 * std::sqrt(6.0 / (16 + 2048)));
  CHECK_THROWS_CONTAINING(model(Tensor::zeros({5, 2, 16}), Tensor::zeros({4, 3, 16})),
                          "Transformer: src is [5, 2, 16], tgt [4, 3, 16]; their batch sizes (dim 1) must be equal",
                          ShapeError);
  CHECK_THROWS_CONTAINING(model(Tensor::zeros({5, 2, 16}), Tensor::zeros({4, 16})), "both must be batched",
                          ShapeError);
}

TEST_CASE("transformer/MultiheadAttention float masks are added, as in PyTorch") {
  SUBCASE("an additive attn_mask with a bool padding mask") {
    nn::MultiheadAttention mha(8, 2, {.batch_first = true});
    mha.load_state_dict(params_of("mha_float"));
    Tensor q = leaf("mha_float.query"), k = leaf("mha_float.key"), v = leaf("mha_float.value");
    auto r = mha(q, k, v, mask_of("mha_float", "key_padding_mask"), false, mask_of("mha_float", "attn_mask"));
    check_case("mha_float", mha, r.output, {{"query", q}, {"key", k}, {"value", v}});
  }
  SUBCASE("a float key_padding_mask, -inf at one key") {
    nn::MultiheadAttention mha(8, 2);
    mha.load_state_dict(params_of("mha_float_kpm"));
    Tensor q = leaf("mha_float_kpm.query"), k = leaf("mha_float_kpm.key"), v = leaf("mha_float_kpm.value");
    auto r = mha(q, k, v, mask_of("mha_float_kpm", "key_padding_mask"), false);
    check_case("mha_float_kpm", mha, r.output, {{"query", q}, {"key", k}, {"value", v}});
  }
}

TEST_CASE("transformer/float64 gradchecks") {
  manual_seed(31);
  auto randomize = [](nn::Module& m) {
    NoGradGuard g;  // layer norms at 1 and 0 and zero biases are too easy a point
    for (auto& [name, p] : m.named_parameters()) p.copy_(Tensor::randn(p.shape(), kFloat64) * 0.5 + 0.2);
  };
  Tensor kpm = Tensor({{0.0, 0.0, 1.0}, {0.0, 0.0, 0.0}}).to(kInt64);  // [B, T]: entry 0's last key is padding
  Tensor bias = Tensor::randn({3, 3}, kFloat64);                      // an additive src_mask
  SUBCASE("encoder layer, pre-norm, gelu_tanh, padding and an additive mask") {
    nn::TransformerEncoderLayer layer(4, 2, {.dim_feedforward = 6, .dropout = 0.0, .activation = "gelu_tanh",
                                            .batch_first = true, .norm_first = true});
    layer.to(kFloat64);
    randomize(layer);
    Tensor src = randn64({2, 3, 4});
    CHECK(module_gradcheck(layer, [&] { return layer(src, bias, kpm); }));
    CHECK(grad_ok([&](const TensorList& x) { return layer(x[0], bias, kpm); }, {src}));
  }
  SUBCASE("decoder layer, post-norm, relu, causal and memory padding") {
    nn::TransformerDecoderLayer layer(4, 2, {.dim_feedforward = 6, .dropout = 0.0, .batch_first = true});
    layer.to(kFloat64);
    randomize(layer);
    Tensor tgt = randn64({2, 3, 4}), memory = randn64({2, 3, 4});
    CHECK(module_gradcheck(layer, [&] { return layer(tgt, memory, {}, {}, {}, kpm, true); }));
    CHECK(grad_ok([&](const TensorList& x) { return layer(x[0], x[1], {}, {}, {}, kpm, true); }, {tgt, memory}));
  }
}

TEST_CASE("transformer/dropout acts in training mode only") {
  manual_seed(32);
  nn::TransformerEncoderLayer drop(8, 2, {.dim_feedforward = 16, .dropout = 0.5, .batch_first = true});
  nn::TransformerEncoderLayer none(8, 2, {.dim_feedforward = 16, .dropout = 0.0, .batch_first = true});
  none.load_state_dict(drop.state_dict());
  Tensor x = Tensor::randn({2, 5, 8});
  drop.eval();
  check_values(drop(x), none(x).to_vector<double>(), 1e-6);
  drop.train();
  CHECK(max(abs(drop(x) - none(x))).item() > 1e-3);
}

TEST_CASE("transformer/generate_square_subsequent_mask") {
  Tensor m = nn::generate_square_subsequent_mask(3);
  const double inf = INFINITY;
  check_values(m, {0, -inf, -inf, 0, 0, -inf, 0, 0, 0});
  CHECK(nn::generate_square_subsequent_mask(0).shape() == Shape{0, 0});
}

TEST_CASE("transformer/positional embeddings") {
  SUBCASE("sinusoidal: the formula, added at positions start..start+T") {
    nn::SinusoidalPositionalEncoding pe(6, 10, /*batch_first=*/true);
    Tensor x = Tensor::zeros({2, 3, 6});
    Tensor out = pe(x, /*start=*/2);  // positions 2, 3, 4
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t i = 0; i < 6; i += 2) {
        const double angle = (t + 2) / std::pow(10000.0, static_cast<double>(i) / 6);
        CHECK(out.at({1, t, i}) == doctest::Approx(std::sin(angle)).epsilon(1e-6));
        CHECK(out.at({1, t, i + 1}) == doctest::Approx(std::cos(angle)).epsilon(1e-6));
      }
    // sequence first: the same rows, broadcast over the batch in dim 1
    nn::SinusoidalPositionalEncoding seq(6, 10);
    Tensor y = seq(Tensor::zeros({3, 2, 6}));
    check_values(y.select(1, 1), pe(Tensor::zeros({1, 3, 6})).select(0, 0).to_vector<double>(), 0);
    // an odd width has no last cosine
    CHECK(nn::SinusoidalPositionalEncoding(5, 4).pe.shape() == Shape{4, 5});
  }
  SUBCASE("learned: x + weight rows, gradients to those rows only") {
    manual_seed(33);
    nn::LearnedPositionalEmbedding pe(6, 4, /*batch_first=*/true);
    CHECK(pe.named_parameters().front().first == "weight");
    Tensor x = Tensor::randn({2, 3, 4}).requires_grad_();
    Tensor out = pe(x, 1);
    check_values(out.select(0, 1), (x.select(0, 1) + pe.weight.slice(0, 1, 4)).to_vector<double>(), 1e-6);
    out.sum().backward();
    check_values(pe.weight.grad().slice(0, 1, 4), std::vector<double>(12, 2.0));  // two batch entries each
    check_values(pe.weight.grad().select(0, 0), {0, 0, 0, 0});
    check_values(x.grad(), std::vector<double>(24, 1.0));
  }
  SUBCASE("a sequence longer than the table") {
    nn::LearnedPositionalEmbedding learned(4, 8);
    CHECK_THROWS_CONTAINING(learned(Tensor::zeros({5, 2, 8})),
                            "LearnedPositionalEmbedding: positions [0, 5) of x [5, 2, 8] run past the table's "
                            "max_len (4)",
                            ShapeError);
    nn::SinusoidalPositionalEncoding sine(8, 4, true);
    CHECK_THROWS_CONTAINING(sine(Tensor::zeros({1, 3, 8}), 2), "positions [2, 5)", ShapeError);
    CHECK_THROWS_CONTAINING(sine(Tensor::zeros({1, 3, 6})), "with E = d_model = 8", ShapeError);
  }
}

TEST_CASE("transformer/ModuleList") {
  nn::ModuleList list;
  auto a = list.push_back(std::make_shared<nn::Linear>(2, 3));
  list.push_back(std::make_shared<nn::ReLU>());
  CHECK(list.size() == 2);
  CHECK(list[0] == a);
  auto names = list.state_dict().keys();
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK_THROWS_CONTAINING(list[2], "ModuleList: index 2 is out of range for 2 modules", IndexError);
  CHECK_THROWS_CONTAINING(list.as<nn::Linear>(), "ModuleList: module 1 is not of the type asked for", ValueError);
  CHECK_THROWS_CONTAINING(list.push_back(std::shared_ptr<nn::Linear>()), "ModuleList: module 2 is null", ValueError);
}

TEST_CASE("transformer/errors") {
  using nn::TransformerEncoderLayer, nn::TransformerDecoderLayer;
  CHECK_THROWS_CONTAINING(TransformerEncoderLayer(10, 3),
                          "TransformerEncoderLayer: d_model (10) must be divisible by nhead (3)", ValueError);
  CHECK_THROWS_CONTAINING(TransformerDecoderLayer(8, 0), "TransformerDecoderLayer: d_model (8) and nhead (0) must be "
                                                         "positive",
                          ValueError);
  CHECK_THROWS_CONTAINING(TransformerEncoderLayer(8, 2, {.activation = "swish"}),
                          "activation is \"swish\"; it must be \"relu\", \"gelu\" or \"gelu_tanh\"", ValueError);
  CHECK_THROWS_CONTAINING(TransformerEncoderLayer(8, 2, {.dropout = 1.0}), "dropout is 1", ValueError);
  CHECK_THROWS_CONTAINING(TransformerEncoderLayer(8, 2, {.dim_feedforward = 0}), "dim_feedforward is 0", ValueError);
  CHECK_THROWS_CONTAINING(nn::TransformerEncoder(8, 2, -1), "num_layers is -1", ValueError);

  TransformerEncoderLayer enc(8, 2, {.dim_feedforward = 16, .batch_first = true});
  Tensor src = Tensor::zeros({2, 5, 8});
  CHECK_THROWS_CONTAINING(enc(Tensor::zeros({2, 5, 6})),
                          "TransformerEncoderLayer: src is [2, 5, 6]; it must be [B, T, E] or [T, E] (unbatched), "
                          "with E = d_model = 8",
                          ShapeError);
  CHECK_THROWS_CONTAINING(enc(src, Tensor::zeros({5, 4})),
                          "TransformerEncoderLayer: src_mask is [5, 4]; it must be [L, S] = [5, 5] or "
                          "[B*nhead, L, S] = [4, 5, 5]",
                          ShapeError);
  CHECK_THROWS_CONTAINING(enc(src, {}, Tensor::zeros({2, 4}, kInt64)),
                          "TransformerEncoderLayer: src_key_padding_mask is [2, 4]; it must be [B, S] = [2, 5]",
                          ShapeError);
  CHECK_THROWS_CONTAINING(enc(src.to(kFloat64)), "TransformerEncoderLayer: src is float64 and the layer's "
                                                 "parameters float32",
                          DTypeError);

  TransformerDecoderLayer dec(8, 2, {.dim_feedforward = 16});
  CHECK_THROWS_CONTAINING(dec(Tensor::zeros({4, 2, 8}), Tensor::zeros({6, 3, 8})),
                          "TransformerDecoderLayer: tgt is [4, 2, 8], memory [6, 3, 8]; both must be batched with "
                          "the same batch size",
                          ShapeError);
  CHECK_THROWS_CONTAINING(dec(Tensor::zeros({4, 2, 8}), Tensor::zeros({6, 2, 8}), {}, Tensor::zeros({4, 4})),
                          "TransformerDecoderLayer: memory_mask is [4, 4]; it must be [L, S] = [4, 6]", ShapeError);
  CHECK_THROWS_CONTAINING(dec(Tensor::zeros({4, 2, 8}), Tensor::zeros({6, 2, 8}), {}, {}, {}, Tensor::zeros({2, 4})),
                          "memory_key_padding_mask is [2, 4]; it must be [B, S] = [2, 6]", ShapeError);
}
