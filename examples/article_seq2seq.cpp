// article_seq2seq: an LSTM encoder, an LSTM decoder, and attention between them.
//
// Ports seed article 002 ("人类注意力增强", enhancing human attention), section
// "5. 项目实践：代码实例和详细解释说明" (project practice: code and explanation):
// a Seq2SeqModel made of an Encoder (nn.LSTM), a Decoder (nn.LSTM + Linear) and an
// Attention module with W_Q, W_K, W_V and out, built as
// Seq2SeqModel(256, 512, 128, 256, 0.2) and run on source [1, 10, 256] and target
// [1, 10, 512], printing the output. Here the same classes, hyperparameters and
// shapes, then a short training run on a toy task to see that it learns.
//
// What the original got wrong, and what heed does instead:
//  1. Attention is never used. Seq2SeqModel builds self.attention and hands it to
//     the decoder, whose forward ignores it: the output is out(lstm(target)), and
//     section 5.3's "最终通过注意力机制进行加权求和" (finally a weighted sum by
//     attention) never happens. Here the decoder's hidden state at each step is
//     the query, the encoder's outputs are the keys and values, and the context
//     joins the output: out(h_t) + attention(h_t, enc, enc). (The sum of two linear
//     maps is one Linear over the concatenation [h_t; context_t]: Luong et al.'s
//     attentional output, without its tanh.)
//  2. The Attention class is wrong too, had it been called: softmax(score, dim=1)
//     on scores [B, Tq, Tk] normalises over the QUERIES, not the keys. The columns
//     sum to 1, a decoder step's weights do not, and step t's weights depend on
//     every other step's query, those after t included. With the decoder reading
//     the target, that is the future leaking into the past. heed's
//     scaled_dot_product_attention takes the softmax over the keys (the last dim).
//     The program measures the leak: change the last target step and see step 0's
//     weights move under dim=1, and stay put under heed's.
//  3. The attention's input width is encoder_dim (the SOURCE feature width), but
//     its keys are the encoder's OUTPUTS, hidden_dim wide, and its query the
//     decoder's hidden state, also hidden_dim wide. The article's numbers hide the
//     bug (256 = 256), and so does never calling it; once called (fix 1),
//     Seq2SeqModel(100, ...) would fail. Here: Attention(hidden_dim, decoder_dim),
//     so its output is decoder_dim wide, like the decoder's.
//  4. Two more Attention modules, encoder.attention (256 -> 256) and
//     decoder.attention (512 -> 512, which could not even take the 256-wide decoder
//     state), are built and never called: 1.3 M parameters that an optimizer would
//     carry and never change. They are left out (the program counts them).
//  5. nn.LSTM(..., dropout=0.2) with one layer does nothing (PyTorch warns: dropout
//     acts between stacked layers only). heed's LSTM has no dropout option; the
//     article's 0.2 is applied with nn::Dropout to each LSTM's output sequence,
//     where a second layer would have received it, and switched off by eval().
//  6. Q K^T without 1/sqrt(D), as in the article's formula Softmax(QK^T)V: with
//     Q and K 512 wide the scores spread ~sqrt(512) times wider and the softmax
//     saturates (gradient ~0). scaled_dot_product_attention divides by sqrt(D).
//  7. The decoder reads `target` itself. Trained that way, step t would copy its
//     input y_t. For training, the decoder reads the target shifted right by one
//     step (zeros first): teacher forcing, so step t predicts y_t from y_<t and the
//     source. attention_dim (128) is stored and never used, in the article and here.
//  8. There is no training code ("# 训练代码 # ..."). Here: a toy task where
//     attention is needed, target = reverse(source) projected to 512 features, so
//     decoder step t must look at source step 9 - t; MSE and Adam, loss printed.
//
//   article_seq2seq --out seq2seq_out          # pictures in seq2seq_out/
//   article_seq2seq --check                    # exits 1 if a claim fails
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/plot.h"
#include "common/terminal.h"

using namespace heed;

namespace {

// Dims: B batch, S source steps, T target steps, H hidden_dim,
// Ds encoder_dim (source features), Dt decoder_dim (target features).

// ---- the article's three classes, and the model that joins them --------------------

// The article's Attention: learned projections of query, key and value, a softmax
// over the keys, and an output projection.
//   Q = W_Q(query) [B, T, O],  K = W_K(key), V = W_V(value) [B, S, O]
//   output = out(softmax(Q K^T / sqrt(O)) V)  [B, T, O]
class Attention : public nn::Module {
 public:
  Attention(int64_t in_dim, int64_t out_dim)
      : in_dim(in_dim),
        out_dim(out_dim),
        W_Q(register_module("W_Q", std::make_shared<nn::Linear>(in_dim, out_dim))),
        W_K(register_module("W_K", std::make_shared<nn::Linear>(in_dim, out_dim))),
        W_V(register_module("W_V", std::make_shared<nn::Linear>(in_dim, out_dim))),
        out(register_module("out", std::make_shared<nn::Linear>(out_dim, out_dim))) {}

  // query [B, T, in], key and value [B, S, in] -> {output [B, T, O], weights [B, T, S]}
  nn::AttentionResult forward(const Tensor& query, const Tensor& key, const Tensor& value) const {
    Tensor Q = (*W_Q)(query), K = (*W_K)(key), V = (*W_V)(value);
    // FIX (2, 6): the article's F.softmax(score, dim=1) normalised over the queries
    // and did not scale. Here softmax runs over the keys, of Q K^T / sqrt(O).
    auto [context, weights] = nn::scaled_dot_product_attention(Q, K, V);
    return {(*out)(context), weights};
  }
  nn::AttentionResult operator()(const Tensor& query, const Tensor& key, const Tensor& value) const {
    return forward(query, key, value);
  }

  int64_t in_dim, out_dim;
  std::shared_ptr<nn::Linear> W_Q, W_K, W_V, out;
};

class Encoder : public nn::Module {
 public:
  Encoder(int64_t encoder_dim, int64_t attention_dim, int64_t hidden_dim, double dropout_prob)
      : encoder_dim(encoder_dim),
        attention_dim(attention_dim),
        hidden_dim(hidden_dim),
        dropout_prob(dropout_prob),
        lstm(register_module("lstm", std::make_shared<nn::LSTM>(encoder_dim, hidden_dim,
                                                                nn::LSTMOptions{.batch_first = true}))),
        // FIX (5): PyTorch's one-layer LSTM ignored dropout=0.2; here it is a real layer.
        dropout(register_module("dropout", std::make_shared<nn::Dropout>(dropout_prob))) {}
  // FIX (4): no self.attention here; the article's Attention(256, 256) was never called.

  // source [B, S, Ds] -> {output [B, S, H], h and c [1, B, H]}
  nn::LSTMOutput forward(const Tensor& source) const {
    nn::LSTMOutput encoded = (*lstm)(source);
    encoded.output = (*dropout)(encoded.output);
    return encoded;
  }
  nn::LSTMOutput operator()(const Tensor& source) const { return forward(source); }

  int64_t encoder_dim, attention_dim, hidden_dim;
  double dropout_prob;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Dropout> dropout;
};

// What the decoder returns: its output, the attention weights it used (to plot),
// and its final state (the article's decoder_state).
struct DecoderOutput {
  Tensor output;   // [B, T, Dt]
  Tensor weights;  // [B, T, S]: row t is where decoder step t looked in the source
  Tensor h, c;     // [1, B, H]
};

class Decoder : public nn::Module {
 public:
  Decoder(int64_t decoder_dim, int64_t attention_dim, int64_t hidden_dim, double dropout_prob)
      : decoder_dim(decoder_dim),
        attention_dim(attention_dim),
        hidden_dim(hidden_dim),
        dropout_prob(dropout_prob),
        lstm(register_module("lstm", std::make_shared<nn::LSTM>(decoder_dim, hidden_dim,
                                                                nn::LSTMOptions{.batch_first = true}))),
        out(register_module("out", std::make_shared<nn::Linear>(hidden_dim, decoder_dim))),
        dropout(register_module("dropout", std::make_shared<nn::Dropout>(dropout_prob))) {}
  // FIX (4): no self.attention = Attention(512, 512) either: it could not take the
  // 256-wide decoder state, and it was never called.

  // target [B, T, Dt] (the decoder's input), encoder_output [B, S, H], the encoder's
  // final state as the decoder's first -> output [B, T, Dt], weights [B, T, S].
  DecoderOutput forward(const Tensor& target, const Tensor& encoder_output, const nn::LSTMOutput& encoder_state,
                        const Attention& attention) const {
    nn::LSTMOutput decoded = (*lstm)(target, encoder_state.h, encoder_state.c);  // output [B, T, H]
    Tensor h = (*dropout)(decoded.output);
    // FIX (1): the article stopped at out(h). Each decoder step's state asks the
    // encoder's outputs "which source step do I need now?", and what it gets back
    // joins the output.
    auto [context, weights] = attention(h, encoder_output, encoder_output);  // [B, T, Dt], [B, T, S]
    return {(*out)(h) + context, weights, decoded.h, decoded.c};
  }
  DecoderOutput operator()(const Tensor& target, const Tensor& encoder_output, const nn::LSTMOutput& encoder_state,
                           const Attention& attention) const {
    return forward(target, encoder_output, encoder_state, attention);
  }

  int64_t decoder_dim, attention_dim, hidden_dim;
  double dropout_prob;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> out;
  std::shared_ptr<nn::Dropout> dropout;
};

class Seq2SeqModel : public nn::Module {
 public:
  Seq2SeqModel(int64_t encoder_dim, int64_t decoder_dim, int64_t attention_dim, int64_t hidden_dim,
               double dropout_prob)
      : encoder(register_module("encoder", std::make_shared<Encoder>(encoder_dim, attention_dim, hidden_dim,
                                                                     dropout_prob))),
        decoder(register_module("decoder", std::make_shared<Decoder>(decoder_dim, attention_dim, hidden_dim,
                                                                     dropout_prob))),
        // FIX (3): the article's Attention(encoder_dim, decoder_dim) takes queries and
        // keys of the source's width; they are hidden_dim wide (encoder outputs and
        // decoder states).
        attention(register_module("attention", std::make_shared<Attention>(hidden_dim, decoder_dim))) {}

  // source [B, S, Ds], target [B, T, Dt] -> output [B, T, Dt] (and the weights)
  DecoderOutput forward(const Tensor& source, const Tensor& target) const {
    nn::LSTMOutput encoded = (*encoder)(source);
    return (*decoder)(target, encoded.output, encoded, *attention);
  }
  DecoderOutput operator()(const Tensor& source, const Tensor& target) const { return forward(source, target); }

  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<Decoder> decoder;
  std::shared_ptr<Attention> attention;
};

// ---- the toy task: reverse the source -------------------------------------------------
// target_t = source_{S-1-t} P, with P a fixed random [Ds, Dt] map scaled so each
// target feature has variance ~1 (predicting 0 everywhere scores MSE ~1). Step t
// needs source step S-1-t: an LSTM alone would have to carry all ten steps in its
// state; attention can look the right one up.
struct Batch {
  Tensor source;         // [B, S, Ds]
  Tensor decoder_input;  // [B, T, Dt]: the target shifted right, zeros at t = 0
  Tensor target;         // [B, T, Dt]
};

Batch make_batch(int64_t B, int64_t S, const Tensor& projection) {
  const int64_t Ds = projection.size(0), Dt = projection.size(1);
  std::vector<int64_t> reversed(S);
  std::iota(reversed.rbegin(), reversed.rend(), int64_t{0});  // S-1, ..., 1, 0
  Tensor source = Tensor::randn({B, S, Ds});
  Tensor target = matmul(index_select(source, 1, Tensor::from_vector(reversed, {S})), projection);
  // FIX (7): teacher forcing. Step t reads y_{t-1}, never y_t.
  Tensor decoder_input = concat({Tensor::zeros({B, 1, Dt}), target.slice(1, 0, S - 1)}, 1);
  return {source, decoder_input, target};
}

// How much of each decoder step's attention lands on the source step it needs
// (S-1-t), averaged over steps and batch. 1/S = 0.1 for uniform attention.
double mirror_mass(const Tensor& weights) {  // weights [B, T, S]
  const int64_t S = weights.size(-1);
  Tensor mirror = Tensor::zeros({S, S});
  for (int64_t t = 0; t < S; ++t) mirror.slice(0, t, t + 1).slice(1, S - 1 - t, S - t).fill_(1);
  return (weights * mirror).sum({-1}).mean().item();
}

}  // namespace

int main(int argc, char** argv) {
  // ---- options ---------------------------------------------------------------------
  CLI::App app{"The seed article 002's Seq2Seq model (LSTM encoder, LSTM decoder, attention), fixed and trained"};
  uint64_t seed = 0;
  int64_t steps = 500;
  int64_t batch_size = 16;
  double lr = 1e-3;
  std::string out_dir = "seq2seq_out";
  bool check = false;
  examples::add_common_options(app, seed, steps, out_dir, check,
                               "training steps on the toy task",
                               "verify the claims below and exit 1 if one fails");
  app.add_option("--batch", batch_size, "sequences per training step")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam's learning rate")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  examples::prepare_run(seed, out_dir);
  auto start = std::chrono::steady_clock::now();

  // ---- the article's model and run ---------------------------------------------------
  // model = Seq2SeqModel(256, 512, 128, 256, 0.2)
  const int64_t encoder_dim = 256, decoder_dim = 512, attention_dim = 128, hidden_dim = 256;
  const double dropout_prob = 0.2;
  const int64_t S = 10;
  Seq2SeqModel model(encoder_dim, decoder_dim, attention_dim, hidden_dim, dropout_prob);
  std::cout << "Seq2SeqModel(" << encoder_dim << ", " << decoder_dim << ", " << attention_dim << ", "
            << hidden_dim << ", " << dropout_prob << "): " << model.num_parameters() << " parameters\n";
  for (const auto& [name, p] : model.named_parameters()) std::cout << "  " << std::left << std::setw(28) << name
                                                                   << p.shape() << "\n";
  std::cout << std::right;
  {
    // The two Attention modules the article built and never called (fix 4).
    Attention encoder_attention(encoder_dim, hidden_dim), decoder_attention(decoder_dim, decoder_dim);
    std::cout << "the article also built encoder.attention and decoder.attention: "
              << encoder_attention.num_parameters() + decoder_attention.num_parameters()
              << " more parameters that no forward ever read\n\n";
  }

  // source = torch.randn(1, 10, 256); target = torch.randn(1, 10, 512); output = model(source, target)
  Tensor source = Tensor::randn({1, S, encoder_dim});
  Tensor target = Tensor::randn({1, S, decoder_dim});
  DecoderOutput run;
  nn::LSTMOutput encoded;
  {
    NoGradGuard no_grad;
    model.eval();  // no dropout: the printed output is the model's, not a random mask's
    encoded = (*model.encoder)(source);
    run = model(source, target);
    model.train();
  }
  std::cout << "source " << source.shape() << ", target " << target.shape() << "\n"
            << "  encoder output " << encoded.output.shape() << ", encoder state h " << encoded.h.shape()
            << ", c " << encoded.c.shape() << "\n"
            << "  attention weights " << run.weights.shape() << " (decoder step x source step)\n"
            << "  output " << run.output.shape() << "\n"
            << "output:\n" << run.output << "\n\n";

  // ---- fix 2, measured: does decoder step 0 see the future? -----------------------------
  // Change only the LAST target step and compare decoder step 0's attention weights
  // before and after. Under softmax over the keys they cannot move (step 0's query
  // depends on y_0 only); under the article's softmax(dim=1) they do.
  double leak_heed, leak_article;
  {
    NoGradGuard no_grad;
    model.eval();
    Tensor changed = target.clone();
    changed.slice(1, S - 1, S).copy_(Tensor::randn({1, 1, decoder_dim}));
    auto query_and_keys = [&](const Tensor& tgt) {  // -> {Q [1, T, O], K [1, S, O]}
      Tensor h = (*model.decoder->lstm)(tgt, encoded.h, encoded.c).output;
      return std::pair{(*model.attention->W_Q)(h), (*model.attention->W_K)(encoded.output)};
    };
    auto [q1, k1] = query_and_keys(target);
    auto [q2, k2] = query_and_keys(changed);
    auto step0 = [](const Tensor& w) { return w.select(1, 0); };  // [1, S]
    Tensor scores1 = matmul(q1, k1.transpose(1, 2)), scores2 = matmul(q2, k2.transpose(1, 2));
    leak_heed = abs(step0(softmax(scores1, -1)) - step0(softmax(scores2, -1))).max().item();
    leak_article = abs(step0(softmax(scores1, 1)) - step0(softmax(scores2, 1))).max().item();
    model.train();
  }
  std::cout << std::scientific << std::setprecision(2)
            << "changing target step 9 moves decoder step 0's attention weights by at most\n"
            << "  " << leak_heed << " with softmax over the keys (heed), " << leak_article
            << " with the article's softmax(dim=1)\n\n"
            << std::fixed << std::setprecision(4);

  // ---- train on the toy task ------------------------------------------------------------
  Tensor projection = Tensor::randn({encoder_dim, decoder_dim}) / std::sqrt(static_cast<double>(encoder_dim));
  Batch held_out = make_batch(64, S, projection);  // never trained on: fresh random sources
  auto evaluate = [&](double* mass) {
    NoGradGuard no_grad;
    model.eval();
    DecoderOutput o = model(held_out.source, held_out.decoder_input);
    model.train();
    if (mass) *mass = mirror_mass(o.weights);
    return nn::mse_loss(o.output, held_out.target).item();
  };
  double mass_before, mass_after;
  const double eval_before = evaluate(&mass_before);
  std::cout << "toy task: target = reverse(source) x P; " << batch_size << " fresh sequences per step, Adam lr "
            << lr << "\nbefore training: held-out MSE " << eval_before << ", attention on the mirrored step "
            << mass_before << " (uniform: " << 1.0 / S << ")\n";

  optim::Adam opt(model.parameters(), {.lr = lr});
  std::vector<double> losses, eval_steps, eval_losses{eval_before};
  eval_steps.push_back(0);
  const int64_t every = std::max<int64_t>(1, steps / 10);
  for (int64_t step = 1; step <= steps; ++step) {
    Batch b = make_batch(batch_size, S, projection);
    DecoderOutput o = model(b.source, b.decoder_input);
    Tensor loss = nn::mse_loss(o.output, b.target);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
    // The train loss is one batch's, with dropout on; the held-out loss is the
    // same 64 sequences every time, in eval mode: the smoother of the two.
    if (step % every == 0 || step == steps) {
      double mass;
      eval_losses.push_back(evaluate(&mass));
      eval_steps.push_back(static_cast<double>(step));
      std::cout << "step " << std::setw(4) << step << "  train loss " << loss.item() << "  held-out loss "
                << eval_losses.back() << "  attention on the mirrored step " << mass << "\n";
    }
  }
  const double eval_after = evaluate(&mass_after);

  // ---- where the decoder looks, after training --------------------------------------------
  Tensor weights;
  {
    NoGradGuard no_grad;
    model.eval();
    weights = model(held_out.source.slice(0, 0, 1), held_out.decoder_input.slice(0, 0, 1)).weights.select(0, 0);
    model.train();
  }
  std::vector<std::string> source_labels, target_labels;
  for (int64_t t = 0; t < S; ++t) {
    source_labels.push_back("x" + std::to_string(t));
    target_labels.push_back("y" + std::to_string(t));
  }
  std::cout << "\nattention of one held-out sequence (row: decoder step, column: source step;\n"
               "y_t = P x_{9-t}, so the weight belongs on the anti-diagonal):\n"
            << examples::ascii_heatmap(weights, target_labels, source_labels, {.vmin = 0.0, .vmax = 1.0}) << "\n";

  const std::filesystem::path dir(out_dir);
  std::vector<std::string> written;
  std::string heatmap = (dir / "seq2seq_attention.png").string();
  examples::save_heatmap(heatmap, weights, target_labels, source_labels,
                         {.title = "decoder attention after training (target = reversed source)",
                          .x_label = "source step", .y_label = "decoder step", .vmin = 0.0, .vmax = 1.0});
  written.push_back(heatmap);
  std::string curve = (dir / "seq2seq_loss.png").string();
  examples::save_line_plot(curve, {{"train", {}, losses}, {"held-out", eval_steps, eval_losses}},
                           {.title = "Seq2Seq with attention: MSE on the reversal task", .y_label = "MSE"});
  written.push_back(curve);
  for (const std::string& path : written) std::cout << "wrote " << path << "\n";
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "held-out MSE " << eval_before << " -> " << eval_after << ", attention on the mirrored step "
            << mass_before << " -> " << mass_after << "; took " << std::setprecision(1) << seconds << " s\n"
            << std::setprecision(4);

  // ---- what the run should show ----------------------------------------------------------------
  if (!check) return 0;
  std::vector<std::string> failures;
  auto shape_is = [&](const char* what, const Tensor& t, const Shape& want) {
    if (t.shape() != want) failures.push_back(std::string(what) + " is not " + ::heed::msg(want));
  };
  shape_is("the output", run.output, {1, S, decoder_dim});
  shape_is("the attention weights", run.weights, {1, S, S});
  shape_is("the encoder output", encoded.output, {1, S, hidden_dim});
  shape_is("the encoder state h", encoded.h, {1, 1, hidden_dim});
  if (!std::isfinite(abs(run.output).sum().item())) failures.push_back("the output is not finite");
  if (!(abs(run.weights.sum({-1}) - 1.0).max().item() < 1e-5)) failures.push_back("a weights row does not sum to 1");
  if (!(leak_heed < 1e-6)) failures.push_back("decoder step 0's weights depend on target step 9");
  if (!(leak_article > 1e-6)) failures.push_back("the article's softmax(dim=1) showed no leak");
  // Training losses are noisy (fresh batches, dropout): compare the means of the
  // first and second halves of the run.
  const size_t half = losses.size() / 2;
  double first = std::accumulate(losses.begin(), losses.begin() + half, 0.0) / std::max<size_t>(1, half);
  double last = std::accumulate(losses.begin() + half, losses.end(), 0.0) / (losses.size() - half);
  if (!(half > 0 && last < first)) failures.push_back("the training loss did not decrease");
  if (!(eval_after < eval_before)) failures.push_back("the held-out loss did not decrease");
  for (const std::string& path : written)
    if (!examples::file_written(path)) failures.push_back("missing or empty: " + path);
  for (const std::string& f : failures) std::cout << "check FAILED: " << f << "\n";
  if (!failures.empty()) return 1;
  std::cout << "check passed: output [1, 10, 512], weights [1, 10, 10] with rows summing to 1, no leak from "
               "the future, loss decreased (train, mean of each half: "
            << first << " -> " << last << ", held-out " << eval_before << " -> " << eval_after << ")\n";
  return 0;
}
