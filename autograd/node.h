// The autograd graph.
//
// During the forward pass every differentiable op call that sees an input
// requiring grad adds one Node: the op's backward, plus an edge per input to the
// node that should receive that input's gradient. The output tensor owns its node
// (TensorImpl::autograd); the node owns the edges further back. Nothing points
// forward, so when the last tensor of a graph dies the graph dies with it.
//
// The node is also all autograd keeps on the tensor it made: TensorImpl::autograd
// points at it (core/autograd_meta.h), so recording an op allocates one object.
//
// Leaves that require grad get an AccumulateGrad node (a Node whose `leaf` is
// set): the engine adds the incoming gradient to the leaf's grad (autograd/leaf.h)
// instead of calling a backward function.
//
// A node also knows the shape of the tensor it made (to draw the graph, see
// autograd/graphviz.h, and to check what hooks return), the gradient hooks of that
// tensor (autograd/hooks.h), and, in anomaly mode only, where in the forward it
// was made (autograd/anomaly.h).
//
// How an op records itself (ops/activation.cpp, tanh):
//
//   Tensor y = ...forward...;
//   if (!needs_grad({x})) return y;
//   SavedTensor saved_y(y);                    // a detached alias + the version it had
//   return record("tanh", y, {x}, [saved_y](const Tensor& dy) -> TensorList {
//     Tensor y = saved_y.get("tanh");
//     return {dy * (1 - y * y)};               // one gradient per input, in order
//   });
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "heed/autograd/hooks.h"
#include "heed/autograd/leaf.h"
#include "heed/autograd/source_site.h"
#include "heed/core/autograd_meta.h"
#include "heed/core/object_pool.h"
#include "heed/core/profile_scope.h"
#include "heed/core/tensor.h"

namespace heed {

struct CreationSite;  // autograd/anomaly.h

using TensorList = std::vector<Tensor>;

// One input of the op: where its gradient goes (the input's grad_fn, its leaf
// accumulator, or nowhere, null, if it needs no gradient), and the shape and
// dtype that gradient must have (the input's own; the engine checks).
struct Edge {
  std::shared_ptr<Node> node;
  Shape input_shape;
  DType input_dtype = kFloat32;
};

class Node : public AutogradMeta {
 public:
  explicit Node(std::string name)
      : AutogradMeta(/*made_by_op=*/true, /*requires_grad=*/true), name_(std::move(name)) {}
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  std::string describe() const override { return "grad_fn=<" + name_ + ">"; }
  std::span<const Edge> next_edges() const { return {edges(), num_edges_}; }
  const Shape& input_shape(size_t i) const { return edges()[i].input_shape; }
  DType input_dtype(size_t i) const { return edges()[i].input_dtype; }
  // One edge per input, in order (record() sets them).
  void set_inputs(std::span<const Tensor> inputs);
  // The tensor this node made (the one whose gradient it receives): record() sets
  // them; an AccumulateGrad node has its leaf's.
  const Shape& output_shape() const { return output_shape_; }
  DType output_dtype() const { return output_dtype_; }
  void set_output(Shape shape, DType dtype) { output_shape_ = std::move(shape); output_dtype_ = dtype; }

  // Maps the gradient of the op's output to one gradient per input (an undefined
  // Tensor for an input that needs none). Throws AutogradError if release()
  // already dropped the backward, or if this node has none (AccumulateGrad).
  TensorList apply(const Tensor& grad_output);
  // Frees what the backward saved (its closure). After this, apply() throws,
  // which is how "backward twice through the same graph" is caught.
  void release() {
    release_backward();
    released_ = true;
  }
  bool released() const { return released_; }

  // Set only on a leaf's AccumulateGrad node. The node owns the leaf; the leaf
  // holds only a weak_ptr back (LeafState::accumulator): no cycle.
  std::shared_ptr<TensorImpl> leaf;

  // Hooks of the tensor this node made (Tensor::register_hook on a non-leaf): the
  // engine runs them on the gradient before apply(). A leaf's hooks live on its
  // LeafState instead: its AccumulateGrad node comes and goes.
  GradHooks hooks;

  // Where the forward made this node; set by record() only in anomaly mode.
  std::shared_ptr<const CreationSite> creation_site;
  // The same for the profiler (core/profiler.h): the op's event, while one runs.
  profiler::Site profile_site;

  // The engine's bookkeeping during one backward() (autograd/engine.cpp), kept on
  // the node so that a backward needs no hash maps: which backward has visited
  // the node (0: none), how many consumers have still to send their gradient, and
  // the sum of the gradients they sent so far.
  struct BackwardState {
    uint64_t task = 0;
    int dependencies = 0;
    Tensor grad;
  };
  BackwardState backward_state;

 protected:
  // The op's backward, and how to drop it; FunctionNode supplies both. The base
  // Node (AccumulateGrad) has none: the engine adds into the leaf instead.
  virtual TensorList run_backward(const Tensor& grad_output);
  virtual void release_backward() {}

 private:
  std::string name_;
  // Nearly every op has one to three inputs: their edges live inside the node,
  // so recording an op allocates nothing for them; an op with more (concat of
  // many tensors, say) keeps them on the heap.
  static constexpr size_t kInlineEdges = 3;
  Edge* edges() { return num_edges_ <= kInlineEdges ? inline_edges_.data() : heap_edges_.data(); }
  const Edge* edges() const { return num_edges_ <= kInlineEdges ? inline_edges_.data() : heap_edges_.data(); }
  std::array<Edge, kInlineEdges> inline_edges_;
  std::vector<Edge> heap_edges_;
  size_t num_edges_ = 0;
  Shape output_shape_;
  DType output_dtype_ = kFloat32;
  bool released_ = false;
};

// A node whose backward is the closure an op hands to record(). The closure lives
// inside the node, so an op's node is one allocation (a std::function would add a
// second whenever the closure is bigger than a couple of pointers, which it is
// whenever it holds a SavedTensor).
template <class F>
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, F backward) : Node(std::move(name)), backward_(std::move(backward)) {}

 protected:
  TensorList run_backward(const Tensor& grad_output) override { return (*backward_)(grad_output); }
  void release_backward() override { backward_.reset(); }

 private:
  std::optional<F> backward_;  // empty after release(): its saved tensors are freed
};

// A tensor kept for backward. It holds a detached alias (same storage, no
// grad_fn: so saving an op's own output makes no cycle), or, for a tensor that
// can only be an input (it has a grad_fn already, or is a leaf requiring grad),
// the tensor itself; and the storage's version at save time. get() checks the version: if an in-place write changed
// the data since, the gradient would be wrong, so it throws instead.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  Tensor get(const char* op) const;

 private:
  Tensor data_;
  uint64_t version_ = 0;
};

// True when grad mode is on and any input requires grad: only then is it worth
// saving anything for backward.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const TensorList& inputs);

// Gives `out` a grad_fn running `backward`, with one edge per input, and returns
// out. Call it only when needs_grad(inputs) is true. `where` defaults to the line
// that calls record(); anomaly mode shows it when that op's backward goes wrong.
// `backward` is any callable taking the output's gradient and returning a
// TensorList (usually a lambda).
Tensor attach_node(std::shared_ptr<Node> node, Tensor out, std::span<const Tensor> inputs,
                   const SourceSite& where);  // record()'s non-template part

template <class F>
Tensor record(const char* name, Tensor out, std::span<const Tensor> inputs, F&& backward,
              SourceSite where = SourceSite::current()) {
  // From a per-thread pool (core/object_pool.h): every recorded op makes one.
  auto node = std::allocate_shared<FunctionNode<std::decay_t<F>>>(PoolAllocator<FunctionNode<std::decay_t<F>>>(),
                                                                  name, std::forward<F>(backward));
  return attach_node(std::move(node), std::move(out), inputs, where);
}
// The same, for inputs written in braces: record("mul", y, {a, b}, ...).
template <class F>
Tensor record(const char* name, Tensor out, std::initializer_list<Tensor> inputs, F&& backward,
              SourceSite where = SourceSite::current()) {
  return record(name, std::move(out), std::span<const Tensor>(inputs.begin(), inputs.size()),
                std::forward<F>(backward), where);
}

// The node a gradient for `t` should flow into (its grad_fn, or its leaf
// accumulator, created on first use), or null if t needs no gradient.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

// The node of the op that made t, or null on a leaf (Tensor::grad_fn() without
// the reference count).
inline Node* grad_fn_of(const TensorImpl& t) {
  AutogradMeta* m = t.autograd.get();
  return m && m->made_by_op() ? static_cast<Node*>(m) : nullptr;
}

}  // namespace heed
