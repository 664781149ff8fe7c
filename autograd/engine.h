// The backward engine: reverse-mode autodiff over the graph of Nodes.
#pragma once

#include <cstdint>
#include <functional>

#include "heed/core/tensor.h"

namespace heed {

// Sends `grad` (d loss / d root; 1 for a scalar root if undefined) back through
// root's graph, accumulating into the grad() of every leaf that requires grad.
// Unless retain_graph, each node's saved tensors are freed once it has run.
// Tensor::backward() calls this.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

// Runs fn once the backward() running on this thread has been through its whole
// graph, just before backward() returns (PyTorch's
// Variable._execution_engine.queue_callback). For work that a hook starts and
// that must be finished when backward() returns: DistributedDataParallel waits
// there for the all-reduces its hooks started. Callbacks run in the order
// queued, with grad mode off; one may queue another. Called outside a backward,
// an AutogradError. If the backward throws, its callbacks are dropped.
void queue_callback(std::function<void()> fn);

// A number for the backward() running on this thread, new for every call; 0
// outside one. For a hook that keeps state over one backward's calls: it tells
// a new backward from the last one, even when the last one ended by throwing
// (its callbacks never ran). DistributedDataParallel arms its buckets by it.
uint64_t current_backward_id();

// For an op's backward, while it runs: the sum of the gradients that input `i`
// has received so far from its other consumers, when the backward may add its
// own contribution into that sum in place; nullptr otherwise (no sum yet, a sum
// someone else can see, anomaly mode, or no backward running).
//
// A backward that adds into it returns an undefined tensor for input i. Why: a
// weight used at every step of a decoder gets one gradient per step, and the
// product that makes each one (dW = dz^T x) can add itself to the sum directly
// (gemm's C += A B) instead of zeroing and writing a fresh [out, in] tensor that
// the engine then adds: one pass over the gradient's memory instead of three.
// The sum has the input's shape and dtype, is contiguous and owns its memory.
Tensor* gradient_sum_of_input(size_t i);

}  // namespace heed
