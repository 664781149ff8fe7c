// article_attention_heatmaps: one self-attention layer, and pictures of what it computes.
//
// Ports seed article 003 ("AI时代的注意力机制", attention in the age of AI as a
// scarce resource), section "项目实践：代码实例和详细解释说明 / Project Practice:
// Code Examples and Detailed Explanations": a SelfAttentionLayer(d_model=512)
// run on a random sequence of 10 vectors, its output printed, and its attention
// scores and weights drawn as heatmaps with matplotlib's 'hot' colormap.
//
// What the original got wrong, and what heed does instead:
//  1. It cannot run. The input is torch.randn(10, d_model), 2-D, but forward()
//     calls K.transpose(1, 2): a 2-D tensor has no dim 2, so PyTorch stops with an
//     IndexError before anything is printed. Here the input is [B=1, T=10, C=512],
//     the [B, T, C] that nn::SelfAttention asks for (and names in its error if not).
//  2. Fix (1) by adding the batch dim, and the next bug shows: softmax(scores,
//     dim=1) on scores [B, T, T] normalises over dim 1, the QUERIES. Each column
//     then sums to 1 and the rows do not, so row i (what query i spends on the
//     keys) is not a weighted average at all. heed takes the softmax over the last
//     dim, the keys, whatever leading dims there are. The program prints both
//     versions' row sums, and draws the article's version too, to see the damage.
//  3. The plotting snippet reuses Q and K, which only exist inside forward()
//     (a NameError), recomputes the scores outside the layer (so nothing says they
//     are the ones it used), and calls .numpy() on 3-D tensors that require grad
//     (a RuntimeError; imshow also wants 2-D). heed's SelfAttention returns the
//     weights it used; we rebuild the scores from the layer's own projections and
//     check that their softmax gives exactly those weights.
//  4. It says dividing by sqrt(d_k) avoids vanishing gradients. The reason is one
//     step earlier: a dot product of 512 terms has a spread ~sqrt(512) times one
//     term's, and softmax of widely spread scores is nearly one-hot (saturated),
//     where its gradient is nearly 0. The program prints both spreads.
//  5. No seed: every run differs. Here --seed fixes the weights and the input.
//
//   article_attention_heatmaps --out attention_out        # pictures in attention_out/
//   article_attention_heatmaps --check                    # exits 1 if a claim fails
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/plot.h"
#include "common/terminal.h"

using namespace heed;

namespace {

// Largest |a - b| over all elements, as a plain number.
double max_abs_diff(const Tensor& a, const Tensor& b) { return abs(a - b).max().item(); }

// "0.981 1.020 ..." for a row of numbers.
std::string join(const std::vector<float>& values) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3);
  for (float v : values) s << v << ' ';
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  // ---- options ---------------------------------------------------------------
  CLI::App app{"Self-attention on 10 random vectors, with heatmaps of its scores and weights (seed article 003)"};
  uint64_t seed = 0;
  int64_t steps = 1;
  std::string out_dir = "attention_heatmaps_out";
  bool check = false;
  examples::add_common_options(app, seed, steps, out_dir, check,
                               "forward passes to time (the article runs one)",
                               "verify the claims below and exit 1 if one fails");
  CLI11_PARSE(app, argc, argv);
  examples::prepare_run(seed, out_dir);

  // ---- the layer and the input -------------------------------------------------
  // The article's SelfAttentionLayer is heed's nn::SelfAttention: Linear q, k, v
  // and out projections (C -> C, with bias) around softmax(q k^T / sqrt(C)) v.
  const int64_t d_model = 512, T = 10;
  nn::SelfAttention layer(d_model);
  Tensor x = Tensor::randn({1, T, d_model});  // [B=1, T, C]: the batch dim the article left out

  // We only look, we do not train: no graph to record (torch.no_grad()).
  NoGradGuard no_grad;
  auto [output, weights] = layer(x);  // output [1, T, C], weights [1, T, T]
  std::cout << "output of the self-attention layer, " << output.shape() << ":\n" << output << "\n\n";

  // ---- the scores, from the layer's own projections ------------------------------
  // scores[i, j] = q_i . k_j / sqrt(C): how well query i matches key j.
  Tensor q = (*layer.q_proj)(x), k = (*layer.k_proj)(x);   // [1, T, C] each
  Tensor raw = matmul(q, k.transpose(-2, -1));              // [1, T, T]
  Tensor scores = raw / std::sqrt(static_cast<double>(d_model));
  std::cout << std::fixed << std::setprecision(3);
  std::cout << "spread (std) of q.k: " << std::sqrt(var(raw).item()) << "; of q.k/sqrt(" << d_model
            << "): " << std::sqrt(var(scores).item()) << "  (unscaled, softmax would be far more peaked)\n";

  // softmax over the last dim, the keys: row i is how query i shares its attention.
  Tensor fixed = softmax(scores, -1);
  double mismatch = max_abs_diff(fixed, weights);
  std::cout << "softmax(scores, -1) vs the weights the layer used: max |diff| = " << std::scientific
            << mismatch << std::fixed << "\n";

  // The article's softmax(scores, dim=1): over the queries. Its columns sum to 1, not its rows.
  Tensor article = softmax(scores, 1);
  std::cout << "row sums, softmax over keys (dim -1):    " << join(weights.sum({-1}).to_vector()) << "\n";
  std::cout << "row sums, article's softmax (dim=1):     " << join(article.sum({-1}).to_vector()) << "\n";
  std::cout << "column sums, article's softmax (dim=1):  " << join(article.sum({-2}).to_vector()) << "\n\n";

  // ---- the pictures ------------------------------------------------------------------
  std::vector<std::string> tokens;
  for (int64_t t = 0; t < T; ++t) tokens.push_back("t" + std::to_string(t));
  Tensor w2d = weights.select(0, 0), s2d = scores.select(0, 0), a2d = article.select(0, 0);  // [T, T]

  std::cout << "attention weights (row: query, column: key it attends to):\n"
            << examples::ascii_heatmap(w2d, tokens, tokens) << "\n";

  // Colours span each map's own min..max, as matplotlib's imshow does: with random
  // weights every entry is near 1/T, and a 0..1 scale would paint them all black.
  const std::filesystem::path dir(out_dir);
  std::vector<std::string> written;
  auto draw = [&](const std::string& name, const Tensor& map, const std::string& title) {
    examples::HeatmapOptions options;  // vmin, vmax unset: the map's own range
    options.title = title;
    options.x_label = "key (attended to)";
    options.y_label = "query (attending)";
    options.colormap = examples::Colormap::Hot;  // the article's cmap='hot'
    for (const char* ext : {".png", ".svg"}) {
      std::string path = (dir / (name + ext)).string();
      examples::save_heatmap(path, map, tokens, tokens, options);
      written.push_back(path);
    }
  };
  draw("attention_scores", s2d, "attention scores  q.k / sqrt(512)");
  draw("attention_weights", w2d, "attention weights  softmax over keys (rows sum to 1)");
  draw("attention_weights_article_dim1", a2d, "the article's softmax(dim=1): columns sum to 1, rows do not");
  for (const std::string& path : written) std::cout << "wrote " << path << "\n";

  // ---- timing: --steps forward passes ----------------------------------------------------
  auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < steps; ++step) output = layer(x).output;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "forward pass: " << ms / steps << " ms (mean of " << steps << ")\n";

  // ---- what the run should show ------------------------------------------------------------
  if (!check) return 0;
  std::vector<std::string> failures;
  double worst_row = abs(weights.sum({-1}) - 1.0).max().item();
  if (!(worst_row < 1e-5)) failures.push_back("a weights row sums to 1 +- " + std::to_string(worst_row));
  if (!(mismatch < 1e-6)) failures.push_back("softmax(scores, -1) differs from the layer's weights");
  if (!(abs(article.sum({-1}) - 1.0).max().item() > 1e-3))
    failures.push_back("the article's dim=1 softmax unexpectedly has rows summing to 1");
  if (output.shape() != Shape{1, T, d_model}) failures.push_back("output is not [1, 10, 512]");
  if (!std::isfinite(abs(output).sum().item())) failures.push_back("output is not finite");
  for (const std::string& path : written)
    if (!examples::file_written(path)) failures.push_back("missing or empty: " + path);
  for (const std::string& f : failures) std::cout << "check FAILED: " << f << "\n";
  if (!failures.empty()) return 1;
  std::cout << "check passed: every weights row sums to 1 (worst error " << std::scientific << worst_row
            << "), the weights are softmax(scores) over the keys, " << written.size() << " pictures written\n";
  return 0;
}
