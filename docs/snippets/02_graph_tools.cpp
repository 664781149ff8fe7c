// Chapter 2: three tools for looking inside the graph: gradient hooks, anomaly
// mode, and a drawing of the graph as a Graphviz DOT file.
#include "check.h"

#include <cmath>
#include <fstream>
#include <sstream>

using namespace heed;
using tour::check;

int main() {
  // [hooks]
  Tensor x = Tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();
  Tensor h = x * 3.0;
  double seen = 0;
  h.register_hook([&seen](const Tensor& g) {  // sees dloss/dh, before it goes on to x
    seen = g.sum().item();
    return Tensor();                           // undefined: keep the gradient as it is
  });
  x.register_hook([](const Tensor& g) { return g * 2.0; });  // a replacement, for x's grad
  h.sum().backward();
  check(seen == 3, "a hook on h sees the gradient of h (ones, summing to 3)");
  check(x.grad().to_vector<double>() == std::vector<double>{6, 6, 6}, "a hook on a leaf can replace its gradient (3 * 2)");
  // [end hooks]

  // [anomaly]
  Tensor u = Tensor({0.0, 4.0}, kFloat64).requires_grad_();
  sqrt(u).sum().backward();  // d sqrt(u)/du = 1 / (2 sqrt(u)) is inf at 0: silently
  check(std::isinf(u.grad().at({0})), "without anomaly mode an inf gradient passes silently");
  u.zero_grad();
  {
    DetectAnomalyGuard anomaly;
    Tensor s = sqrt(u).sum();
    check(tour::throws<AutogradError>([&] { s.backward(); }, "backward of 'sqrt'"),
          "anomaly mode names the op whose backward made the inf");
  }
  // [end anomaly]

  // [dot]
  manual_seed(0);
  nn::Sequential mlp{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::Tanh>(),
                     std::make_shared<nn::Linear>(4, 1)};
  Tensor loss = nn::mse_loss(mlp(Tensor::randn({8, 3})), Tensor::randn({8, 1}));
  DotOptions options;
  options.names = mlp.named_parameters();  // label the leaves "0.weight", ...
  options.title = "loss = mse_loss(mlp(x), y)";
  save_dot(loss, "mlp_graph.dot", options);  // then: dot -Tpng mlp_graph.dot -o mlp_graph.png
  std::stringstream text;
  text << std::ifstream("mlp_graph.dot").rdbuf();
  check(text.str().find("digraph") != std::string::npos && text.str().find("0.weight") != std::string::npos &&
            text.str().find("tanh") != std::string::npos,
        "save_dot wrote the graph: ops, and the parameters by name");
  // [end dot]
  return tour::failures();
}
