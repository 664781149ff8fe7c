// Chapter 9: every heed call of the PyTorch-to-heed table, in the table's order,
// so the table cannot name a call that does not exist: docs_quotes checks that
// each heed cell of the table occurs in this file word for word, and ctest runs it.
#include <heed/heed.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "check.h"

using namespace heed;
using tour::check;

// A module with one parameter of its own, like a PyTorch module that sets
// self.w = nn.Parameter(torch.ones(8)) in __init__.
struct Scale : nn::UnaryModule {
  Scale() : w(register_parameter("w", Tensor::ones({8}))) {}
  Tensor forward(const Tensor& x) const override { return x * w; }
  Tensor w;
};

int main() {
  // ---- tensors ----
  manual_seed(0);
  Tensor lit = Tensor({{1, 2}, {3, 4}});
  Tensor z = Tensor::zeros({2, 3}), r = Tensor::randn({2, 3}, kFloat64), x = r.to(kFloat32);
  Tensor o = Tensor::ones_like(x), six = Tensor::arange(6);
  check(lit.at({1, 0}) == 3 && z.sum().item() == 0 && o.sum().item() == 6 && six.numel() == 6, "factories");
  check(x.shape() == Shape{2, 3} && x.size(-1) == 3 && x.dim() == 2, "shape(), size(), dim()");
  check(x.view({3, 2}).shape() == Shape{3, 2} && x.reshape({-1}).numel() == 6, "view, reshape");
  {
    const int64_t B = 2, T = 3, C = 8, NH = 2;
    Tensor qkv = Tensor::randn({B, T, 3 * C});
    Tensor kk = qkv.slice(2, C, 2 * C);
    check(kk.view({B, T, NH, C / NH}).shares_storage(qkv), "a view of the k columns of a fused projection, no copy");
  }
  check(x.t().shape() == Shape{3, 2} && x.transpose(0, 1).shape() == Shape{3, 2} && x.permute({1, 0}).dim() == 2,
        "t, transpose, permute");
  check(x.unsqueeze(0).dim() == 3 && x.squeeze(0).dim() == 2, "unsqueeze, squeeze (a no-op: dim 0 has size 2)");
  check(x.select(0, 1).numel() == 3 && x.slice(1, 1, 3).numel() == 4 && x.slice(1, 0, 3, 2).numel() == 4,
        "select, slice");
  Tensor s = x.sum();
  check(std::abs(s.item() - (x.to_vector<float>()[0] + x.select(0, 0).slice(0, 1, 3).sum().item() +
                             x.select(0, 1).sum().item())) < 1e-5,
        "item, to_vector");
  check(x.contiguous().is_contiguous() && !x.clone().shares_storage(x) && x.to(kFloat64).dtype() == kFloat64,
        "contiguous, clone, to");
  {
    Tensor a = Tensor::randn({2, 3}), b = Tensor::randn({3, 2});
    check(matmul(a, b).shape() == Shape{2, 2}, "matmul");
  }
  check(x.sum({1}, true).shape() == Shape{2, 1} && x.mean().dim() == 0 && x.var({1}).shape() == Shape{2}, "sum, mean, var");
  check(x.max(1).shape() == Shape{2} && x.argmax(1).dtype() == kInt64, "max, argmax");
  check(tour::max_diff(softmax(x, -1).sum({-1}), Tensor::ones({2})) < 1e-6, "softmax");
  check(tour::max_diff(x.abs(), abs(x)) == 0 && tour::max_diff(x.exp(), exp(x)) == 0 &&
            tour::max_diff(x.tanh(), tanh(x)) == 0 && tour::max_diff(x.relu(), relu(x)) == 0,
        "x.abs(), x.exp(), x.tanh(), x.relu()");
  {
    Tensor a = Tensor::randn({2, 3}), b = Tensor::randn({2, 3});
    check(cat({a, b}, 0).shape() == Shape{4, 3} && stack({a, b}, 0).shape() == Shape{2, 2, 3}, "cat, stack");
    Tensor mask = gt(x, Tensor::zeros({1}));  // 1 where x > 0, else 0, in x's dtype
    check(tour::max_diff(where(mask, a, b), a * mask + b * (1 - mask)) == 0 && max(masked_fill(x, mask, 0)).item() <= 0,
          "where, masked_fill");
  }

  {
    Generator g(7);
    Tensor u = Tensor::rand({3}, kFloat32, g), perm = Tensor::randperm(10);
    const std::string state = get_rng_state();
    Tensor again = Tensor::randn({2});
    set_rng_state(state);
    check(u.numel() == 3 && perm.sum().item() == 45 && Tensor::randn({2}).to_vector() == again.to_vector(),
          "Generator, randperm, get_rng_state, set_rng_state");
  }

  // ---- autograd ----
  Tensor w = Tensor::randn({3});
  w.requires_grad_();
  auto hook = [](const Tensor& g) { return g * 1.0; };
  w.register_hook(hook);
  Tensor loss = matmul(x, w).pow(2).sum();
  loss.backward();
  check(w.grad().shape() == Shape{3}, "requires_grad_, register_hook, backward, grad");
  {
    NoGradGuard no_grad;
    check(!matmul(x, w).requires_grad() && !w.detach().requires_grad(), "NoGradGuard, detach");
  }
  {
    DetectAnomalyGuard anomaly;
    auto f = [](const TensorList& in) { return tanh(in[0]); };
    check(gradcheck(f, {x}), "DetectAnomalyGuard, gradcheck");
  }
  {
    DetectAnomalyGuard anomaly(true, true);
    check(is_anomaly_forward_check_enabled(), "DetectAnomalyGuard anomaly(true, true): the forward too");
  }
  {
    profiler::Profiler prof;
    {
      profiler::Scope label("attn");
      tanh(x).sum();
    }
    prof.stop();
    check(prof.table().find("attn") != std::string::npos, "profiler::Profiler, profiler::Scope, table()");
    prof.write_chrome_trace("trace.json");
    check(std::ifstream("trace.json").good(), "write_chrome_trace");
  }

  // ---- nn ----
  auto model = std::make_shared<nn::Sequential>();
  model->add(std::make_shared<nn::Linear>(4, 8)).add(std::make_shared<nn::ReLU>()).add(std::make_shared<Scale>());
  check(model->parameters().size() == 3 && model->named_parameters()[2].first == "2.w",
        "register_parameter, parameters, named_parameters");
  model->eval();
  model->train();
  {
    NoGradGuard no_grad;
    auto init = [](nn::Module& m) {
      if (auto* linear = dynamic_cast<nn::Linear*>(&m)) {
        linear->weight.normal_(0, 0.02);
        linear->bias.zero_();
      }
    };
    model->apply(init);
    Tensor w = Tensor::empty({4});
    Generator g(7);
    w.uniform_(-1, 1);
    w.normal_(0, 1, g);
    w.fill_(1);
    check(model->named_parameters()[1].second.abs().sum().item() == 0 && w.sum().item() == 4,
          "apply with an init function; uniform_, normal_, fill_ in place");
  }
  model->load_state_dict(model->state_dict());
  const std::string path = "pytorch_table.safetensors";
  save(*model, path);
  load(*model, path);
  {
    const StateDict s = model->state_dict();
    const std::string b = save_safetensors_to_bytes(s);
    check(load_safetensors_from_bytes(b).size() == s.size(), "save_safetensors_to_bytes, load_safetensors_from_bytes");
    save_safetensors(s, path, {}, FloatFormat::BF16);
    const StateDict halves = load_safetensors(path);
    check(halves.at("0.weight").dtype() == kFloat32, "a BF16 file loads into float32 tensors");
  }

  nn::Sequential mlp{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Tanh>()};
  nn::LSTM lstm(4, 8, {.num_layers = 2, .batch_first = true});
  nn::LSTM bi(4, 8, {.num_layers = 2, .dropout = 0.1, .bidirectional = true});
  {
    Tensor x = Tensor::randn({5, 3, 4}), lengths = Tensor({5, 2, 4}, kInt64);
    nn::LSTMOutput padded = bi.forward_padded(x, lengths);
    check(padded.output.shape() == Shape{5, 3, 16} && padded.h.shape() == Shape{4, 3, 8},
          "a bidirectional LSTM over a padded batch: [T, B, 2H] out, [L 2, B, H] states");
  }
  {
    nn::GRU gru(4, 8, {.batch_first = true});
    nn::GRUCell cell(4, 8);
    Tensor x = Tensor::randn({2, 5, 4});
    auto [out, h] = gru(x);
    check(out.shape() == Shape{2, 5, 8} && h.shape() == Shape{1, 2, 8} && cell(x.select(1, 0)).shape() == Shape{2, 8},
          "GRU and GRUCell");
  }
  nn::MultiheadAttention mha(8, 2, {.batch_first = true});
  nn::Embedding emb(10, 4, 0);
  Tensor ids = Tensor::randint(0, 8, {2, 5});  // the ids double as class targets: 8 classes
  Tensor seq = lstm(emb(ids)).output;           // [2, 5, 8]
  Tensor q = mha(seq, seq, seq).output, k = seq, v = seq;
  Tensor logits = nn::scaled_dot_product_attention(q, k, v).output.reshape({10, 8});
  Tensor targets = ids.reshape({10});
  Tensor y = (*model)(Tensor::randn({10, 4})), t = mlp(Tensor::randn({10, 4}));
  Tensor total = nn::cross_entropy(logits, targets, {.ignore_index = 0}) + nn::mse_loss(y, t);
  check(total.dim() == 0, "Linear, Sequential, LSTM, MultiheadAttention, Embedding, attention, losses");

  // ---- Transformers ----
  nn::TransformerEncoderLayer layer(16, 4, {.dim_feedforward = 32, .activation = "gelu", .batch_first = true, .norm_first = true});
  nn::TransformerLayerOptions options{.dim_feedforward = 32, .activation = "gelu_tanh", .batch_first = true};
  nn::TransformerEncoder enc(16, 4, 2, options, /*final_norm=*/true);
  nn::TransformerDecoder dec(16, 4, 2, options);
  Tensor tgt = Tensor::randn({2, 5, 16}), memory = enc(layer(Tensor::randn({2, 7, 16})));
  dec.eval();  // no dropout: the two calls below must agree
  Tensor with_mask = dec(tgt, memory, nn::generate_square_subsequent_mask(5));
  Tensor with_flag = dec(tgt, memory, {}, {}, {}, {}, /*tgt_is_causal=*/true);
  check(tour::max_diff(with_mask, with_flag) < 1e-6 && enc.state_dict().contains("layers.1.linear2.weight"),
        "Transformer layers and stacks; a causal mask and is_causal agree; PyTorch's names");
  check(tour::max_diff(gelu_tanh(tgt), nn::GELU("tanh")(tgt)) == 0, "gelu_tanh");
  nn::Transformer transformer({.d_model = 16, .nhead = 4, .num_encoder_layers = 2, .num_decoder_layers = 2, .layer = {.batch_first = true}});
  check(transformer(Tensor::randn({2, 7, 16}), tgt).shape() == Shape{2, 5, 16},
        "the whole encoder-decoder Transformer: [B, S, E] and [B, T, E] in, [B, T, E] out");
  nn::ModuleList list;
  list.push_back(std::make_shared<nn::Linear>(16, 16));
  check(list.state_dict().contains("0.weight"), "ModuleList names its members 0, 1, ...");
  nn::ModuleDict heads{{"topic", std::make_shared<nn::Linear>(16, 3)}};
  check(heads.at<nn::Linear>("topic")->weight.shape() == Shape{3, 16} && heads["topic"] &&
            heads.state_dict().contains("topic.weight"),
        "ModuleDict names its members by key");
  {
    namespace F = heed::nn::functional;
    const int64_t C = 16;
    const bool training = true;
    Tensor h = Tensor::randn({2, 5, C}), lw = Tensor::randn({C, C}), lb = Tensor::zeros({C});
    Tensor g = Tensor::ones({C}), b = Tensor::zeros({C}), ew = Tensor::randn({10, C});
    h = F::linear(h, lw, lb);
    h = F::layer_norm(h, {C}, g, b) + F::embedding(ids, ew);
    h = F::gelu(h, "tanh") + F::relu(h);
    h = F::dropout(h, 0.1, training);
    check(F::softmax(h, -1).shape() == Shape{2, 5, C}, "nn::functional: the layers as functions");
  }

  // ---- data ----
  {
    Tensor xs = Tensor::randn({100, 3}), ys = Tensor::randn({100});
    data::TensorDataset ds({xs, ys});
    check(ds.size() == 100 && ds.get(3).size() == 2, "TensorDataset, size, get");
    data::DataLoader loader(ds, {.batch_size = 32, .shuffle = true, .num_workers = 2});
    int64_t seen = 0;
    for (data::Batch& b : loader) { Tensor x = b[0], y = b[1]; seen += y.size(0); }
    check(seen == 100 && loader.size() == 4, "DataLoader: 4 batches, the last one short");
    data::SequencePairDataset pairs({{1, 2, 3}, {4}}, {{5}, {6, 7}});
    data::DataLoader padded(pairs, {.batch_size = 2, .collate = data::pad_collate(0)});
    data::Batch b = *padded.begin();
    check(b[0].shape() == Shape{2, 3} && b.masks[0].sum().item() == 2 && b.lengths[1].sum().item() == 3,
          "pad_collate: padded fields, their masks and lengths");
    const int64_t r = 1, w = 2, seed = 0;
    data::DataLoader shard(ds, {.batch_size = 10, .sampler = std::make_shared<data::ShardSampler>(std::make_shared<data::RandomSampler>(seed), r, w)});
    check(shard.size() == 5, "a sampler that takes rank 1's half of each epoch");
  }

  // ---- optim ----
  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  optim::CosineAnnealingLR sched(opt, 100);
  opt.zero_grad();
  total.backward();
  nn::clip_grad_norm_(model->parameters(), 1.0);
  opt.step();
  sched.step();
  check(opt.lr() < 1e-3, "Adam, zero_grad, backward, clip_grad_norm_, step, CosineAnnealingLR");
  {
    optim::SGD opt(model->parameters(), {.lr = 0.1});  // this block's own optimizer
    optim::LambdaLR decay(opt, [](int64_t e) { return std::pow(0.95, e); });
    auto warmup = std::make_shared<optim::LinearWarmup>(opt, 10, 0.01);
    auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 90);
    optim::SequentialLR chain(opt, {warmup, cosine}, {10});
    optim::LRScheduler& sched = chain;
    sched.set_last_epoch(5);
    check(std::abs(opt.lr() - 0.1 * (0.01 + 0.99 * 0.5)) < 1e-12, "SequentialLR: epoch 5 is halfway up the warmup");
    StateDict s = sched.state_dict();
    sched.step();
    sched.load_state_dict(s);
    check(sched.last_epoch() == 5, "a scheduler's state_dict and load_state_dict");
    optim::OneCycleLR one_cycle(opt, 0.1, 100);
    check(std::abs(opt.lr() - 0.1 / 25) < 1e-12, "OneCycleLR starts at max_lr / 25");
    check(opt.momentum(0) == 0.95, "and momentum at max_momentum");
    opt.set_momentum(0, 0.9);
    optim::ReduceLROnPlateau plateau(opt, {.factor = 0.5, .patience = 3});
    const double val_loss = 1.0;
    for (int i = 0; i < 5; ++i) plateau.step(val_loss);
    check(std::abs(opt.lr() - 0.1 / 25 / 2) < 1e-12, "ReduceLROnPlateau: the 4th epoch without progress halves the lr");
    check(decay.lr_at(1.0, 2) == 0.95 * 0.95, "LambdaLR's factor");
  }
  {
    nn::Linear net(3, 2);
    optim::SGD opt(net.parameters(), {.lr = 0.1});
    optim::StepLR sched(opt, 10);
    data::DataLoader loader(data::TensorDataset({Tensor::randn({8, 3})}), {.batch_size = 4});
    optim::TrainingState run{.model = &net, .optimizer = &opt, .scheduler = &sched, .loader = &loader};
    run.step = 3;
    optim::save_training_state(run, "run.safetensors");
    run.step = 0;
    optim::load_training_state(run, "run.safetensors");
    check(run.step == 3, "the whole training state in one file, and back");
  }
  {
    nn::Linear net(3, 1);
    optim::SGD opt(net.parameters(), {.lr = 0.1});
    const int64_t steps = 8;
    const double lr = 0.1;
    GradientAccumulation accumulate(opt, 4);
    {
      ProgressBar bar(steps, "train");  // to std::cout: plain lines here, a live bar on a terminal
      MetricsLog log("run", {"loss", "lr"});
      for (int64_t step = 1; step <= steps; ++step) {
        Tensor loss = net(Tensor::randn({2, 3})).pow(2).mean();
        const double l = loss.item();
        accumulate.backward(loss);
        bar.update(step, {{"loss", l}, {"lr", lr}});
        log.log(step, {{"loss", l}});
      }
    }
    check(accumulate.pending() == 0 && std::filesystem::file_size("run.csv") > 0,
          "ProgressBar, MetricsLog, GradientAccumulation (8 micro-batches: two steps)");
    Tensor x = Tensor::randn({2, 3});
    std::cout << nn::summary(net, [&] { net(x); });
    check(nn::summary(net, [&] { net(x); }).find("[2, 1]") != std::string::npos, "nn::summary with output shapes");
  }
  std::cout << x << "\n";
  return tour::failures();
}
