// A self-attention model fitted to a random target: the article's code example.
//
// Ports: seeds/000_a01df24817c60b53.txt, section 4 "具体代码实例和详细解释说明"
// (code example): SelfAttentionModel(input_dim=50, output_dim=50) on a 10x50
// input, mean squared error against a 10x50 target, Adam with lr 0.001, 100
// epochs, the loss printed every 10.
//
// What the original got wrong:
//   - torch.sqrt(self.input_dim): self.input_dim is a Python int, and torch.sqrt
//     takes only tensors, so the forward pass raises a TypeError on its first
//     call and nothing ever trains. The scale 1/sqrt(d_k) is a plain number:
//     heed computes it in double, 1.0 / std::sqrt(double(d_k)).
//   - The value projection is nn.Linear(input_dim, 1): every value is one number,
//     so the output A V is [10, 1], not [10, 50]. The loss mean((output - target)^2)
//     then broadcasts [10, 1] against [10, 50] without a word, and the "model"
//     can only predict one number per row for all 50 columns. heed's values have
//     width output_dim, so the output is [10, 50] like the target, and
//     nn::mse_loss refuses mismatched shapes (this program shows the error).
//   - Q = linear1(x) has width input_dim and K = linear2(x) width output_dim, and
//     Q K^T needs them equal: the code only runs because both are 50. Here the
//     queries and keys share one width d_k = input_dim and only the values take
//     output_dim.
//
// How heed does it: three nn::Linear layers make q, k, v; the attention is the
// article's formula written out with heed ops (matmul, softmax over the keys),
// and autograd gives the gradients Adam needs. Pictures go to --out: the loss
// curve and the final attention weights.
//
//   article_self_attention [--seed N] [--steps EPOCHS] [--out DIR] [--check]
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
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

// ---- the model ---------------------------------------------------------------
// T positions (the 10 rows), each a vector of width C_in (50).
//   q = x W_q^T + b_q, k = x W_k^T + b_k   [T, d_k]      (d_k = input_dim)
//   v = x W_v^T + b_v                      [T, output_dim]
//   A = softmax(q k^T / sqrt(d_k))         [T, T]         each row sums to 1
//   out = A v                              [T, output_dim]
class SelfAttentionModel : public nn::Module {
 public:
  SelfAttentionModel(int64_t input_dim, int64_t output_dim)
      : d_k(input_dim),
        // The article's names: linear1 makes the queries, linear2 the keys, and
        // "attention" the values, whose width is the output's (the article: 1).
        linear1(register_module("linear1", std::make_shared<nn::Linear>(input_dim, input_dim))),
        linear2(register_module("linear2", std::make_shared<nn::Linear>(input_dim, input_dim))),
        attention(register_module("attention", std::make_shared<nn::Linear>(input_dim, output_dim))) {}

  // x: [T, C_in] -> {out [T, output_dim], weights [T, T]}
  nn::AttentionResult forward(const Tensor& x) const {
    Tensor q = (*linear1)(x);  // [T, d_k]
    Tensor k = (*linear2)(x);  // [T, d_k]
    Tensor v = (*attention)(x);  // [T, output_dim]
    // The scale is a number, not a tensor: 1/sqrt(50) in double.
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_k));
    // Softmax over the last dim, the keys: row i says how much query i takes from each
    // position. (The article's dim=1 is the same dim here, as x has no batch dim.)
    Tensor weights = softmax(matmul(q, k.t()) * scale, -1);  // [T, T]
    return {matmul(weights, v), weights};                    // [T, T] x [T, output_dim]
  }

  int64_t d_k;
  std::shared_ptr<nn::Linear> linear1, linear2, attention;
};

int main(int argc, char** argv) {
  CLI::App app{"The article's SelfAttentionModel(50, 50), fitted to a random 10x50 target with Adam"};
  uint64_t seed = 0;
  int64_t epochs = 100;
  std::string out = "out/article_self_attention";
  bool check = false;
  examples::add_common_options(app, seed, epochs, out, check,
                               "epochs (the article: 100)",
                               "verify the claims (loss fell, weights sum to 1, files written); exit 1 if not");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto start = std::chrono::steady_clock::now();
    examples::prepare_run(seed, out);

    // ---- setup: the article's data ----------------------------------------------
    const int64_t T = 10, input_dim = 50, output_dim = 50;
    Tensor input_data = Tensor::randn({T, input_dim});    // [10, 50]
    Tensor target_data = Tensor::randn({T, output_dim});  // [10, 50]

    // ---- first, the article's model as written: values of width 1 ------------------
    // Its output is [10, 1]. PyTorch's (output - target) ** 2 would broadcast that to
    // [10, 50] and train happily on the wrong problem; heed's mse_loss wants equal shapes.
    {
      SelfAttentionModel as_written(input_dim, /*output_dim=*/1);  // the article's nn.Linear(input_dim, 1)
      Tensor output = as_written.forward(input_data).output;
      std::cout << "the article's model (value width 1) outputs " << output.shape() << " for a target of "
                << target_data.shape() << ":\n";
      try {
        nn::mse_loss(output, target_data);
        std::cout << "  mse_loss accepted it?!\n";
      } catch (const ShapeError& e) {
        std::cout << "  heed refuses: " << e.what() << "\n";
      }
      std::cout << "so the values get width output_dim = " << output_dim << ".\n\n";
    }

    // ---- the model, fixed, and its optimizer -------------------------------------------
    SelfAttentionModel model(input_dim, output_dim);
    optim::Adam optimizer(model.parameters(), {.lr = 0.001});
    std::cout << "SelfAttentionModel(input_dim=50, output_dim=50): " << model.num_parameters()
              << " parameters\n";

    // ---- the loop: forward, loss, backward, step --------------------------------------
    std::vector<double> steps, losses;
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      optimizer.zero_grad();
      Tensor output = model.forward(input_data).output;  // [10, 50]
      Tensor loss = nn::mse_loss(output, target_data);   // mean((output - target)^2)
      loss.backward();
      optimizer.step();
      steps.push_back(static_cast<double>(epoch));
      losses.push_back(loss.item());
      if (epoch % 10 == 0) std::cout << "Epoch " << epoch << ", Loss: " << loss.item() << "\n";
    }

    // ---- what the result means -------------------------------------------------------------
    // The target is noise, unrelated to the input, so there is nothing to learn in
    // general: the model memorises these ten rows. The loss starts near 1 (the
    // target's variance: the untrained output is close to 0) and falls as the value
    // projection and the attention bend the output toward the target. The weights,
    // nearly flat at the start, end up sharp: most queries take almost all of their
    // output from one or two positions, so each output row can be steered toward
    // its own target row.
    Tensor weights;
    double final_loss;
    {
      NoGradGuard no_grad;
      auto result = model.forward(input_data);
      weights = result.weights;  // [10, 10]
      final_loss = nn::mse_loss(result.output, target_data).item();
    }
    std::cout << "\nloss: " << losses.front() << " at epoch 0, " << final_loss << " after " << epochs
              << " epochs" << (final_loss < losses.front() ? "  (loss decreased)" : "") << "\n";
    std::cout << "\nattention weights after training (row i: where position i looks):\n"
              << examples::ascii_heatmap(weights, {}, {}, {.vmin = 0.0, .vmax = 1.0});

    const std::string loss_png = out + "/self_attention_loss.png";
    const std::string weights_png = out + "/self_attention_weights.png";
    examples::save_line_plot(loss_png, {{"train", steps, losses}},
                             {.title = "SelfAttentionModel, Adam lr 0.001", .x_label = "epoch", .y_label = "MSE loss"});
    examples::save_heatmap(weights_png, weights, {}, {},
                           {.title = "attention weights after training", .x_label = "key position",
                            .y_label = "query position", .vmin = 0.0, .vmax = 1.0, .show_values = false});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "wrote " << loss_png << " and " << weights_png << " (" << seconds << " s)\n";

    if (!check) return 0;
    examples::Checker c;
    std::cout << "\nchecks:\n";
    c.expect(std::isfinite(final_loss) && final_loss < losses.front(), "the loss fell");
    const double row_error = max(abs(weights.sum({-1}) - 1.0)).item();
    c.expect(row_error < 1e-5, "every row of the attention weights sums to 1");
    c.expect(std::filesystem::file_size(loss_png) > 0 && std::filesystem::file_size(weights_png) > 0,
             "both pictures written");
    return c.finish();
  } catch (const std::exception& e) {
    std::cerr << "article_self_attention: " << e.what() << "\n";
    return 1;
  }
}
