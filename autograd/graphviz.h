// Drawing the autograd graph: export the graph behind a tensor as Graphviz DOT.
//
//   Tensor loss = nn::mse_loss(model.forward(x), y);
//   DotOptions options;
//   options.names = model.named_parameters();   // label parameters "q.weight", ...
//   options.names.push_back({"scores", scores}); // any tensor made by an op, too
//   save_dot(loss, "graph.dot", options);       // then: dot -Tpng graph.dot -o graph.png
//
// What the picture shows (the same graph backward() walks, autograd/node.h):
//   - one box per op: the op's name and the shape of the tensor it made,
//       matmul
//       [10, 10]
//     with the name from `names` first ("scores = matmul") when it has one;
//   - one blue box per leaf that requires grad (a parameter, usually): its name if
//     `names` has it, else "leaf", and its shape. Leaves that need no gradient (the
//     data, the targets) are not in the graph: no gradient goes to them;
//   - an arrow from each input to the op that used it, in the direction of the
//     forward pass; backward runs along them the other way. A tensor used twice
//     (x * x) has two arrows to that op, one per input slot;
//   - the op that made `root` with a thick border.
// In anomaly mode (autograd/anomaly.h) an op's tooltip says where it was created.
//
// The walk uses an explicit stack (a 10,000-step LSTM is fine, if not pretty), and
// keeps no reference to the graph after it returns.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "heed/core/tensor.h"

namespace heed {

struct DotOptions {
  // Labels for tensors: a parameter (a leaf) or any tensor made by an op. The
  // type matches what nn::Module::named_parameters() returns.
  std::vector<std::pair<std::string, Tensor>> names;
  std::string title;  // drawn above the graph when not empty
};

// The graph that produced `root`, as the text of a DOT file ("digraph autograd {...}").
// A root with no grad_fn draws as a single box.
std::string to_dot(const Tensor& root, const DotOptions& options = {});

// to_dot(), written to `path`. Throws IOError if the file cannot be written.
void save_dot(const Tensor& root, const std::string& path, const DotOptions& options = {});

}  // namespace heed
