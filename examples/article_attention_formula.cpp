// The worked example of scaled dot-product attention, computed by heed.
//
// Ports: seeds/003_ef9ab39e90c19971.txt, section "数学模型和公式 & 详细讲解 &
// 举例说明" (Mathematical Models and Formulas & Detailed Explanations &
// Examples), its "Example": one query, two keys with scores 1 and 0.5 (d_k = 1),
//   w1 = e / (e + e^0.5) = 0.6225,   w2 = e^0.5 / (e + e^0.5) = 0.3775,
//   context = w1 V1 + w2 V2.
//
// What the original got wrong:
//   - Q, K and V are lists of words (Q = ["query", "key"]) and the "dot products"
//     of words are simply declared to be 1 and 0.5. A dot product needs vectors.
//     Here q, k1 and k2 are vectors of width d_k = 1 chosen so that the scores
//     really are q . k1 = 1 and q . k2 = 0.5.
//   - Q lists two entries but the example scores only one query. Here: one query.
//   - Both values are the same word ("value"), so the context is "value" whatever
//     the weights are (any w1 + w2 = 1 gives w1 v + w2 v = v). The example cannot
//     show the weights, and its conclusion, "the model has given high attention
//     to the value component", does not follow from it. heed runs the article's
//     case, then the same scores with two different values, where the context
//     [0.6225, 0.3775] shows the weights, and with random values (--seed).
//
// How heed does it: nn::scaled_dot_product_attention(q, k, v) returns both the
// context and the weights; the program checks them against the closed form.
// Nothing is trained here: --steps is accepted, like every example's, and unused.
//
//   article_attention_formula [--seed N] [--out DIR] [--check]
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include "common/checks.h"
#include "common/options.h"
#include "common/plot.h"
#include "common/terminal.h"
#include "heed/nn/attention.h"

using namespace heed;

int main(int argc, char** argv) {
  CLI::App app{"The article's worked example: scores 1 and 0.5, weights 0.6225 and 0.3775"};
  uint64_t seed = 0;
  int64_t steps = 0;
  std::string out = "out/article_attention_formula";
  bool check = false;
  examples::add_common_options(app, seed, steps, out, check,
                               "unused: nothing is trained in this example",
                               "verify the numbers; exit 1 on a mismatch");
  CLI11_PARSE(app, argc, argv);

  try {
    examples::prepare_run(seed, out);
    std::cout << std::fixed << std::setprecision(4);

    // ---- 1. the scores: q . k / sqrt(d_k) with d_k = 1 -------------------------
    // One query and two keys, each a vector of width 1, so the dot products are
    // plain products: 1 * 1 = 1 and 1 * 0.5 = 0.5.
    Tensor q({{1.0}});          // [Tq = 1, d_k = 1]
    Tensor k({{1.0}, {0.5}});   // [Tk = 2, d_k = 1]
    Tensor scores = matmul(q, k.t()) / std::sqrt(1.0);  // [1, 2]
    std::cout << "scores  = q k^T / sqrt(d_k) = [" << scores.at({0, 0}) << ", " << scores.at({0, 1})
              << "]\n";

    // ---- 2. the weights: softmax over the keys --------------------------------
    // Closed form, in double: w1 = e / (e + e^0.5), w2 = e^0.5 / (e + e^0.5).
    const double e1 = std::exp(1.0), e05 = std::exp(0.5);
    const double w1_exact = e1 / (e1 + e05), w2_exact = e05 / (e1 + e05);

    // ---- 3. the context, three ways -------------------------------------------
    // (a) The article's values: both "value", here the same vector v = [2, -1, 3].
    Tensor v_same({{2.0, -1.0, 3.0}, {2.0, -1.0, 3.0}});  // [Tk = 2, Dv = 3]
    auto [context_same, weights] = nn::scaled_dot_product_attention(q, k, v_same);  // [1, 3], [1, 2]
    const double w1 = weights.at({0, 0}), w2 = weights.at({0, 1});
    std::cout << "weights = softmax(scores) = [" << w1 << ", " << w2 << "]\n";
    std::cout << "          e/(e+e^0.5) = " << w1_exact << ",  e^0.5/(e+e^0.5) = " << w2_exact << "\n\n";
    std::cout << examples::ascii_heatmap(weights, {"query"}, {"key1", "key2"}, {.vmin = 0.0, .vmax = 1.0});

    std::cout << "\n(a) the article's values, V1 = V2 = v = [2, -1, 3]:\n"
              << "    context = " << context_same
              << "\n    = v, whatever the weights: this case cannot show them.\n";

    // (b) Two different values: one-hot rows make the context spell out the weights.
    Tensor v_onehot({{1.0, 0.0}, {0.0, 1.0}});  // [2, 2]
    Tensor context_onehot = nn::scaled_dot_product_attention(q, k, v_onehot).output;  // [1, 2]
    std::cout << "\n(b) different values, V1 = [1, 0], V2 = [0, 1]:\n"
              << "    context = w1 V1 + w2 V2 = [" << context_onehot.at({0, 0}) << ", "
              << context_onehot.at({0, 1}) << "]\n";

    // (c) Random values: the context is still w1 V1 + w2 V2, computed by hand here.
    Tensor v_random = Tensor::randn({2, 4});  // [2, 4]
    Tensor context_random = nn::scaled_dot_product_attention(q, k, v_random).output;  // [1, 4]
    Tensor by_hand = v_random.select(0, 0) * w1_exact + v_random.select(0, 1) * w2_exact;  // [4]
    const double random_diff = max(abs(context_random.flatten() - by_hand)).item();
    std::cout << "\n(c) random values (seed " << seed << "):\n    V = " << v_random
              << "\n    context            = " << context_random
              << "\n    0.6225 V1 + 0.3775 V2 = " << by_hand << std::scientific << std::setprecision(2)
              << "\n    largest difference " << random_diff << std::fixed << std::setprecision(4) << "\n";

    // ---- 4. the picture ---------------------------------------------------------
    const std::string png = out + "/formula_weights.png";
    examples::save_heatmap(png, weights, {"query"}, {"key1 (score 1)", "key2 (score 0.5)"},
                           {.title = "softmax([1, 0.5])", .x_label = "keys", .y_label = "query",
                            .vmin = 0.0, .vmax = 1.0});
    std::cout << "\nwrote " << png << "\n";

    // What it means: the weights are a softmax of the scores, nothing more. A score
    // 0.5 higher buys e^0.5 = 1.65 times the weight (0.6225 / 0.3775 = 1.6487).
    if (!check) return 0;
    std::cout << "\nchecks:\n";
    examples::Checker c;
    c.near(scores.at({0, 0}), 1.0, 1e-6, "score 1");
    c.near(scores.at({0, 1}), 0.5, 1e-6, "score 2");
    c.near(w1, w1_exact, 1e-4, "w1 = e/(e+e^0.5)");
    c.near(w2, w2_exact, 1e-4, "w2 = e^0.5/(e+e^0.5)");
    c.near(w1, 0.6225, 1e-4, "w1 as the article prints it");
    c.near(w2, 0.3775, 1e-4, "w2 as the article prints it");
    c.near(max(abs(context_same - v_same.select(0, 0))).item(), 0.0, 1e-6, "(a) context = v");
    c.near(context_onehot.at({0, 0}), w1_exact, 1e-4, "(b) context[0] = w1");
    c.near(context_onehot.at({0, 1}), w2_exact, 1e-4, "(b) context[1] = w2");
    c.near(random_diff, 0.0, 1e-5, "(c) context = w1 V1 + w2 V2");
    c.expect(std::filesystem::file_size(png) > 0, "wrote " + png);
    return c.finish();
  } catch (const std::exception& e) {
    std::cerr << "article_attention_formula: " << e.what() << "\n";
    return 1;
  }
}
