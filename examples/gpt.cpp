// gpt: a byte-level GPT trained on your own text, then sampled.
//
//   gpt                                   # trains on heed's own docs and sources (no download)
//   gpt --text notes.txt --steps 3000     # any text file
//   gpt --generate "Attention is"         # continues a prompt from the saved checkpoint
//   gpt --attention-map "causal mask"     # per-head heatmaps (PNG, SVG) of where each byte looks
//   gpt --check                           # a small model for a few minutes; exit 1 unless it learned
//   gpt --profile 5                       # where a training step's time goes (table, Chrome trace)
//
// THE LESSON. A language model predicts the next byte from the ones before it.
// Trained on a text, it learns first which bytes are common (the unigram
// statistics: about 3 nats per byte for source code and prose), then which
// follow which, then words, indentation and syntax. The Transformer does this
// with causal self-attention: at every position each head scores the earlier
// positions, mixes what it finds there, and passes the result up the residual
// stream to the next block. The validation loss, in nats per byte, measures how
// far beyond the unigram statistics it got.
//
// The setup (examples/gpt/model.h has the model):
//   data      the text's bytes; the last tenth is held out for validation. A batch
//             is B random windows of T + 1 bytes (data::TextDataset, served by a
//             shuffling data::DataLoader): the first T are the input, the last T
//             (the same shifted by one) the targets.
//   model     GPT-2's architecture: token and learned position embeddings, pre-norm
//             blocks of causal self-attention and a GELU MLP, a final layer norm,
//             the output projection tied to the token embedding.
//   training  AdamW (weight decay on the matrices only), the learning rate warmed
//             up linearly and then annealed along a cosine (optim::SequentialLR of
//             LinearWarmup and CosineAnnealingLR), gradients clipped to
//             norm 1. Every --eval-every steps: the validation loss and a sample.
//   after     the checkpoint (safetensors, the config in its metadata), every step's metrics
//             (metrics.jsonl and .csv: heed::MetricsLog; build/tools/plot_metrics draws them), the loss
//             curves, and generation with a KV cache: each new byte attends over
//             the cached keys and values of the earlier ones instead of
//             recomputing them.
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/checks.h"
#include "common/distributed.h"
#include "common/options.h"
#include "common/plot.h"
#include "common/terminal.h"
#include "gpt/model.h"

using namespace heed;
namespace fs = std::filesystem;

namespace {

// ---- data ---------------------------------------------------------------------------------------

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(msg("gpt: cannot read ", path.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// With no file given: the project's own text, the docs and then the sources,
// in a fixed order (so a seed repeats a run), each file after a line naming it.
std::string default_corpus() {
  const fs::path root(HEED_SOURCE_DIR);
  std::vector<fs::path> files;
  for (const char* dir : {"docs", "core", "autograd", "ops", "nn", "optim"})
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".md" || ext == ".h" || ext == ".cpp")) files.push_back(entry.path());
    }
  std::sort(files.begin(), files.end());
  std::string text;
  for (const fs::path& f : files) text += "// " + fs::relative(f, root).string() + "\n" + read_file(f) + "\n";
  return text;
}

// The entropy of the bytes' frequencies, in nats: the loss of the best model
// that ignores context. A model that learns anything of the context goes below it.
double unigram_entropy(const std::string& text) {
  std::vector<double> count(256, 0.0);
  for (char c : text) count[static_cast<unsigned char>(c)] += 1;
  double h = 0;
  for (double n : count)
    if (n > 0) h -= n / static_cast<double>(text.size()) * std::log(n / static_cast<double>(text.size()));
  return h;
}

// Mean cross-entropy of the next byte, in nats.  logits [B, T, V], targets [B, T]
Tensor next_byte_loss(const Tensor& logits, const Tensor& targets) {
  return nn::cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
}

// ---- training ------------------------------------------------------------------------------------

// The mean loss over the next `batches` batches of the validation loader (it
// goes on from where the last evaluation stopped, so each sees fresh windows).
double evaluate(gpt::GPT& model, data::DataLoader& val, int64_t batches) {
  model.eval();
  NoGradGuard no_grad;
  double total = 0;
  int64_t seen = 0;
  while (seen < batches) {
    for (data::Batch& b : val) {
      total += next_byte_loss(model(b[0]), b[1]).item();
      if (++seen == batches) break;
    }
  }
  model.train();
  return total / static_cast<double>(batches);
}

std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\n' || (c >= 0x20 && c < 0x7f)) ? std::string(1, c) : "?";
  return out;
}

// ---- after training ------------------------------------------------------------------------------

// Every head of every layer on the prompt: a [T, T] map each, rows the position
// that looks (the query), columns where it looks (the key), bytes on both axes.
std::vector<std::string> draw_attention(const gpt::GPT& model, const std::string& prompt, const fs::path& dir) {
  NoGradGuard no_grad;
  std::vector<Tensor> maps;
  model.forward(gpt::encode(prompt), nullptr, &maps);  // each [1, H, T, T]
  std::vector<std::string> labels;
  for (char c : prompt) labels.push_back(gpt::byte_label(static_cast<unsigned char>(c)));
  std::vector<std::string> written;
  for (size_t l = 0; l < maps.size(); ++l)
    for (int64_t h = 0; h < model.config.n_head; ++h)
      for (const char* ext : {".png", ".svg"}) {
        const std::string name = "gpt_attention_layer" + std::to_string(l) + "_head" + std::to_string(h) + ext;
        examples::save_heatmap((dir / name).string(), maps[l].select(0, 0).select(0, h), labels, labels,
                               {.title = "layer " + std::to_string(l) + ", head " + std::to_string(h),
                                .x_label = "attends to (earlier bytes)", .y_label = "byte (query)",
                                .vmin = 0.0, .vmax = 1.0, .show_values = false});
        written.push_back((dir / name).string());
      }
  return written;
}

// One optimizer step on one batch (b[0], b[1]: [B, T] bytes); returns the loss.
Tensor train_step(gpt::GPT& model, optim::AdamW& opt, data::Batch& b) {
  Tensor loss = next_byte_loss(model(b[0]), b[1]);
  opt.zero_grad();
  loss.backward();
  // One unlucky batch can bring a gradient many times the usual size; capping
  // the norm at 1 keeps such a step from undoing the others.
  nn::clip_grad_norm_(model.parameters(), 1.0);
  opt.step();
  return loss;
}

// --profile N: N training steps under heed's profiler (docs chapter 14). It
// prints the table of ops, the backward nodes by where the forward made them,
// and writes a Chrome trace; then checks that the table adds up: its self times
// must come within 10% of the time the clock measured for the same steps.
int profile_training(gpt::GPT& model, optim::AdamW& opt, data::DataLoader& loader, int64_t steps,
                     const fs::path& dir) {
  const int64_t warmup = 3;  // the first steps fault in memory and fill the caches: left out
  int64_t done = 0;
  std::optional<profiler::Profiler> prof;
  auto t0 = std::chrono::steady_clock::now(), t1 = t0;
  while (!prof || prof->running()) {
    for (data::Batch& b : loader) {
      if (done == warmup) {
        prof.emplace();
        t0 = std::chrono::steady_clock::now();
      }
      train_step(model, opt, b);
      if (++done == warmup + steps) {
        t1 = std::chrono::steady_clock::now();
        prof->stop();
        break;
      }
    }
  }
  const double measured_ms = std::chrono::duration<double, std::milli>(t1 - t0).count() / static_cast<double>(steps);
  const double table_ms = static_cast<double>(prof->self_ns_sum()) * 1e-6 / static_cast<double>(steps);
  std::cout << "\nprofiled " << steps << " training steps (totals over all of them):\n\n"
            << prof->table({.row_limit = 25}) << "\nthe backward, by where the forward made each node:\n\n"
            << prof->table({.group_by_site = true, .kind = profiler::Kind::Backward, .row_limit = 12});
  const std::string trace = (dir / "gpt_trace.json").string();
  prof->write_chrome_trace(trace);
  const double share = table_ms / measured_ms;
  std::cout << std::fixed << std::setprecision(2) << "\na step took " << measured_ms
            << " ms by the clock; the table's self times add up to " << table_ms << " ms a step ("
            << std::setprecision(1) << 100 * share << "%)\nwrote " << trace
            << " (open it in chrome://tracing or ui.perfetto.dev)\n";
  examples::Checker checker;
  checker.expect(std::abs(share - 1) < 0.1, "the table's self times are within 10% of the measured step time");
  return checker.finish();
}

int train(const std::shared_ptr<gpt::GPT>& shared_model, const std::string& corpus, const fs::path& dir,
          int64_t steps, int64_t batch, double max_lr, int64_t eval_every, uint64_t seed, bool check,
          double check_level, int64_t profile_steps, examples::Distributed& distributed) {
  gpt::GPT& model = *shared_model;
  const gpt::Config& c = model.config;
  // With --distributed, every rank from here on holds rank 0's weights, and each
  // backward averages the gradients over the ranks (docs chapter 13).
  distributed.wrap(shared_model);
  const bool chief = distributed.chief();  // rank 0 (or the only process) prints and writes
  // A window of T + 1 bytes starts at every byte (stride 1): x is its first T,
  // y the same shifted by one. The last tenth, cut at a byte, is never trained
  // on (split() keeps every window on its side of the cut). The loader serves
  // the windows in a fresh shuffle each epoch: random windows, none twice in an epoch.
  const auto split = static_cast<int64_t>(static_cast<double>(corpus.size()) * 0.9);
  if (static_cast<int64_t>(corpus.size()) - split <= c.block_size + 1)
    throw ValueError(msg("gpt: the text has ", corpus.size(), " bytes; its validation tenth must be longer than "
                         "the context (", c.block_size, " + 1)"));
  auto [train_set, val_set] = data::TextDataset::bytes(corpus, c.block_size, /*stride=*/1).split(0.9);
  // Distributed, each rank takes its share of every epoch's shuffle (the same
  // shuffle on every rank: one seed) in batches of batch / N.
  data::DataLoader loader(train_set, {.batch_size = distributed.share(batch), .drop_last = true,
                                      .sampler = distributed.sampler(std::make_shared<data::RandomSampler>(seed))});
  data::DataLoader val_loader(val_set, {.batch_size = batch, .shuffle = true, .seed = seed + 1});
  const std::string train_text = corpus.substr(0, static_cast<size_t>(split));
  const double entropy = unigram_entropy(train_text);
  if (chief)
    std::cout << "text: " << corpus.size() << " bytes (" << train_set.tokens().numel() << " train, "
            << val_set.tokens().numel() << " validation); unigram entropy " << std::fixed << std::setprecision(3)
            << entropy << " nats/byte\n"
            << "model: " << c.describe() << "; " << model.num_parameters() << " parameters\n"
            << "training: " << steps << " steps of " << batch << " x " << c.block_size << " bytes, AdamW, lr "
            << max_lr << (distributed.on() ? msg(", on ", distributed.size(), " processes") : std::string()) << "\n";

  // Weight decay pulls the matrices toward 0; biases and layer-norm gains are
  // offsets and scales, and decaying them would only fight the normalization.
  std::vector<Tensor> decay, no_decay;
  for (const auto& [name, p] : model.named_parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  const optim::AdamWOptions adamw{.lr = max_lr, .betas = {0.9, 0.95}, .weight_decay = 0.1};
  optim::AdamW opt({{decay, adamw}, {no_decay, {.lr = max_lr, .betas = {0.9, 0.95}, .weight_decay = 0.0}}});
  // Linear warmup to max_lr, then half a cosine down to max_lr / 10 at the last
  // step. The warmup keeps Adam's first steps small, while its second-moment
  // estimates still rest on a few gradients.
  const int64_t warmup = std::max<int64_t>(1, std::min<int64_t>(100, steps / 10));
  auto warm = std::make_shared<optim::LinearWarmup>(opt, warmup, 1.0 / static_cast<double>(warmup));
  auto anneal = std::make_shared<optim::CosineAnnealingLR>(opt, std::max<int64_t>(1, steps - warmup), max_lr / 10);
  optim::SequentialLR schedule(opt, {warm, anneal}, {warmup});

  if (profile_steps > 0) return profile_training(model, opt, loader, profile_steps, dir);

  std::vector<double> steps_seen, train_losses, eval_steps, val_losses;
  double last_val = 0;
  std::optional<heed::ProgressBar> bar;
  if (chief) bar.emplace(steps, "train");
  // Every step's numbers, for plotting later (build/tools/plot_metrics) or while training runs.
  std::optional<heed::MetricsLog> metrics;
  if (chief) metrics.emplace((dir / "metrics").string(), std::vector<std::string>{"loss", "val_loss", "lr"});
  const auto start = std::chrono::steady_clock::now();
  int64_t step = 0;
  while (step < steps) {
    for (data::Batch& b : loader) {
      const double lr = opt.lr();
      Tensor loss = train_step(model, opt, b);
      schedule.step();
      ++step;
      steps_seen.push_back(static_cast<double>(step));
      train_losses.push_back(distributed.average(loss.item()));  // the whole batch's loss
      if (!chief) {
        if (step == steps) break;
        continue;  // the other ranks only train
      }
      bar->update(step, {{"loss", train_losses.back()}, {"lr", lr}});
      metrics->log(step, {{"loss", train_losses.back()}, {"lr", lr}});
      if (step % eval_every == 0 || step == steps) {
        last_val = evaluate(model, val_loader, 20);
        eval_steps.push_back(static_cast<double>(step));
        val_losses.push_back(last_val);
        metrics->log(step, {{"val_loss", last_val}});
        model.eval();
        const std::string sample = gpt::generate(model, "\n", 160, 0.8, 40);
        model.train();
        if (bar->live()) std::cout << "\n";  // below the bar's line, which the next update redraws
        std::cout << "step " << step << ": train " << std::setprecision(3) << train_losses.back() << ", validation "
                  << last_val << " nats/byte\n  sample: " << printable(sample.substr(1)) << "\n";
      }
      if (step == steps) break;
    }
  }
  if (!chief) return 0;
  bar->finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "trained in " << std::setprecision(1) << seconds << " s (" << std::setprecision(3)
            << static_cast<double>(steps) / seconds << " steps/s)\n";

  const std::string checkpoint = (dir / "gpt.safetensors").string();
  model.save(checkpoint, {{"step", std::to_string(steps)}, {"val_loss", std::to_string(last_val)}});
  std::vector<std::string> written{checkpoint, metrics->jsonl_path(), metrics->csv_path()};
  for (const char* ext : {".png", ".svg"}) {
    const std::string path = (dir / (std::string("gpt_loss") + ext)).string();
    examples::save_line_plot(path, {{"train", steps_seen, train_losses}, {"validation", eval_steps, val_losses}},
                             {.title = "next-byte cross-entropy (nats)"});
    written.push_back(path);
  }
  for (const std::string& p : written) std::cout << "wrote " << p << "\n";
  if (!check) return 0;

  examples::Checker checker;
  checker.expect(std::isfinite(last_val), "the validation loss is finite");
  checker.expect(last_val < check_level,
                 msg("validation loss ", last_val, " < ", check_level, " nats/byte (the unigram entropy is ", entropy,
                     ")"));
  model.eval();
  {
    NoGradGuard no_grad;  // the cache and the full forward agree on the last position
    const std::string text = "// the KV cache: one position at a time";
    gpt::KVCache cache(c, 1);
    Tensor cached;
    for (char ch : text) cached = model.forward(gpt::encode(std::string(1, ch)), &cache);
    Tensor full = model.forward(gpt::encode(text));
    checker.expect(max(abs(cached.select(1, 0) - full.select(1, full.size(1) - 1))).item() < 1e-4,
                   "the KV cache gives the full forward's logits");
  }
  for (const std::string& p : draw_attention(model, "// causal", dir))
    checker.expect(examples::file_written(p), "wrote " + p);
  for (const std::string& p : written) checker.expect(examples::file_written(p), "wrote " + p);
  return checker.finish();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A byte-level GPT, trained on any text file (by default heed's own docs and sources)"};
  uint64_t seed = 0;
  int64_t steps = 2000, batch = 8, layers = 4, heads = 4, embd = 256, context = 128, eval_every = 250;
  int64_t tokens = 400, top_k = 40, profile_steps = 0;
  double lr = 1e-3, dropout = 0.0, temperature = 0.8;
  std::string out_dir = "heed_out", text_path, prompt, map_prompt, checkpoint;
  bool check = false, no_cache = false;
  examples::add_common_options(app, seed, steps, out_dir, check, "training steps, one batch each",
                               "train a small model for a few minutes; exit 1 unless its validation loss is below "
                               "1.5 nats/byte, the KV cache matches the full forward and the files exist");
  app.add_option("--text", text_path, "the text file to train on (default: heed's docs and sources)");
  app.add_option("--batch", batch, "windows per batch (B)")->check(CLI::PositiveNumber);
  app.add_option("--context", context, "bytes per window, the model's block_size (T)")->check(CLI::PositiveNumber);
  app.add_option("--layers", layers, "Transformer blocks")->check(CLI::PositiveNumber);
  app.add_option("--heads", heads, "attention heads per block")->check(CLI::PositiveNumber);
  app.add_option("--embd", embd, "the residual stream's width C")->check(CLI::PositiveNumber);
  app.add_option("--dropout", dropout, "dropout while training");
  app.add_option("--lr", lr, "AdamW's peak learning rate")->check(CLI::PositiveNumber);
  app.add_option("--eval-every", eval_every, "steps between validation losses and samples")
      ->check(CLI::PositiveNumber);
  app.add_option("--generate", prompt, "continue this prompt with the checkpoint's model, then exit");
  app.add_option("--attention-map", map_prompt, "draw every head's attention on this prompt, then exit");
  app.add_option("--checkpoint", checkpoint, "the checkpoint to read (default: OUT/gpt.safetensors)");
  app.add_option("--tokens", tokens, "bytes to generate")->check(CLI::NonNegativeNumber);
  app.add_option("--temperature", temperature, "sampling temperature (0: always the most likely byte)");
  app.add_option("--top-k", top_k, "sample among the k most likely bytes only (0: all)");
  app.add_flag("--no-cache", no_cache, "generate without the KV cache (recompute the whole context per byte)");
  app.add_option("--profile", profile_steps,
                 "profile this many training steps: print where the time goes, write a Chrome trace, then exit")
      ->check(CLI::NonNegativeNumber);
  examples::Distributed distributed;
  distributed.add_option(app);
  CLI11_PARSE(app, argc, argv);
  examples::prepare_run(seed, out_dir);
  const fs::path dir(out_dir);
  if (checkpoint.empty()) checkpoint = (dir / "gpt.safetensors").string();

  try {
    distributed.start(argc, argv);  // with --distributed: MPI, for the whole run
    // ---- sample or draw from a saved model ----------------------------------------------------------
    if (!prompt.empty() || !map_prompt.empty()) {
      gpt::GPT model(gpt::GPT::read_config(checkpoint));
      model.load(checkpoint);
      model.eval();
      std::cout << "model: " << model.config.describe() << " from " << checkpoint << "\n";
      if (!map_prompt.empty()) {
        const std::string p = map_prompt.substr(0, static_cast<size_t>(model.config.block_size));
        for (const std::string& path : draw_attention(model, p, dir)) std::cout << "wrote " << path << "\n";
      }
      if (!prompt.empty()) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::string text = gpt::generate(model, prompt, tokens, temperature, top_k, !no_cache);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cout << printable(text) << "\n\n"
                  << tokens << " bytes in " << std::setprecision(3) << s << " s ("
                  << static_cast<double>(tokens) / s << " bytes/s, " << (no_cache ? "no cache" : "KV cache") << ")\n";
      }
      return 0;
    }

    // ---- train ------------------------------------------------------------------------------------
    // --check trains a small model: two blocks of width 128 over 64 bytes learn
    // the docs' words and the code's layout in a few minutes on 2 cores. Its
    // validation loss was 1.39 nats/byte after the 4000 steps (the bytes'
    // unigram entropy is 3.47); the check asks for 1.5, room for another seed
    // or machine, and still far below what byte frequencies alone give.
    if (check) {
      layers = 2, heads = 4, embd = 128, context = 64, batch = 16, eval_every = 1000;
      if (app.count("--steps") == 0) steps = 4000;
    }
    const std::string corpus = text_path.empty() ? default_corpus() : read_file(text_path);
    auto model = std::make_shared<gpt::GPT>(
        gpt::Config{.block_size = context, .n_layer = layers, .n_head = heads, .n_embd = embd, .dropout = dropout});
    return train(model, corpus, dir, steps, batch, lr, eval_every, seed, check, /*check_level=*/1.5, profile_steps,
                 distributed);
  } catch (const heed::Error& e) {
    std::cerr << "gpt: " << e.what() << "\n";
    distributed.abort_job();  // the other ranks may be waiting for this one
    return 1;
  }
}
