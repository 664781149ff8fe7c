// The benchmark workloads written with heed, the way a user would write them:
// nn layers, an optimizer, and a loop of zero_grad, forward, loss, backward, step.
// torch_bench.cpp is the same file written with libtorch; keep the two in step
// (workloads.h says what each workload is).
//
//   heed_bench [--workload W2]... [--rss-only] [--budget SECONDS] [--list] [--profile]
//
// Threads: OpenMP's default (OMP_NUM_THREADS, else every core), shared with OpenBLAS.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "heed/heed.h"
#include "heed/nn/activation.h"
#include "heed/nn/attention.h"
#include "heed/nn/embedding.h"
#include "heed/nn/linear.h"
#include "heed/nn/loss.h"
#include "heed/nn/lstm.h"
#include "heed/nn/sequential.h"
#include "heed/ops/blas.h"
#include "heed/optim/adam.h"
#include "heed/optim/sgd.h"
#include "gpt/model.h"
#include "workloads.h"

using namespace heed;
using bench::Spec;
using bench::Workload;

namespace {

// ---- W1: seed text 000's self-attention model -------------------------------------
// Q = linear1(x), K = linear2(x), V = attention(x): [10, 50], [10, 50], [10, 1]
// out = softmax(Q K^T / sqrt(50), dim 1) V: [10, 1]; loss = mean((out - target)^2),
// the [10, 1] output broadcast against the [10, 50] target, as the seed code does.
struct SelfAttentionModel : nn::Module {
  SelfAttentionModel(int64_t input_dim, int64_t output_dim)
      : input_dim(input_dim),
        linear1(register_module("linear1", std::make_shared<nn::Linear>(input_dim, input_dim))),
        linear2(register_module("linear2", std::make_shared<nn::Linear>(input_dim, output_dim))),
        attention(register_module("attention", std::make_shared<nn::Linear>(input_dim, 1))) {}

  Tensor forward(const Tensor& x) const {
    Tensor q = (*linear1)(x), k = (*linear2)(x), v = (*attention)(x);
    Tensor a = softmax(matmul(q, k.t()) / std::sqrt(static_cast<double>(input_dim)), 1);
    return matmul(a, v);
  }

  int64_t input_dim;
  std::shared_ptr<nn::Linear> linear1, linear2, attention;
};

Workload make_w1() {
  auto model = std::make_shared<SelfAttentionModel>(bench::kW1Dim, bench::kW1Dim);
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-3});
  Tensor x = Tensor::randn({bench::kW1Rows, bench::kW1Dim});
  Tensor target = Tensor::randn({bench::kW1Rows, bench::kW1Dim});
  auto loss = std::make_shared<Tensor>();
  auto step = [=] {
    opt->zero_grad();
    Tensor out = model->forward(x);
    *loss = (out - target).pow(2).mean();
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item(); }};
}

// ---- W2: a self-attention layer, d = 256 ---------------------------------------------
// x [B, T, C] -> SelfAttention (q, k, v, out projections, softmax(q k^T / sqrt(C)) v)
// -> [B, T, C]; MSE against a random target; Adam.
Workload make_w2(int64_t T) {
  const int64_t B = bench::kW2Batch, C = bench::kW2Dim;
  auto layer = std::make_shared<nn::SelfAttention>(C);
  auto opt = std::make_shared<optim::Adam>(layer->parameters(), optim::AdamOptions{.lr = 1e-3});
  Tensor x = Tensor::randn({B, T, C});
  Tensor target = Tensor::randn({B, T, C});
  auto loss = std::make_shared<Tensor>();
  auto step = [=] {
    opt->zero_grad();
    Tensor out = (*layer)(x).output;  // [B, T, C]
    *loss = nn::mse_loss(out, target);
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item(); }, bench::w2_folded_gflop(T)};
}

// ---- W3: one LSTM layer, forward and backward -------------------------------------------
// x [B, T, in] -> output [B, T, H]; loss = output.sum(); backward into the weights.
Workload make_w3(int64_t T) {
  const int64_t B = bench::kW3Batch;
  auto lstm = std::make_shared<nn::LSTM>(bench::kW3In, bench::kW3Hidden, nn::LSTMOptions{.batch_first = true});
  Tensor x = Tensor::randn({B, T, bench::kW3In});
  auto loss = std::make_shared<Tensor>();
  auto step = [=] {
    lstm->zero_grad();
    *loss = (*lstm)(x).output.sum();
    loss->backward();
  };
  return {step, [loss] { return loss->item(); }};
}

// ---- W4: seq2seq with an LSTM encoder and an attentive LSTMCell decoder -----------------
// src, dec_in, target: int64 [B, S] (S = 20 in both directions)
// encoder:  enc [B, S, H], final (h, c) [B, H] starts the decoder
// each decoder step s:
//   (h, c)  = cell([embed(dec_in[:, s]), context], (h, c))     [B, E + H] -> [B, H]
//   context = dot attention of h over enc                      [B, H]
//   logits  = out([h, context])                                [B, V]
// loss = cross_entropy over all B * S predictions; Adam.
struct Seq2Seq : nn::Module {
  Seq2Seq()
      : embed(register_module("embed", std::make_shared<nn::Embedding>(bench::kW4Vocab, bench::kW4Embed))),
        encoder(register_module("encoder", std::make_shared<nn::LSTM>(bench::kW4Embed, bench::kW4Hidden,
                                                                      nn::LSTMOptions{.batch_first = true}))),
        decoder(register_module("decoder", std::make_shared<nn::LSTMCell>(bench::kW4Embed + bench::kW4Hidden,
                                                                          bench::kW4Hidden))),
        attention(register_module("attention", std::make_shared<nn::DotAttention>())),
        out(register_module("out", std::make_shared<nn::Linear>(2 * bench::kW4Hidden, bench::kW4Vocab))) {}

  // -> logits [B, S, V]
  Tensor forward(const Tensor& src, const Tensor& dec_in) const {
    const int64_t B = src.size(0), S = dec_in.size(1);
    nn::LSTMOutput enc = (*encoder)((*embed)(src));  // enc.output [B, S, H]; enc.h, enc.c [1, B, H]
    Tensor h = enc.h.select(0, 0), c = enc.c.select(0, 0);
    Tensor context = Tensor::zeros({B, bench::kW4Hidden});
    Tensor dec_embedded = (*embed)(dec_in);  // [B, S, E]
    std::vector<Tensor> logits;
    for (int64_t s = 0; s < S; ++s) {
      nn::LSTMState state = (*decoder)(concat({dec_embedded.select(1, s), context}, 1), h, c);
      h = state.h;
      c = state.c;
      // query [B, 1, H] against keys = values = enc.output [B, S, H]
      context = (*attention)(h.unsqueeze(1), enc.output, enc.output).output.select(1, 0);
      logits.push_back((*out)(concat({h, context}, 1)));  // [B, V]
    }
    return stack(logits, 1);
  }

  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> encoder;
  std::shared_ptr<nn::LSTMCell> decoder;
  std::shared_ptr<nn::DotAttention> attention;
  std::shared_ptr<nn::Linear> out;
};

Workload make_w4() {
  const int64_t B = bench::kW4Batch;
  auto model = std::make_shared<Seq2Seq>();
  auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-3});
  Tensor src = Tensor::randint(0, bench::kW4Vocab, {B, bench::kW4SrcLen});
  Tensor dec_in = Tensor::randint(0, bench::kW4Vocab, {B, bench::kW4TgtLen});
  Tensor target = Tensor::randint(0, bench::kW4Vocab, {B * bench::kW4TgtLen});
  auto loss = std::make_shared<Tensor>();
  auto step = [=] {
    opt->zero_grad();
    Tensor logits = model->forward(src, dec_in);  // [B, S, V]
    *loss = nn::cross_entropy(logits.reshape({-1, bench::kW4Vocab}), target);
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item(); }};
}

// ---- W5: seed text 001's tanh network, one sample, SGD ----------------------------------
Workload make_w5() {
  auto model = std::make_shared<nn::Sequential>();
  model->emplace<nn::Linear>(bench::kW5In, bench::kW5Hidden);
  model->emplace<nn::Tanh>();
  model->emplace<nn::Linear>(bench::kW5Hidden, bench::kW5Out);
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.01});
  Tensor x = Tensor::randn({1, bench::kW5In});
  Tensor y = Tensor::randn({1, bench::kW5Out});
  auto loss = std::make_shared<Tensor>();
  auto step = [=] {
    opt->zero_grad();
    *loss = nn::mse_loss((*model)(x), y);
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item(); }};
}

// ---- W6: one big matmul, forward and backward ----------------------------------------------
Workload make_w6() {
  const int64_t N = bench::kW6N;
  Tensor a = Tensor::randn({N, N}).requires_grad_();
  Tensor b = Tensor::randn({N, N}).requires_grad_();
  auto loss = std::make_shared<Tensor>();
  auto step = [=] {
    Tensor a_ = a, b_ = b;  // handles: zero_grad is non-const
    a_.zero_grad();
    b_.zero_grad();
    *loss = matmul(a, b).sum();
    loss->backward();  // dA = 1 B^T, dB = A^T 1
  };
  return {step, [loss] { return loss->item(); }};
}

// ---- W7: a training step of examples/gpt's byte-level GPT -----------------------------------
// The example's model (examples/gpt/model.h) and its optimizer: AdamW with weight
// decay on the matrices only.
gpt::Config w7_config(int64_t block_size) {
  return {.vocab_size = bench::kW7Vocab, .block_size = block_size, .n_layer = bench::kW7Layers,
          .n_head = bench::kW7Heads, .n_embd = bench::kW7Embd};
}

Workload make_w7() {
  auto model = std::make_shared<gpt::GPT>(w7_config(bench::kW7T));
  std::vector<Tensor> decay, no_decay;
  for (const auto& [name, p] : model->named_parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto opt = std::make_shared<optim::AdamW>(std::vector<optim::AdamW::Group>{
      {decay, {.lr = 1e-3, .betas = {0.9, 0.95}, .weight_decay = 0.1}},
      {no_decay, {.lr = 1e-3, .betas = {0.9, 0.95}, .weight_decay = 0.0}}});
  const int64_t B = bench::kW7Batch, T = bench::kW7T, V = bench::kW7Vocab;
  Tensor x = Tensor::randint(0, V, {B, T}), y = Tensor::randint(0, V, {B, T});
  auto loss = std::make_shared<Tensor>();
  auto step = [=] {
    opt->zero_grad();
    Tensor logits = (*model)(x);  // [B, T, V]
    *loss = nn::cross_entropy(logits.reshape({B * T, V}), y.reshape({B * T}));
    loss->backward();
    opt->step();
  };
  return {step, [loss] { return loss->item(); }};
}

// ---- W8: one generated byte at position T - 1, with a KV cache ------------------------------
Workload make_w8(int64_t T) {
  auto model = std::make_shared<gpt::GPT>(w7_config(bench::kW8Context));
  model->eval();
  auto cache = std::make_shared<gpt::KVCache>(model->config, 1);
  {
    NoGradGuard no_grad;  // T - 1 cached positions
    model->forward(Tensor::randint(0, bench::kW7Vocab, {1, T - 1}), cache.get());
  }
  Tensor next = Tensor::randint(0, bench::kW7Vocab, {1, 1});
  auto logits = std::make_shared<Tensor>();
  auto step = [=] {
    NoGradGuard no_grad;
    cache->length = T - 1;  // forget the last step's position: every step decodes position T - 1
    *logits = model->forward(next, cache.get());
  };
  return {step, [logits] { return logits->sum().item(); }};
}

Workload make(const Spec& spec) {
  manual_seed(0);
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
  const int threads = omp_get_max_threads();
  if (!args.list && !args.rss_only)
    std::printf("info\t-\theed, %d OpenMP threads, %s\n", threads, blas_info().c_str());
  try {
    if (!args.profile) return bench::run_main(args, threads, make);
    // --profile: what the profiler costs when on. Each workload's steps run
    // under a Profiler that starts with its first step and stops when the
    // workload is dropped, keeping every event meanwhile, as a user's would.
    std::printf("info\t-\theed's profiler on for every step\n");
    return bench::run_main(args, threads, [](const bench::Spec& spec) {
      Workload w = make(spec);
      auto prof = std::make_shared<std::optional<profiler::Profiler>>();
      w.step = [step = w.step, prof] {
        if (!*prof) prof->emplace();
        step();
      };
      return w;
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heed_bench: %s\n", e.what());
    return 1;
  }
}
