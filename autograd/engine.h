// The backward engine: reverse-mode autodiff over the graph of Nodes.
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// Sends `grad` (d loss / d root; 1 for a scalar root if undefined) back through
// root's graph, accumulating into the grad() of every leaf that requires grad.
// Unless retain_graph, each node's saved tensors are freed once it has run.
// Tensor::backward() calls this.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace heed
