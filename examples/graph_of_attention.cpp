// The autograd graph of a self-attention model, drawn.
//
// Ports: seeds/000_a01df24817c60b53.txt, section 4, "具体代码实例和详细解释说明"
// (a concrete code example, explained): SelfAttentionModel, three linear maps of
// x [10, 50] to Q, K and V, A = softmax(Q K^T / sqrt(50)), output A V, trained on
// mean((output - target)^2). Instead of training it, this program shows the graph
// that loss.backward() walks: every op of the forward, the shape it made, and the
// six parameters the gradients end up in. The article's code never shows it, and
// it is the first thing to look at when a gradient is missing or wrong.
//
// What the original got wrong:
//   - `self.attention = nn.Linear(input_dim, 1)` makes V [10, 1], so the output is
//     [10, 1] and `(output - target) ** 2` against the [10, 50] target broadcasts
//     silently: all 50 columns get the same prediction and the loss cannot go to 0.
//     Here V has the model's width, Linear(50, 50), as Q and K have (heed's
//     mse_loss refuses mismatched shapes, so the bug could not hide).
//   - `torch.sqrt(self.input_dim)` passes a Python int to torch.sqrt, which raises a
//     TypeError: the scale is a number, 1 / sqrt(50), computed once with std::sqrt.
//   - K's projection is `nn.Linear(input_dim, output_dim)`, which only works because
//     output_dim == input_dim: a key must have the query's width. Here all three
//     are Linear(d, d); the article's linear1, linear2, attention are query, key, value.
//
// How heed does it: to_dot() (autograd/graphviz.h) walks the graph from the loss,
// names the parameters from model.named_parameters() and the intermediate tensors
// (Q, K, V, scores, A) from a list we give it, and writes a Graphviz file. If
// Graphviz's `dot` is installed, the program renders it to PNG and SVG. The forward
// runs in anomaly mode (autograd/anomaly.h), so each op also remembers where heed
// created it: in the SVG, hover over an op to see it.
//
//   graph_of_attention [--seed N] [--out DIR] [--check]
#include <heed/heed.h>

#include <CLI/CLI.hpp>

#include "common/checks.h"
#include "common/models.h"
#include "common/options.h"
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "heed/autograd/anomaly.h"
#include "heed/autograd/graphviz.h"

using namespace heed;

namespace {

using examples::SelfAttentionModel;  // examples/common/models.h

// A path inside single quotes for the shell; a quote in it becomes '\''.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool have_dot() { return std::system("command -v dot >/dev/null 2>&1") == 0; }

// dot -T<format> graph.dot -o graph.<format>; true when it worked.
bool render(const std::string& dot_path, const std::string& out_path, const std::string& format) {
  std::string command = "dot -T" + format + " " + shell_quoted(dot_path) + " -o " + shell_quoted(out_path);
  return std::system(command.c_str()) == 0 && std::filesystem::exists(out_path) &&
         std::filesystem::file_size(out_path) > 0;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Draw the autograd graph of the article's self-attention model (Graphviz DOT, PNG, SVG)"};
  uint64_t seed = 0;
  int64_t steps = 0;
  std::string out = "out/graph_of_attention";
  bool check = false;
  examples::add_common_options(app, seed, steps, out, check,
                               "unused: the graph is the same at every step, so nothing is trained",
                               "verify the graph and the files; exit 1 on a failure");
  CLI11_PARSE(app, argc, argv);

  try {
    examples::prepare_run(seed, out);

    // ---- 1. the model and the data, as in the article ---------------------------
    const int64_t N = 10, d = 50;
    SelfAttentionModel model(d);
    Tensor x = Tensor::randn({N, d});       // input_data  [10, 50]
    Tensor target = Tensor::randn({N, d});  // target_data [10, 50]

    // ---- 2. one forward pass, recorded --------------------------------------------
    // Anomaly mode makes each op remember where it was created (the SVG's tooltips).
    SelfAttentionModel::Forward f;
    Tensor loss;
    {
      DetectAnomalyGuard anomaly;
      f = model.forward(x);
      loss = nn::mse_loss(f.output, target);  // mean((output - target)^2)
    }
    std::cout << "loss = " << loss.item() << "\n\n";

    // ---- 3. the graph, as DOT ------------------------------------------------------
    // Parameters by their dotted names ("query.weight"), then the tensors in between.
    DotOptions options;
    options.names = model.named_parameters();
    options.names.insert(options.names.end(), {{"Q", f.q}, {"K", f.k}, {"V", f.v}, {"scores", f.scores},
                                                {"A", f.a}, {"output", f.output}, {"loss", loss}});
    options.title = "SelfAttentionModel (seeds/000, section 4): loss = mean((softmax(Q K^T / sqrt(50)) V - target)^2)";
    const std::string dot_text = to_dot(loss, options);
    const std::string dot_path = out + "/attention_graph.dot";
    save_dot(loss, dot_path, options);
    std::cout << "wrote " << dot_path << " (" << dot_text.size() << " bytes of DOT: a text file, readable as is)\n";

    // How to read it: arrows run forward, from the parameters (blue) at the top to
    // the loss (thick border) at the bottom; backward() walks them bottom-up.
    // x and target need no gradient, so they are not in the graph at all. Each
    // Linear is one op, linear (x W^T + b in one product), and so is mse_loss.
    const size_t ops = count(dot_text, "[label=") - count(dot_text, "fillcolor=lightblue");
    const size_t parameters = count(dot_text, "fillcolor=lightblue");
    std::cout << "the graph: " << ops << " ops, " << parameters << " parameters, "
              << count(dot_text, " -> ") << " arrows\n";

    // ---- 4. pictures, if Graphviz is installed ---------------------------------------
    bool rendered = false;
    if (have_dot()) {
      const std::string png = out + "/attention_graph.png", svg = out + "/attention_graph.svg";
      rendered = render(dot_path, png, "png") && render(dot_path, svg, "svg");
      std::cout << (rendered ? "wrote " + png + " and " + svg + "\n" : "dot failed to render the graph\n");
    } else {
      std::cout << "Graphviz's `dot` is not on PATH: skipping the PNG "
                   "(apt-get install graphviz, then: dot -Tpng " << dot_path << " -o graph.png)\n";
    }

    if (!check) return 0;
    // The graph must be the one the model computes: 3 Linears (one op each), then
    // transpose (K^T), matmul, mul_scalar, softmax, matmul, and mse_loss = 9 ops;
    // the six parameters; and one backward through it must reach all six.
    std::cout << "\nchecks:\n";
    examples::Checker c;
    c.expect(ops == 9, "9 ops in the graph (got " + std::to_string(ops) + ")");
    c.expect(parameters == 6, "6 parameters in the graph (got " + std::to_string(parameters) + ")");
    for (const auto& [name, p] : model.named_parameters())
      c.expect(count(dot_text, "label=\"" + name + "\\n[") == 1, "parameter " + name + " is labelled");
    for (const char* op : {"Q = linear\\n[10, 50]", "K = linear\\n[10, 50]", "V = linear\\n[10, 50]",
                           "scores = mul_scalar\\n[10, 10]", "A = softmax\\n[10, 10]",
                           "output = matmul\\n[10, 50]", "loss = mse_loss\\n[]"})
      c.expect(count(dot_text, op) == 1, std::string("the graph shows ") + op);
    c.expect(count(dot_text, "tooltip=\"created at ") == ops, "every op knows where it was created");
    loss.backward();
    bool all_grads = true;
    for (const Tensor& p : model.parameters()) all_grads = all_grads && p.grad().defined();
    c.expect(all_grads, "backward through the drawn graph reaches all 6 parameters");
    c.expect(std::filesystem::file_size(dot_path) > 0, "wrote " + dot_path);
    if (have_dot()) c.expect(rendered, "rendered the PNG and the SVG with dot");
    return c.finish();
  } catch (const std::exception& e) {
    std::cerr << "graph_of_attention: " << e.what() << "\n";
    return 1;
  }
}
