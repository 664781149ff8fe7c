// Watching the gradients flow: per-layer gradient norms, collected by hooks.
//
// Ports: seeds/000_a01df24817c60b53.txt, section 4, "具体代码实例和详细解释说明"
// (a concrete code example, explained): the SelfAttentionModel training loop,
// Adam(lr = 0.001) on x, target ~ N(0, 1) of shape [10, 50], 100 epochs, the loss
// printed every 10. To that loop this program adds what the article never shows:
// how large the gradient of each layer is as training goes, gathered while
// backward() runs by gradient hooks (Tensor::register_hook, autograd/hooks.h).
//
// What the original got wrong (the same model as examples/graph_of_attention.cpp):
//   - V = nn.Linear(input_dim, 1) makes the output [10, 1]; against the [10, 50]
//     target the loss broadcasts silently and cannot fit. Here V is Linear(50, 50).
//   - torch.sqrt(self.input_dim) raises a TypeError on a Python int: the scale
//     here is the number 1 / sqrt(50).
//
// How heed does it: two kinds of hooks.
//   - On each parameter (a leaf), once, before training: a hook stays on the
//     tensor, so it runs in every backward and sees the gradient just before it
//     is added into p.grad().
//   - On Q, K, V and the attention weights A (tensors made by ops), in every
//     forward: each sees dL/dQ etc., the total gradient of that tensor (were it
//     used twice, the sum of both contributions), once per backward.
// A hook may also *replace* the gradient: --clip-norm C installs one that scales
// each parameter's gradient down to norm C, which is then what grad() holds and
// what Adam uses. A hook must never capture the tensor it is on (that is a
// reference cycle); these capture a pointer to a table of norms instead.
//
//   gradient_norms [--seed N] [--steps 100] [--clip-norm C] [--out DIR] [--check]
#include <heed/heed.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/checks.h"
#include "common/models.h"
#include "common/options.h"
#include "common/plot.h"
#include "heed/autograd/hooks.h"

using namespace heed;

namespace {

using examples::SelfAttentionModel;  // examples/common/models.h

double l2_norm(const Tensor& t) { return std::sqrt(t.pow(2).sum().item()); }

// What the hooks write: the latest gradient norm under each name, and how many
// times each hook ran (once per backward, however often its tensor was used).
struct NormTable {
  std::map<std::string, double> norm;
  std::map<std::string, int> calls;
};

// A hook that only looks: it records the norm and returns an undefined Tensor,
// which leaves the gradient unchanged. It captures the table's address and a
// name, never a Tensor.
GradHooks::Fn record_norm(NormTable* table, std::string name) {
  return [table, name = std::move(name)](const Tensor& grad) {
    table->norm[name] = l2_norm(grad);
    ++table->calls[name];
    return Tensor();
  };
}

// A hook that replaces: grad * min(1, C / |grad|), so no gradient is longer than C.
// (nn::clip_grad_norm_ does this for all parameters at once, after backward.)
GradHooks::Fn clip_to(double max_norm) {
  return [max_norm](const Tensor& grad) {
    const double n = l2_norm(grad);
    return n > max_norm ? grad * (max_norm / n) : Tensor();
  };
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train the article's self-attention model and watch each layer's gradient norm (hooks)"};
  uint64_t seed = 0;
  int64_t steps = 100;
  double clip_norm = 0;
  std::string out = "out/gradient_norms";
  bool check = false;
  examples::add_common_options(app, seed, steps, out, check,
                               "training epochs (the article: 100)",
                               "verify the claims; exit 1 when one fails");
  app.add_option("--clip-norm", clip_norm, "if > 0, a hook clips each parameter's gradient to this norm");
  CLI11_PARSE(app, argc, argv);

  try {
    examples::prepare_run(seed, out);

    // ---- 1. model, data, optimizer: the article's -----------------------------
    const int64_t N = 10, d = 50;
    SelfAttentionModel model(d);
    Tensor x = Tensor::randn({N, d});       // input_data  [10, 50]
    Tensor target = Tensor::randn({N, d});  // target_data [10, 50]
    optim::Adam optimizer(model.parameters(), {.lr = 0.001});

    // ---- 2. hooks on the parameters, once ----------------------------------------
    // A parameter is a leaf: its hooks live on the tensor itself and run in every
    // backward from now on. The clipping hook goes first, so the recording hook
    // after it sees (and reports) the gradient that will land in grad().
    NormTable table;
    std::vector<std::pair<int, Tensor>> parameter_hooks;  // (id, tensor), to remove them later
    for (auto& [name, p] : model.named_parameters()) {
      if (clip_norm > 0) parameter_hooks.emplace_back(p.register_hook(clip_to(clip_norm)), p);
      parameter_hooks.emplace_back(p.register_hook(record_norm(&table, name)), p);
    }
    const std::vector<std::string> activations = {"dL/dQ", "dL/dK", "dL/dV", "dL/dA"};
    const std::vector<std::string> columns = {"query.weight", "key.weight", "value.weight", "value.bias",
                                              "dL/dQ",        "dL/dK",      "dL/dV",        "dL/dA"};

    // ---- 3. the training loop, the article's, plus hooks on Q, K, V, A ------------------
    std::map<std::string, std::vector<double>> history;  // name -> its norm at every step
    std::vector<double> losses;
    std::cout << "epoch  loss     ";
    for (const auto& c : columns) std::cout << std::setw(13) << c;
    std::cout << "\n" << std::scientific << std::setprecision(3);
    for (int64_t epoch = 0; epoch < steps; ++epoch) {
      optimizer.zero_grad();
      SelfAttentionModel::Forward f = model.forward(x);
      // Tensors made by ops: new ones every forward, so their hooks are added every
      // forward. They live on the graph's nodes and go away with it.
      f.q.register_hook(record_norm(&table, "dL/dQ"));
      f.k.register_hook(record_norm(&table, "dL/dK"));
      f.v.register_hook(record_norm(&table, "dL/dV"));
      f.a.register_hook(record_norm(&table, "dL/dA"));
      Tensor loss = nn::mse_loss(f.output, target);  // mean((output - target)^2)
      loss.backward();                               // every hook runs in here
      optimizer.step();

      losses.push_back(loss.item());
      for (const auto& [name, n] : table.norm) history[name].push_back(n);
      if (epoch % 10 == 0 || epoch == steps - 1) {  // the article prints every 10 epochs
        std::cout << std::setw(5) << epoch << "  " << loss.item();
        for (const auto& c : columns) std::cout << std::setw(13) << table.norm[c];
        std::cout << "\n";
      }
    }

    // ---- 4. the last step's norms, layer by layer ------------------------------------
    // Reading them: value.weight has the largest parameter gradient: V reaches the
    // output directly, through a weighted mean. query and key reach the loss only
    // through the softmax, so their gradients are several times smaller. And
    // key.bias gets (almost exactly) none: adding b to every key adds q_i . b to
    // every score in row i, and softmax does not change when a whole row shifts.
    // Only rounding is left (~1e-9). A hook shows this without touching the model.
    std::cout << "\ngradient norms at the last step:\n";
    std::vector<std::string> names;
    for (auto& [name, p] : model.named_parameters()) names.push_back(name);
    names.insert(names.end(), activations.begin(), activations.end());
    double largest = 0;
    for (const auto& [name, n] : table.norm) largest = std::max(largest, n);
    for (const auto& name : names) {
      const double n = table.norm[name];
      int bar = largest > 0 ? static_cast<int>(std::lround(40 * n / largest)) : 0;
      std::cout << "  " << std::left << std::setw(13) << name << std::right << std::setw(11) << n << "  "
                << std::string(static_cast<size_t>(bar), '#') << "\n";
    }

    std::vector<examples::Series> series;
    for (const auto& name : columns) series.push_back({name, {}, history[name]});
    const std::string png = out + "/gradient_norms.png";
    examples::save_line_plot(png, series, {.title = "gradient norm per layer (hooks)", .x_label = "epoch",
                                           .y_label = "L2 norm of the gradient", .log_y = true});
    std::cout << "\nwrote " << png << "\n";

    if (!check) return 0;
    std::cout << "\nchecks:\n";
    examples::Checker c;
    c.expect(losses.back() < losses.front(), "the loss went down");
    bool finite = true;
    for (const auto& [name, values] : history)
      for (double v : values) finite = finite && std::isfinite(v);
    c.expect(finite, "every recorded norm is finite");
    c.expect(table.norm["key.bias"] < 1e-5 * table.norm["key.weight"],
             "key.bias gets no gradient (softmax ignores a shift of a whole row)");
    if (clip_norm == 0)  // (clipping could make them equal)
      c.expect(table.norm["value.weight"] > table.norm["query.weight"] &&
                   table.norm["value.weight"] > table.norm["key.weight"],
               "value.weight's gradient is larger than query's and key's");
    // A hook sees its tensor's total gradient: it runs once per backward.
    bool once = true;
    for (const auto& [name, n] : table.calls) once = once && n == steps;
    c.expect(once, "every hook ran exactly once per backward");
    // What the parameter hooks saw is what grad() holds (after clipping, if any).
    double worst = 0;
    for (auto& [name, p] : model.named_parameters())
      worst = std::max(worst, std::abs(table.norm[name] - l2_norm(p.grad())) / l2_norm(p.grad()));
    c.expect(worst < 1e-5, "a parameter hook saw exactly the gradient that went into grad()");
    if (clip_norm > 0) {
      bool clipped = true;
      for (const Tensor& p : model.parameters()) clipped = clipped && l2_norm(p.grad()) <= clip_norm * (1 + 1e-5);
      c.expect(clipped, "the clipping hook kept every gradient's norm <= --clip-norm");
    }
    // remove_hook: with the parameter hooks gone, a backward records nothing new.
    for (auto& [id, p] : parameter_hooks) p.remove_hook(id);
    const int calls_before = table.calls["query.weight"];
    optimizer.zero_grad();
    nn::mse_loss(model.forward(x).output, target).backward();
    c.expect(table.calls["query.weight"] == calls_before, "after remove_hook the hooks no longer run");
    c.expect(std::filesystem::file_size(png) > 0, "wrote " + png);
    return c.finish();
  } catch (const std::exception& e) {
    std::cerr << "gradient_norms: " << e.what() << "\n";
    return 1;
  }
}
