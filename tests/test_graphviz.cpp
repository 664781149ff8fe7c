// The DOT export of the autograd graph (autograd/graphviz.h): op names and output
// shapes, leaves drawn as (named) parameters, one arrow per input slot, and the
// walk working on deep graphs and keeping nothing alive.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "helpers.h"
#include "heed/autograd/graphviz.h"
#include "heed/nn/linear.h"

using namespace heed;
using namespace heed::test;

namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The label of each node as it appears in the DOT text: `label="mul\n[3]"`.
std::string label(const std::string& first_line, const std::string& shape) {
  return "label=\"" + first_line + "\\n" + shape + "\"";
}

}  // namespace

TEST_CASE("graphviz/a small graph: nodes, labels and edges") {
  // loss = sum(x * w): sum <- mul <- {x, w}: 4 nodes, 3 arrows.
  Tensor x = Tensor({1, 2, 3}).requires_grad_();
  Tensor w = Tensor({4, 5, 6}).requires_grad_();
  Tensor loss = (x * w).sum();
  DotOptions options;
  options.names = {{"x", x}, {"w", w}};
  std::string dot = to_dot(loss, options);
  INFO(dot);

  CHECK(dot.rfind("digraph autograd {", 0) == 0);
  CHECK(dot.back() == '\n');
  CHECK(count(dot, "[label=") == 4);
  CHECK(count(dot, " -> ") == 3);
  CHECK(count(dot, label("mul", "[3]")) == 1);
  CHECK(count(dot, label("sum", "[]")) == 1);
  CHECK(count(dot, label("x", "[3]") + ", fillcolor=lightblue") == 1);  // parameters stand out
  CHECK(count(dot, label("w", "[3]") + ", fillcolor=lightblue") == 1);
  CHECK(count(dot, "penwidth=3") == 1);  // the root
  // Nodes are numbered breadth first from the root: n0 sum, n1 mul, n2 x, n3 w.
  CHECK(count(dot, "n0 [" + label("sum", "[]")) == 1);
  CHECK(count(dot, "n1 -> n0;") == 1);
  CHECK(count(dot, "n2 -> n1;") == 1);
  CHECK(count(dot, "n3 -> n1;") == 1);
}

TEST_CASE("graphviz/what is drawn and what is not") {
  SUBCASE("a tensor used twice: two arrows, one box") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    std::string dot = to_dot((x * x).sum());
    CHECK(count(dot, "[label=") == 3);
    CHECK(count(dot, "n2 -> n1;") == 2);
    CHECK(count(dot, label("leaf", "[2]")) == 1);  // unnamed leaves are "leaf"
  }
  SUBCASE("inputs that need no gradient are not in the graph") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    Tensor data = Tensor({3, 4});
    std::string dot = to_dot((x * data).sum());
    CHECK(count(dot, "[label=") == 3);  // sum, mul, x
    CHECK(count(dot, " -> ") == 2);
  }
  SUBCASE("names for tensors made by ops, and dtypes other than float32") {
    Tensor x = Tensor({{1, 2, 3}, {4, 5, 6}}, kFloat64).requires_grad_();
    Tensor h = tanh(x);
    DotOptions options;
    options.names = {{"h", h}};
    std::string dot = to_dot(h.t().sum(), options);
    CHECK(count(dot, label("h = tanh", "[2, 3] float64")) == 1);
    CHECK(count(dot, label("transpose", "[3, 2] float64")) == 1);
  }
  SUBCASE("the first name given for a tensor wins; quotes are escaped") {
    Tensor x = Tensor({1.0}).requires_grad_();
    DotOptions options;
    options.names = {{"say \"hi\"", x}, {"other", x}};
    std::string dot = to_dot(x * 2.0, options);
    CHECK(count(dot, "say \\\"hi\\\"") == 1);
    CHECK(count(dot, "other") == 0);
  }
  SUBCASE("a title") {
    Tensor x = Tensor({1.0}).requires_grad_();
    DotOptions options;
    options.title = "my model";
    CHECK(count(to_dot(x * 2.0, options), "label=\"my model\", labelloc=t") == 1);
  }
  SUBCASE("a leaf root is one box") {
    Tensor p = Tensor({1, 2}).requires_grad_();
    std::string dot = to_dot(p, {{{"p", p}}, ""});
    CHECK(count(dot, "[label=") == 1);
    CHECK(count(dot, label("p", "[2]") + ", fillcolor=lightblue") == 1);
    CHECK(count(dot, " -> ") == 0);
  }
  SUBCASE("a graph already run by backward can still be drawn") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    Tensor loss = exp(x).sum();
    loss.backward();
    std::string dot = to_dot(loss);
    CHECK(count(dot, label("exp", "[2]")) == 1);
    CHECK(count(dot, " -> ") == 2);
  }
}

TEST_CASE("graphviz/a module's named parameters") {
  manual_seed(0);
  nn::Linear layer(4, 3);
  Tensor y = layer.forward(Tensor::randn({5, 4}));
  DotOptions options;
  options.names = layer.named_parameters();
  std::string dot = to_dot(y, options);
  INFO(dot);
  CHECK(count(dot, label("weight", "[3, 4]") + ", fillcolor=lightblue") == 1);
  CHECK(count(dot, label("bias", "[3]") + ", fillcolor=lightblue") == 1);
  CHECK(count(dot, label("linear", "[5, 3]")) == 1);
  // linear <- weight, linear <- bias: Linear is one op (ops/linalg.h: linear)
  CHECK(count(dot, "[label=") == 3);
  CHECK(count(dot, " -> ") == 2);
}

TEST_CASE("graphviz/a 10,000-op chain: no recursion, nothing kept alive") {
  std::weak_ptr<Node> root_node;
  {
    Tensor x = Tensor({1.0}).requires_grad_();
    Tensor h = x;
    for (int i = 0; i < 10000; ++i) h = h * 1.0;
    std::string dot = to_dot(h);
    CHECK(count(dot, "[label=") == 10001);
    CHECK(count(dot, " -> ") == 10000);
    root_node = h.grad_fn();
  }
  CHECK(root_node.expired());
}

TEST_CASE("graphviz/save_dot") {
  Tensor x = Tensor({1, 2}).requires_grad_();
  Tensor loss = (x * x).sum();
  auto path = std::filesystem::temp_directory_path() / "heed_test_graphviz.dot";
  save_dot(loss, path.string());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == to_dot(loss));
  std::filesystem::remove(path);

  CHECK_THROWS_CONTAINING(save_dot(loss, "/nonexistent-dir/graph.dot"), "cannot open '/nonexistent-dir/graph.dot'",
                          IOError);
  CHECK_THROWS_CONTAINING(to_dot(Tensor()), "undefined", ValueError);
}
