// The benchmark workloads written with libtorch (PyTorch's C++ library), the way
// a libtorch user would write them: torch::nn modules, torch::optim, and a loop of
// zero_grad, forward, loss, backward, step. heed_bench.cpp is the same file written
// with heed; keep the two in step (workloads.h says what each workload is).
//
//   torch_bench [--workload W2]... [--rss-only] [--threads N] [--budget SECONDS] [--list]
//
// --threads N calls torch::set_num_threads(N) (intra-op threads; with the OpenMP
// build of OpenBLAS this also sets BLAS's). bench/run.sh runs it with 1 and 2 and
// keeps the faster, per workload.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "workloads.h"

using bench::Spec;
using bench::Workload;
namespace F = torch::nn::functional;

namespace {

// ---- W1: seed text 000's self-attention model -------------------------------------
struct SelfAttentionModel : torch::nn::Module {
  SelfAttentionModel(int64_t input_dim, int64_t output_dim)
      : input_dim(input_dim),
        linear1(register_module("linear1", torch::nn::Linear(input_dim, input_dim))),
        linear2(register_module("linear2", torch::nn::Linear(input_dim, output_dim))),
        attention(register_module("attention", torch::nn::Linear(input_dim, 1))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor q = linear1(x), k = linear2(x), v = attention(x);
    torch::Tensor a = torch::softmax(torch::matmul(q, k.t()) / std::sqrt(static_cast<double>(input_dim)), 1);
    return torch::matmul(a, v);
  }

  int64_t input_dim;
  torch::nn::Linear linear1, linear2, attention;
};

Workload make_w1() {
  auto model = std::make_shared<SelfAttentionModel>(bench::kW1Dim, bench::kW1Dim);
  auto opt = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randn({bench::kW1Rows, bench::kW1Dim});
  torch::Tensor target = torch::randn({bench::kW1Rows, bench::kW1Dim});
  auto loss = std::make_shared<torch::Tensor>();
  auto step = [=] {
    opt->zero_grad();
    torch::Tensor out = model->forward(x);
    *loss = (out - target).pow(2).mean();
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item<double>(); }};
}

// ---- W2: a self-attention layer, d = 256 ---------------------------------------------
// The same layer as heed's nn::SelfAttention: four Linear(C, C), one head,
// softmax over the keys of q k^T / sqrt(C).
struct SelfAttention : torch::nn::Module {
  explicit SelfAttention(int64_t C)
      : C(C),
        q_proj(register_module("q_proj", torch::nn::Linear(C, C))),
        k_proj(register_module("k_proj", torch::nn::Linear(C, C))),
        v_proj(register_module("v_proj", torch::nn::Linear(C, C))),
        out_proj(register_module("out_proj", torch::nn::Linear(C, C))) {}

  // x [B, T, C] -> [B, T, C]
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor q = q_proj(x), k = k_proj(x), v = v_proj(x);
    torch::Tensor weights = torch::softmax(torch::matmul(q, k.transpose(1, 2)) / std::sqrt(double(C)), -1);
    return out_proj(torch::matmul(weights, v));
  }

  int64_t C;
  torch::nn::Linear q_proj, k_proj, v_proj, out_proj;
};

Workload make_w2(int64_t T) {
  const int64_t B = bench::kW2Batch, C = bench::kW2Dim;
  auto layer = std::make_shared<SelfAttention>(C);
  auto opt = std::make_shared<torch::optim::Adam>(layer->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randn({B, T, C});
  torch::Tensor target = torch::randn({B, T, C});
  auto loss = std::make_shared<torch::Tensor>();
  auto step = [=] {
    opt->zero_grad();
    *loss = torch::mse_loss(layer->forward(x), target);
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item<double>(); }};
}

// ---- W3: one LSTM layer, forward and backward -------------------------------------------
Workload make_w3(int64_t T) {
  const int64_t B = bench::kW3Batch;
  auto lstm = std::make_shared<torch::nn::LSTMImpl>(
      torch::nn::LSTMOptions(bench::kW3In, bench::kW3Hidden).batch_first(true));
  torch::Tensor x = torch::randn({B, T, bench::kW3In});
  auto loss = std::make_shared<torch::Tensor>();
  auto step = [=] {
    lstm->zero_grad();
    *loss = std::get<0>(lstm->forward(x)).sum();
    loss->backward();
  };
  return {step, [loss] { return loss->item<double>(); }};
}

// ---- W4: seq2seq with an LSTM encoder and an attentive LSTMCell decoder -----------------
// As heed_bench.cpp; the dot attention is written out (libtorch has no module for
// it): scores = q k^T [B, 1, S], softmax over S, context = weights v.
struct Seq2Seq : torch::nn::Module {
  Seq2Seq()
      : embed(register_module("embed", torch::nn::Embedding(bench::kW4Vocab, bench::kW4Embed))),
        encoder(register_module(
            "encoder", torch::nn::LSTM(torch::nn::LSTMOptions(bench::kW4Embed, bench::kW4Hidden).batch_first(true)))),
        decoder(register_module("decoder", torch::nn::LSTMCell(bench::kW4Embed + bench::kW4Hidden, bench::kW4Hidden))),
        out(register_module("out", torch::nn::Linear(2 * bench::kW4Hidden, bench::kW4Vocab))) {}

  // -> logits [B, S, V]
  torch::Tensor forward(const torch::Tensor& src, const torch::Tensor& dec_in) {
    const int64_t B = src.size(0), S = dec_in.size(1);
    auto [enc, state] = encoder(embed(src));  // enc [B, S, H]; h, c [1, B, H]
    torch::Tensor h = std::get<0>(state).select(0, 0), c = std::get<1>(state).select(0, 0);
    torch::Tensor context = torch::zeros({B, bench::kW4Hidden});
    torch::Tensor dec_embedded = embed(dec_in);  // [B, S, E]
    std::vector<torch::Tensor> logits;
    for (int64_t s = 0; s < S; ++s) {
      std::tie(h, c) = decoder(torch::cat({dec_embedded.select(1, s), context}, 1), std::make_tuple(h, c));
      torch::Tensor query = h.unsqueeze(1);                                             // [B, 1, H]
      torch::Tensor weights = torch::softmax(torch::matmul(query, enc.transpose(1, 2)), -1);  // [B, 1, S]
      context = torch::matmul(weights, enc).select(1, 0);                               // [B, H]
      logits.push_back(out(torch::cat({h, context}, 1)));                              // [B, V]
    }
    return torch::stack(logits, 1);
  }

  torch::nn::Embedding embed;
  torch::nn::LSTM encoder;
  torch::nn::LSTMCell decoder;
  torch::nn::Linear out;
};

Workload make_w4() {
  const int64_t B = bench::kW4Batch;
  auto model = std::make_shared<Seq2Seq>();
  auto opt = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor src = torch::randint(0, bench::kW4Vocab, {B, bench::kW4SrcLen});
  torch::Tensor dec_in = torch::randint(0, bench::kW4Vocab, {B, bench::kW4TgtLen});
  torch::Tensor target = torch::randint(0, bench::kW4Vocab, {B * bench::kW4TgtLen});
  auto loss = std::make_shared<torch::Tensor>();
  auto step = [=] {
    opt->zero_grad();
    torch::Tensor logits = model->forward(src, dec_in);
    *loss = F::cross_entropy(logits.reshape({-1, bench::kW4Vocab}), target);
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item<double>(); }};
}

// ---- W5: seed text 001's tanh network, one sample, SGD ----------------------------------
Workload make_w5() {
  auto model = std::make_shared<torch::nn::SequentialImpl>(torch::nn::Linear(bench::kW5In, bench::kW5Hidden),
                                                           torch::nn::Tanh(),
                                                           torch::nn::Linear(bench::kW5Hidden, bench::kW5Out));
  auto opt = std::make_shared<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(0.01));
  torch::Tensor x = torch::randn({1, bench::kW5In});
  torch::Tensor y = torch::randn({1, bench::kW5Out});
  auto loss = std::make_shared<torch::Tensor>();
  auto step = [=] {
    opt->zero_grad();
    *loss = torch::mse_loss(model->forward(x), y);
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item<double>(); }};
}

// ---- W6: one big matmul, forward and backward ----------------------------------------------
Workload make_w6() {
  const int64_t N = bench::kW6N;
  torch::Tensor a = torch::randn({N, N}).requires_grad_();
  torch::Tensor b = torch::randn({N, N}).requires_grad_();
  auto loss = std::make_shared<torch::Tensor>();
  auto step = [=]() mutable {
    a.mutable_grad().reset();  // set_to_none, as heed's zero_grad does
    b.mutable_grad().reset();
    *loss = torch::matmul(a, b).sum();
    loss->backward();
  };
  return {step, [loss] { return loss->item<double>(); }};
}

// ---- W7 and W8: examples/gpt's byte-level GPT -------------------------------------------------
// The model of examples/gpt/model.h (and tests/reference/gpt.py) as a libtorch
// user writes it. libtorch 1.13 has no fused attention, so the scores, the causal
// mask and the softmax are written out, as nanoGPT does without flash attention.
struct Block : torch::nn::Module {
  Block(int64_t C, int64_t H)
      : H(H),
        ln_1(register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({C})))),
        c_attn(register_module("c_attn", torch::nn::Linear(C, 3 * C))),
        attn_proj(register_module("attn_proj", torch::nn::Linear(C, C))),
        ln_2(register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({C})))),
        c_fc(register_module("c_fc", torch::nn::Linear(C, 4 * C))),
        mlp_proj(register_module("mlp_proj", torch::nn::Linear(4 * C, C))) {}

  // x [B, T, C]; with a cache (k, v [B, H, max_T, D]), x is the positions after the first t0.
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* k_cache = nullptr, torch::Tensor* v_cache = nullptr,
                        int64_t t0 = 0) {
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2), D = C / H;
    auto qkv = c_attn(ln_1(x)).split(C, 2);
    auto heads = [&](const torch::Tensor& t) { return t.view({B, T, H, D}).transpose(1, 2); };
    torch::Tensor q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
    if (k_cache) {
      k_cache->slice(2, t0, t0 + T).copy_(k);
      v_cache->slice(2, t0, t0 + T).copy_(v);
      k = k_cache->slice(2, 0, t0 + T);
      v = v_cache->slice(2, 0, t0 + T);
    }
    torch::Tensor att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(D));
    if (T > 1) att = att.masked_fill(torch::ones({T, k.size(2)}, torch::kBool).triu(1 + t0), -INFINITY);
    torch::Tensor y = torch::matmul(torch::softmax(att, -1), v).transpose(1, 2).reshape({B, T, C});
    torch::Tensor h = x + attn_proj(y);
    return h + mlp_proj(torch::gelu(c_fc(ln_2(h)), "tanh"));
  }

  int64_t H;
  torch::nn::LayerNorm ln_1;
  torch::nn::Linear c_attn, attn_proj;
  torch::nn::LayerNorm ln_2;
  torch::nn::Linear c_fc, mlp_proj;
};

struct GPT : torch::nn::Module {
  GPT(int64_t block_size)
      : wte(register_module("wte", torch::nn::Embedding(bench::kW7Vocab, bench::kW7Embd))),
        wpe(register_module("wpe", torch::nn::Embedding(block_size, bench::kW7Embd))),
        ln_f(register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({bench::kW7Embd})))) {
    for (int64_t i = 0; i < bench::kW7Layers; ++i)
      blocks.push_back(register_module("blocks_" + std::to_string(i), std::make_shared<Block>(bench::kW7Embd,
                                                                                               bench::kW7Heads)));
  }
  torch::Tensor forward(const torch::Tensor& ids, std::vector<torch::Tensor>* k_cache = nullptr,
                        std::vector<torch::Tensor>* v_cache = nullptr, int64_t t0 = 0) {
    torch::Tensor x = wte(ids) + wpe(torch::arange(t0, t0 + ids.size(1)));
    for (size_t i = 0; i < blocks.size(); ++i)
      x = blocks[i]->forward(x, k_cache ? &(*k_cache)[i] : nullptr, v_cache ? &(*v_cache)[i] : nullptr, t0);
    return torch::matmul(ln_f(x), wte->weight.t());  // tied output projection
  }
  torch::nn::Embedding wte, wpe;
  torch::nn::LayerNorm ln_f;
  std::vector<std::shared_ptr<Block>> blocks;
};

Workload make_w7() {
  auto model = std::make_shared<GPT>(bench::kW7T);
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto options = [](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(1e-3).betas({0.9, 0.95}).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(0.1));
  groups.emplace_back(no_decay, options(0.0));
  auto opt = std::make_shared<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(1e-3));
  const int64_t B = bench::kW7Batch, T = bench::kW7T, V = bench::kW7Vocab;
  torch::Tensor x = torch::randint(V, {B, T}), y = torch::randint(V, {B, T});
  auto loss = std::make_shared<torch::Tensor>();
  auto step = [=] {
    opt->zero_grad();
    *loss = torch::cross_entropy_loss(model->forward(x).reshape({B * T, V}), y.reshape({B * T}));
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item<double>(); }};
}

Workload make_w8(int64_t T) {
  auto model = std::make_shared<GPT>(bench::kW8Context);
  model->eval();
  const int64_t D = bench::kW7Embd / bench::kW7Heads;
  auto k = std::make_shared<std::vector<torch::Tensor>>(), v = std::make_shared<std::vector<torch::Tensor>>();
  for (int64_t i = 0; i < bench::kW7Layers; ++i) {
    k->push_back(torch::zeros({1, bench::kW7Heads, bench::kW8Context, D}));
    v->push_back(torch::zeros({1, bench::kW7Heads, bench::kW8Context, D}));
  }
  {
    torch::NoGradGuard no_grad;  // T - 1 cached positions
    model->forward(torch::randint(bench::kW7Vocab, {1, T - 1}), k.get(), v.get(), 0);
  }
  torch::Tensor next = torch::randint(bench::kW7Vocab, {1, 1});
  auto logits = std::make_shared<torch::Tensor>();
  auto step = [=] {
    torch::NoGradGuard no_grad;
    *logits = model->forward(next, k.get(), v.get(), T - 1);
  };
  return {step, [logits] { return logits->sum().item<double>(); }};
}

Workload make(const Spec& spec) {
  torch::manual_seed(0);
  if (spec.family == "W1") return make_w1();
  if (spec.family == "W2") return make_w2(spec.T);
  if (spec.family == "W3") return make_w3(spec.T);
  if (spec.family == "W4") return make_w4();
  if (spec.family == "W5") return make_w5();
  if (spec.family == "W7") return make_w7();
  if (spec.family == "W8") return make_w8(spec.T);
  return make_w6();
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv);
  if (args.threads > 0) torch::set_num_threads(args.threads);
  const int threads = torch::get_num_threads();
  if (!args.list && !args.rss_only)
    std::printf("info\t-\tlibtorch %s, %d intra-op threads\n", TORCH_VERSION, threads);
  try {
    return bench::run_main(args, threads, make);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torch_bench: %s\n", e.what());
    return 1;
  }
}
