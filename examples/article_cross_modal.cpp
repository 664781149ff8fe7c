// Self-attention with H' = concat(H, Attention), and cross-modal attention that
// learns which image region each word describes.
//
// Ports: seeds/000_a01df24817c60b53.txt, sections 3.2 "自注意力（Self-attention）"
// and 3.3 "跨模态注意力（Cross-modal attention）". The article gives only
// formulas:
//   Q = W_q H, K = W_k H, V = W_v H,  A = softmax(Q K^T / sqrt(d_k)),
//   Attention = A V,  H' = concat(H, Attention)                              (3.2)
//   Q_i = W_qi H_i, K_j = W_kj H_j, V_j = W_vj H_j,
//   A_ij = softmax(Q_i K_j^T / sqrt(d_k)),  Attention_i = sum_j A_ij V_j     (3.3)
//
// What the original got wrong (or left out):
//   - Step 4 of both sections says the attention is "added to" (相加) the hidden
//     state, and then writes concat. Concat is what the formula says and what
//     heed does; in the cross-modal case adding is not even possible, as a word
//     (width 24) and what it gathers from the regions (width 32) differ in width.
//   - In 3.3 the modalities have different widths, so W_qi and W_kj must map
//     both to one common width d_k before Q_i K_j^T means anything; the article
//     never says so. heed's nn::CrossAttention projects both to width E.
//   - There is no code and no task, so nothing shows that the attention learns
//     anything. Here a task where one modality must find its match in the other:
//     16 "image regions" (width 32) and 8 "words" (width 24), each word a noisy
//     linear image of one region (word = region P + noise, P a fixed 32 -> 24 map
//     that loses information). The model reads H' = concat(word, attention over
//     the regions) and must reconstruct the word's region (all 32 features).
//     The word alone cannot give them (P threw some away): the model has to
//     find the region. Nobody tells it which region is the match; that it looks
//     at the right one is learned from the reconstruction loss alone.
//
// How heed does it: nn::SelfAttention and nn::CrossAttention (nn/attention.h)
// with concat_input = true, a Linear head, Adam; the learned alignment is printed
// as a terminal heatmap and saved as PNG heatmaps, before and after training.
//
//   article_cross_modal [--seed N] [--steps STEPS] [--out DIR] [--check]
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/checks.h"
#include "common/options.h"
#include "common/plot.h"
#include "common/terminal.h"
#include "heed/nn/attention.h"
#include "heed/nn/linear.h"
#include "heed/nn/loss.h"
#include "heed/nn/module.h"
#include "heed/optim/adam.h"

using namespace heed;

// Shapes: B batch, R = 16 regions of width Cr = 32, W = 8 words of width Cw = 24,
// E = 32 the common width queries and keys are projected to.
constexpr int64_t kRegions = 16, kRegionDim = 32, kWords = 8, kWordDim = 24, kEmbed = 32;

// ---- the data -------------------------------------------------------------------
struct Batch {
  Tensor regions;  // [B, R, Cr]  the "image": 16 random feature vectors
  Tensor words;    // [B, W, Cw]  word i = regions[match[i]] P + noise
  Tensor matched;  // [B, W, Cr]  regions[match[i]]: what the model must reconstruct
  Tensor match;    // [B, W]      int64: which region each word describes (never shown to the model)
};

// P: [Cr, Cw], the fixed map from a region to the word that describes it.
Batch make_batch(int64_t B, const Tensor& P, double noise) {
  Batch batch;
  batch.regions = Tensor::randn({B, kRegions, kRegionDim});
  // Each sample's words describe 8 different regions: the first 8 of a random
  // shuffle of 0..15 (Fisher-Yates, from heed's seeded generator).
  std::vector<int64_t> match(B * kWords), flat(B * kWords);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> order(kRegions);
    for (int64_t r = 0; r < kRegions; ++r) order[r] = r;
    for (int64_t i = kRegions - 1; i > 0; --i) std::swap(order[i], order[default_generator().randint(0, i + 1)]);
    for (int64_t w = 0; w < kWords; ++w) {
      match[b * kWords + w] = order[w];
      flat[b * kWords + w] = b * kRegions + order[w];  // row in regions viewed as [B*R, Cr]
    }
  }
  batch.match = Tensor::from_vector(match, {B, kWords});
  Tensor rows = index_select(batch.regions.reshape({B * kRegions, kRegionDim}), 0,
                             Tensor::from_vector(flat, {B * kWords}));  // [B*W, Cr]
  batch.matched = rows.reshape({B, kWords, kRegionDim});
  batch.words = matmul(batch.matched, P) + Tensor::randn({B, kWords, kWordDim}) * noise;  // [B, W, Cw]
  return batch;
}

// ---- the model --------------------------------------------------------------------
// words attend to regions (3.3 with i = words, j = regions):
//   H' = concat(words, out_proj(softmax(q k^T / sqrt(E)) v))   [B, W, Cw + E]
//   prediction = head(H')                                      [B, W, Cr]
class WordToRegion : public nn::Module {
 public:
  WordToRegion()
      : cross(register_module("cross", std::make_shared<nn::CrossAttention>(kWordDim, kRegionDim, kEmbed,
                                                                            /*concat_input=*/true))),
        head(register_module("head", std::make_shared<nn::Linear>(kWordDim + kEmbed, kRegionDim))) {}

  // words [B, W, Cw], regions [B, R, Cr] -> {prediction [B, W, Cr], weights [B, W, R]}
  nn::AttentionResult forward(const Tensor& words, const Tensor& regions) const {
    auto [h_prime, weights] = (*cross)(words, regions);  // [B, W, Cw + E], [B, W, R]
    return {(*head)(h_prime), weights};
  }

  std::shared_ptr<nn::CrossAttention> cross;
  std::shared_ptr<nn::Linear> head;
};

// The share of words whose largest attention weight is on their own region.
double alignment_accuracy(const Tensor& weights, const Tensor& match) {
  std::vector<int64_t> picked = argmax(weights, -1).to_vector<int64_t>();  // [B*W]
  std::vector<int64_t> truth = match.to_vector<int64_t>();
  int64_t hits = 0;
  for (size_t i = 0; i < truth.size(); ++i) hits += picked[i] == truth[i];
  return static_cast<double>(hits) / static_cast<double>(truth.size());
}

// Row labels "w0→r5": word 0, which describes region 5. Columns "r0".."r15".
std::vector<std::string> word_labels(const Tensor& match_row) {
  std::vector<std::string> labels;
  for (int64_t w = 0; w < kWords; ++w)
    labels.push_back("w" + std::to_string(w) + "→r" + std::to_string(static_cast<int64_t>(match_row.at({w}))));
  return labels;
}
std::vector<std::string> region_labels() {
  std::vector<std::string> labels;
  for (int64_t r = 0; r < kRegions; ++r) labels.push_back("r" + std::to_string(r));
  return labels;
}

int main(int argc, char** argv) {
  CLI::App app{"Self-attention with H' = concat(H, Attention), and words learning which image region they describe"};
  uint64_t seed = 0;
  int64_t steps = 300;
  std::string out = "out/article_cross_modal";
  bool check = false;
  examples::add_common_options(app, seed, steps, out, check,
                               "training steps (batches of 32)",
                               "verify: alignment >= 0.9, loss fell, pictures written; exit 1 if not");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto start = std::chrono::steady_clock::now();
    examples::prepare_run(seed, out);
    std::cout << std::fixed << std::setprecision(4);

    // The region -> word map, fixed for the whole run. Entries N(0, 1/Cr) keep a
    // word's features at about unit variance, like a region's.
    const double noise = 0.3;
    Tensor P = Tensor::randn({kRegionDim, kWordDim}) / std::sqrt(static_cast<double>(kRegionDim));  // [Cr, Cw]

    // ---- 1. section 3.2: self-attention and H' = concat(H, Attention) -------------------
    // H is one sample's 8 words. Q, K, V are H through three Linear layers; every
    // word attends to every word; the attention is concatenated to H.
    {
      NoGradGuard no_grad;
      Batch one = make_batch(1, P, noise);
      nn::SelfAttention self_attention(kWordDim);
      auto [attention, A] = self_attention(one.words);       // [1, W, Cw], [1, W, W]
      Tensor h_prime = concat({one.words, attention}, -1);   // [1, W, 2 Cw]
      std::cout << "3.2 self-attention: H " << one.words.shape() << " -> A " << A.shape() << " (rows sum to "
                << A.sum({-1}).min().item() << ".." << A.sum({-1}).max().item() << ") -> Attention = A V "
                << attention.shape() << " -> H' = concat(H, Attention) " << h_prime.shape() << "\n\n";
    }

    // ---- 2. section 3.3: the cross-modal model, and a held-out batch to judge it ----------
    WordToRegion model;
    optim::Adam optimizer(model.parameters(), {.lr = 1e-2});
    std::cout << "3.3 cross-modal attention: words [B, " << kWords << ", " << kWordDim << "] attend to regions [B, "
              << kRegions << ", " << kRegionDim << "]; H' = concat(word, attention) is " << kWordDim + kEmbed
              << " wide; " << model.num_parameters() << " parameters\n";
    Batch held_out = make_batch(256, P, noise);
    auto evaluate = [&]() {  // {loss, alignment accuracy, weights} on the held-out batch
      NoGradGuard no_grad;
      auto [prediction, weights] = model.forward(held_out.words, held_out.regions);
      return std::tuple{nn::mse_loss(prediction, held_out.matched).item(),
                        alignment_accuracy(weights, held_out.match), weights};
    };
    const std::vector<std::string> rows = word_labels(held_out.match.select(0, 0)), cols = region_labels();
    auto [loss_before, accuracy_before, weights_before] = evaluate();
    // On a 0..1 scale this map would be blank (every weight is near 1/16), so it
    // gets its own scale: the shading is noise, with no bright cell per row.
    std::cout << "\nbefore training (held-out sample 0; row labels name each word's true region;"
              << " shading spans the map's own range):\n"
              << examples::ascii_heatmap(weights_before.select(0, 0), rows, cols);

    // ---- 3. the loop: a fresh batch each step, forward, loss, backward, step ---------------
    std::vector<double> xs, losses;
    std::cout << "\n";
    for (int64_t step = 0; step < steps; ++step) {
      Batch batch = make_batch(32, P, noise);
      optimizer.zero_grad();
      auto [prediction, weights] = model.forward(batch.words, batch.regions);
      Tensor loss = nn::mse_loss(prediction, batch.matched);  // reconstruct the matched region
      loss.backward();
      optimizer.step();
      xs.push_back(static_cast<double>(step));
      losses.push_back(loss.item());
      if (step % std::max<int64_t>(1, steps / 10) == 0 || step == steps - 1)
        std::cout << "step " << std::setw(4) << step << "  loss " << loss.item() << "  alignment "
                  << alignment_accuracy(weights, batch.match) << "\n";
    }

    // ---- 4. what the result means ----------------------------------------------------------
    // Untrained, each word spreads its attention over all 16 regions (about 1/16
    // each) and the head can only guess the region from the word. Trained, almost
    // every row is a single bright cell on the word's own region: the model found
    // that q k^T should be large exactly when the word is the region seen through P,
    // and the loss fell because attention now hands the head the right region.
    auto [loss_after, accuracy_after, weights_after] = evaluate();
    Tensor sample = weights_after.select(0, 0);  // [W, R]
    std::cout << "\nafter training (held-out sample 0):\n"
              << examples::ascii_heatmap(sample, rows, cols, {.vmin = 0.0, .vmax = 1.0});
    const double mean_peak = weights_after.max(-1).mean().item();
    std::cout << "\nheld-out words whose largest weight is on their own region: " << accuracy_before << " -> "
              << accuracy_after << "\nheld-out reconstruction loss: " << loss_before << " -> " << loss_after
              << (loss_after < loss_before ? "  (loss decreased)" : "") << "\nmean largest weight per word: "
              << mean_peak << "\n";

    const std::string before_png = out + "/cross_modal_alignment_before.png";
    const std::string after_png = out + "/cross_modal_alignment.png";
    const std::string loss_png = out + "/cross_modal_loss.png";
    examples::HeatmapOptions picture{.title = "", .x_label = "image regions", .y_label = "words (→ true region)",
                                     .colormap = examples::Colormap::Viridis, .vmin = 0.0, .vmax = 1.0,
                                     .show_values = false};
    picture.title = "word -> region attention, untrained (own colour scale)";
    picture.vmin = picture.vmax = std::nullopt;
    examples::save_heatmap(before_png, weights_before.select(0, 0), rows, cols, picture);
    picture.vmin = 0.0;
    picture.vmax = 1.0;
    picture.title = "word -> region attention after " + std::to_string(steps) + " steps";
    examples::save_heatmap(after_png, sample, rows, cols, picture);
    examples::save_line_plot(loss_png, {{"train", xs, losses}},
                             {.title = "cross-modal reconstruction loss", .y_label = "MSE loss", .log_y = true});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "wrote " << after_png << ", " << before_png << ", " << loss_png << std::setprecision(2) << " ("
              << seconds << " s)\n";

    if (!check) return 0;
    examples::Checker c;
    std::cout << "\nchecks:\n";
    c.expect(accuracy_after >= 0.9, "held-out alignment accuracy >= 0.9");
    c.expect(std::isfinite(loss_after) && loss_after < 0.5 * loss_before, "held-out loss fell by more than half");
    for (const std::string& png : {before_png, after_png, loss_png})
      c.expect(std::filesystem::file_size(png) > 0, "wrote " + png);
    return c.finish();
  } catch (const std::exception& e) {
    std::cerr << "article_cross_modal: " << e.what() << "\n";
    return 1;
  }
}
