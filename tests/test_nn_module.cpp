// Module: registration, dotted names, training mode, state dicts (with their
// errors, and all-or-nothing loading), dtype conversion; and the gradient
// utilities of nn/utils.h against PyTorch (tests/reference/layers.py).
#include <cmath>
#include <limits>

#include "heed/nn/embedding.h"
#include "heed/nn/layer_norm.h"
#include "heed/nn/linear.h"
#include "heed/nn/lstm.h"
#include "heed/nn/multihead_attention.h"
#include "heed/nn/sequential.h"
#include "heed/nn/transformer.h"
#include "heed/nn/utils.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
using namespace heed::nn;

namespace {

// A module that registers one of each kind, to see the order and the names.
struct Block : Module {
  Block() {
    scale = register_parameter("scale", Tensor::ones({3}));
    steps = register_buffer("steps", Tensor::zeros({1}, kInt64));
    fc = register_module("fc", std::make_shared<Linear>(3, 2));
    norm = register_module("norm", std::make_shared<LayerNorm>(2));
  }
  Tensor forward(const Tensor& x) const { return (*norm)((*fc)(x * scale)); }
  Tensor scale, steps;
  std::shared_ptr<Linear> fc;
  std::shared_ptr<LayerNorm> norm;
};

struct Net : Module {
  Net() {
    embed = register_parameter("embed", Tensor::randn({4, 3}));
    block = register_module("block", std::make_shared<Block>());
    head = register_module("head", std::make_shared<Linear>(2, 4));
  }
  Tensor embed;
  std::shared_ptr<Block> block;
  std::shared_ptr<Linear> head;
};

// Exposes the protected registration calls, for the error tests.
struct Open : Module {
  using Module::register_buffer;
  using Module::register_module;
  using Module::register_parameter;
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& items) {
  std::vector<std::string> out;
  for (const auto& [n, t] : items) out.push_back(n);
  return out;
}

const StateDict& fixtures() { return fixture_file("layers.safetensors"); }
Tensor fx(const std::string& name) { return fixture("layers.safetensors", name); }

// Three parameters whose grads are the fixture's clip.grad0..2.
std::vector<Tensor> params_with_fixture_grads() {
  std::vector<Tensor> ps;
  for (int i = 0; i < 3; ++i) {
    Tensor g = fx("clip.grad" + std::to_string(i));
    Tensor p = Tensor::zeros(g.shape()).requires_grad_();
    p.set_grad(g.clone());
    ps.push_back(p);
  }
  return ps;
}

}  // namespace

TEST_CASE("Module: registration order and dotted names") {
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"embed", "block.scale", "block.fc.weight", "block.fc.bias", "block.norm.weight",
                                 "block.norm.bias", "head.weight", "head.bias"});
  CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"block.steps"});
  CHECK(net.parameters().size() == 8);
  CHECK(net.parameters()[2].shares_storage(net.block->fc->weight));
  // children(): direct submodules only, in order.
  auto kids = net.children();
  REQUIRE(kids.size() == 2);
  CHECK(kids[0] == net.block);
  CHECK(kids[1] == net.head);
  CHECK(net.named_children()[1].first == "head");
  CHECK(net.block->children().size() == 2);
  // PyTorch's state_dict order: own parameters, own buffers, then each child.
  CHECK(net.state_dict().keys() ==
        std::vector<std::string>{"embed", "block.scale", "block.steps", "block.fc.weight", "block.fc.bias",
                                 "block.norm.weight", "block.norm.bias", "head.weight", "head.bias"});
  CHECK(net.num_parameters() == 12 + 3 + 6 + 2 + 2 + 2 + 8 + 4);
  // Every parameter is a leaf that requires grad; buffers do not.
  for (const Tensor& p : net.parameters()) CHECK((p.is_leaf() && p.requires_grad()));
  CHECK_FALSE(net.block->steps.requires_grad());
}

TEST_CASE("Module: a shared (tied) parameter is listed once, a frozen one counted apart") {
  Sequential shared;
  auto lin = std::make_shared<Linear>(2, 2);
  shared.add(lin).add(lin);  // one module twice: PyTorch lists its parameters once
  CHECK(names_of(shared.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(shared.state_dict().keys() == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"});
  CHECK(shared.num_parameters() == 6);
  lin->bias.requires_grad_(false);
  CHECK(shared.num_parameters(/*trainable_only=*/true) == 4);
  CHECK(shared.num_parameters() == 6);
}

TEST_CASE("Module: registration errors") {
  Open m;
  m.register_parameter("w", Tensor::ones({2}));
  CHECK_THROWS_CONTAINING(m.register_parameter("w", Tensor::ones({2})), "the name 'w' is already registered",
                          ValueError);
  CHECK_THROWS_CONTAINING(m.register_buffer("w", Tensor::ones({2})), "already registered", ValueError);
  CHECK_THROWS_CONTAINING(m.register_module("w", std::make_shared<Linear>(1, 1)), "already registered", ValueError);
  CHECK_THROWS_CONTAINING(m.register_parameter("a.b", Tensor::ones({2})), "contain no '.'", ValueError);
  CHECK_THROWS_CONTAINING(m.register_parameter("", Tensor::ones({2})), "must be non-empty", ValueError);
  CHECK_THROWS_CONTAINING(m.register_parameter("ids", Tensor::zeros({2}, kInt64)), "floating", DTypeError);
}

TEST_CASE("Module: zero_grad and train / eval reach every submodule") {
  Net net;
  Tensor x = Tensor::randn({5, 3});
  (*net.head)(net.block->forward(x)).sum().backward();
  CHECK(net.block->fc->weight.grad().defined());
  CHECK(net.head->bias.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());

  CHECK(net.is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.block->is_training());
  CHECK_FALSE(net.block->norm->is_training());
  net.block->train();  // only this subtree
  CHECK_FALSE(net.is_training());
  CHECK(net.block->fc->is_training());
  CHECK_FALSE(net.head->is_training());
}

TEST_CASE("Module: state_dict and load_state_dict") {
  SUBCASE("a round trip copies values into the existing tensors (member handles stay valid)") {
    manual_seed(5);
    Net a, b;
    Tensor b_weight = b.head->weight;
    b.load_state_dict(a.state_dict());
    CHECK(b.head->weight.shares_storage(b_weight));
    CHECK_FALSE(b.head->weight.shares_storage(a.head->weight));
    for (const auto& [name, t] : a.state_dict())
      CHECK(b.state_dict().at(name).to_vector<double>() == t.to_vector<double>());
    CHECK(b.head->weight.requires_grad());
  }
  SUBCASE("the state dict aliases the module's memory, detached") {
    Net net;
    Tensor w = net.state_dict().at("head.bias");
    CHECK(w.shares_storage(net.head->bias));
    CHECK_FALSE(w.requires_grad());
  }
  SUBCASE("errors name the key and the shapes, and a failed load changes nothing") {
    manual_seed(6);
    Net net, other;
    const std::vector<double> before = net.head->bias.to_vector<double>();
    const std::vector<double> embed_before = net.embed.to_vector<double>();

    // "embed" comes first and fits, so a loader that copied as it went would change it.
    StateDict missing = other.state_dict();
    StateDict without;
    for (const auto& [k, v] : missing)
      if (k != "head.bias") without.set(k, v);
    CHECK_THROWS_CONTAINING(net.load_state_dict(without), "missing key 'head.bias' (shape [4])", ValueError);

    StateDict extra = other.state_dict();
    extra.set("head.gamma", Tensor::ones({4}));
    CHECK_THROWS_CONTAINING(net.load_state_dict(extra), "unexpected key 'head.gamma' (shape [4])", ValueError);

    StateDict wrong = other.state_dict();
    wrong.set("head.bias", Tensor::ones({5}));
    CHECK_THROWS_CONTAINING(net.load_state_dict(wrong),
                            "'head.bias' has shape [5] in the state dict but [4] in the module", ShapeError);

    StateDict hollow = other.state_dict();
    hollow.set("head.bias", Tensor());
    CHECK_THROWS_CONTAINING(net.load_state_dict(hollow), "the tensor under key 'head.bias' is undefined",
                            ValueError);
    extra.set("head.beta", Tensor());
    CHECK_THROWS_CONTAINING(net.load_state_dict(extra), "unexpected key 'head.gamma' (shape [4])", ValueError);

    CHECK(net.embed.to_vector<double>() == embed_before);
    CHECK(net.head->bias.to_vector<double>() == before);

    // strict = false: missing and unexpected keys are skipped, the rest is loaded.
    net.load_state_dict(without, /*strict=*/false);
    CHECK(net.embed.to_vector<double>() == other.embed.to_vector<double>());
    CHECK(net.head->bias.to_vector<double>() == before);
    net.load_state_dict(extra, /*strict=*/false);
    CHECK(net.head->bias.to_vector<double>() == other.head->bias.to_vector<double>());
    CHECK_THROWS_CONTAINING(net.load_state_dict(wrong, /*strict=*/false), "has shape [5]", ShapeError);
  }
}

TEST_CASE("Module::to(kFloat64)") {
  Net net;
  Tensor handle = net.block->fc->weight;
  std::vector<double> values = handle.to_vector<double>();
  (*net.head)(net.block->forward(Tensor::randn({2, 3}))).sum().backward();
  net.to(kFloat64);
  for (const Tensor& p : net.parameters()) {
    CHECK(p.dtype() == kFloat64);
    CHECK(p.requires_grad());
    CHECK_FALSE(p.grad().defined());  // a float32 grad would not fit any more
  }
  CHECK(handle.dtype() == kFloat64);  // the member handle sees the change
  CHECK(handle.to_vector<double>() == values);
  CHECK(net.block->steps.dtype() == kInt64);  // integer buffers are not converted
  Tensor y = (*net.head)(net.block->forward(randn64({2, 3})));
  CHECK(y.dtype() == kFloat64);
  y.sum().backward();
  CHECK(handle.grad().dtype() == kFloat64);
  CHECK_THROWS_CONTAINING(net.to(kInt64), "Module::to: asked for int64", DTypeError);
  net.to(kFloat32);
  CHECK(handle.dtype() == kFloat32);
}

TEST_CASE("clip_grad_norm_") {
  SUBCASE("matches PyTorch for norms 2, inf and 3, and leaves small grads alone") {
    const std::tuple<const char*, double, double> cases[] = {
        {"clip2", 1.0, 2.0}, {"clip_inf", 0.5, kInfNorm}, {"clip3", 0.8, 3.0}, {"clip_none", 100.0, 2.0}};
    for (auto [c, max_norm, p] : cases) {
      std::vector<Tensor> ps = params_with_fixture_grads();
      double total = clip_grad_norm_(ps, max_norm, p);
      check_close(std::string(c) + " total", Tensor::scalar(total), fx(std::string(c) + ".total"));
      for (int i = 0; i < 3; ++i)
        check_close(std::string(c) + " grad" + std::to_string(i), ps[i].grad(),
                    fx(std::string(c) + ".grad" + std::to_string(i)));
    }
  }
  SUBCASE("by hand: grads (3, 4) have norm 5; max_norm 1 scales them by 1/(5 + 1e-6)") {
    Tensor a = Tensor::zeros({1}).requires_grad_(), b = Tensor::zeros({1}).requires_grad_();
    Tensor no_grad = Tensor::zeros({3}).requires_grad_();  // skipped: it has no grad
    a.set_grad(Tensor({3.0}));
    b.set_grad(Tensor({4.0}));
    CHECK(clip_grad_norm_({a, no_grad, b}, 1.0) == doctest::Approx(5.0));
    CHECK(a.grad().item() == doctest::Approx(3 / (5 + 1e-6)));
    CHECK(b.grad().item() == doctest::Approx(4 / (5 + 1e-6)));
    CHECK_FALSE(no_grad.grad().defined());
    CHECK(clip_grad_norm_({}, 1.0) == 0);
  }
  SUBCASE("non-finite norms and bad arguments") {
    Tensor a = Tensor::zeros({2}).requires_grad_();
    a.set_grad(Tensor({NAN, 1.0}));
    CHECK(std::isnan(clip_grad_norm_({a}, 1.0)));
    CHECK(std::isnan(clip_grad_norm_({a}, 1.0, kInfNorm)));
    CHECK_THROWS_CONTAINING(clip_grad_norm_({a}, 1.0, 2.0, /*error_if_nonfinite=*/true),
                            "the total norm of the gradients is nan", ValueError);
    CHECK_THROWS_CONTAINING(clip_grad_norm_({a}, -1.0), "max_norm is -1", ValueError);
    CHECK_THROWS_CONTAINING(clip_grad_norm_({a}, 1.0, 0.0), "norm_type is 0", ValueError);
  }
}

TEST_CASE("clip_grad_value_") {
  std::vector<Tensor> ps = params_with_fixture_grads();
  clip_grad_value_(ps, 0.7);
  for (int i = 0; i < 3; ++i)
    check_close("clip_value grad" + std::to_string(i), ps[i].grad(), fx("clip_value.grad" + std::to_string(i)));
  CHECK_THROWS_CONTAINING(clip_grad_value_(ps, -0.5), "clip_value is -0.5", ValueError);
}

TEST_CASE("summary: modules, output shapes for a sample input, parameter counts") {
  struct Net : Module {
    Net()
        : emb(register_module("emb", std::make_shared<Embedding>(10, 4))),
          body(register_module("body", std::make_shared<Sequential>())) {
      body->add(std::make_shared<Linear>(4, 8)).add(std::make_shared<Tanh>()).add(std::make_shared<Linear>(8, 3));
    }
    Tensor forward(const Tensor& ids) const { return (*body)((*emb)(ids)); }
    std::shared_ptr<Embedding> emb;
    std::shared_ptr<Sequential> body;
  };
  Net net;
  const Tensor ids = Tensor::randint(0, 10, {2, 5});
  const std::string table = summary(net, [&] { net.forward(ids); });
  MESSAGE(table);
  std::istringstream in(table);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 8);  // header, (model), emb, body, body.0, body.1, body.2, the totals
  CHECK(lines[0].find("module") == 0);
  CHECK(lines[1].find("(model)") == 0);
  CHECK(lines[1].find("Net") != std::string::npos);
  CHECK(lines[1].find(" 107") != std::string::npos);  // 40 + 32 + 8 + 24 + 3
  CHECK(lines[2].find("Embedding") != std::string::npos);
  CHECK(lines[2].find("[2, 5, 4]") != std::string::npos);
  CHECK(lines[3].find("[2, 5, 3]") != std::string::npos);  // the Sequential's output
  CHECK(lines[4].find("body.0") == 0);
  CHECK(lines[4].find("[2, 5, 8]") != std::string::npos);
  CHECK(lines[7] == "107 parameters (107 trainable)");
  CHECK(summary(net).find("-") != std::string::npos);  // no run: no shapes
  CHECK((nn::detail::t_output_recorder == nullptr));               // recording stops with the summary
  CHECK_THROWS_AS(summary(net, [] { throw ValueError("boom"); }), ValueError);
  CHECK((nn::detail::t_output_recorder == nullptr));
}

TEST_CASE("summary: layers with several inputs or outputs, and calls through forward()") {
  // Every heed layer reports its output from forward(), so it shows whether it
  // was called as m(x) or m.forward(x, ...); a module of one's own reports with
  // report_output.
  struct Tagger : Module {
    Tagger()
        : emb(register_module("emb", std::make_shared<Embedding>(10, 8))),
          lstm(register_module("lstm", std::make_shared<LSTM>(8, 6, LSTMOptions{.batch_first = true,
                                                                                .bidirectional = true}))),
          attn(register_module("attn", std::make_shared<MultiheadAttention>(
                                           12, 2, MultiheadAttentionOptions{.batch_first = true}))),
          block(register_module("block", std::make_shared<TransformerEncoderLayer>(
                                             12, 2, TransformerLayerOptions{.dim_feedforward = 16, .batch_first = true}))),
          head(register_module("head", std::make_shared<Linear>(12, 3))) {}
    Tensor forward(const Tensor& ids) const {
      Tensor x = lstm->forward(emb->forward(ids)).output;  // [B, T, 2H]
      x = attn->forward(x, x, x).output;
      x = block->forward(x);
      return report_output(head->forward(x));
    }
    std::shared_ptr<Embedding> emb;
    std::shared_ptr<LSTM> lstm;
    std::shared_ptr<MultiheadAttention> attn;
    std::shared_ptr<TransformerEncoderLayer> block;
    std::shared_ptr<Linear> head;
  };
  Tagger net;
  const Tensor ids = Tensor::randint(0, 10, {2, 5});
  const std::string table = summary(net, [&] { net.forward(ids); });
  MESSAGE(table);
  auto row = [&](const std::string& name) {
    std::istringstream in(table);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(name + " ", 0) == 0) return line;
    return std::string();
  };
  CHECK(row("(model)").find("[2, 5, 3]") != std::string::npos);
  CHECK(row("emb").find("[2, 5, 8]") != std::string::npos);
  CHECK(row("lstm").find("[2, 5, 12]") != std::string::npos);  // the output, both directions
  CHECK(row("attn").find("[2, 5, 12]") != std::string::npos);
  CHECK(row("attn.out_proj").find("[2, 5, 12]") != std::string::npos);
  CHECK(row("block").find("[2, 5, 12]") != std::string::npos);
  CHECK(row("block.linear1").find("[2, 5, 16]") != std::string::npos);
  CHECK(row("block.norm2").find("[2, 5, 12]") != std::string::npos);
  CHECK(row("head").find("[2, 5, 3]") != std::string::npos);
}
