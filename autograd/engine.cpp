// The backward engine.
//
// 1. Count, for every node reachable from the root, how many edges point at it
//    (its consumers in the forward pass). This walk uses an explicit list, not
//    recursion: an LSTM unrolled over 10,000 steps has hundreds of thousands of
//    nodes in a chain.
// 2. Starting at the root, run a node once all its consumers have sent their
//    gradient (its count reaches zero). That is a reverse topological order, so a
//    tensor used twice receives both contributions, added with +=, before its own
//    backward runs.
// 3. Check each gradient a backward returns against the shape and dtype of its
//    input, so a wrong backward fails loudly, at the op that is wrong.
//
// A few extras ride along. Before a node runs, the hooks of the tensor it made see
// (and may replace) that tensor's total gradient (autograd/hooks.h); after a
// leaf's gradient is accumulated, its post-accumulate hooks see the leaf; and
// callbacks queued during the backward run at its end (queue_callback). In
// anomaly mode every gradient is also scanned for NaN and Inf, and the first one
// found is blamed on the op whose backward produced it (autograd/anomaly.h).
#include "heed/autograd/engine.h"

#include <atomic>
#include <functional>
#include <vector>

#include "heed/autograd/anomaly.h"
#include "heed/autograd/grad_mode.h"
#include "heed/autograd/leaf.h"
#include "heed/autograd/node.h"
#include "heed/core/copy.h"
#include "heed/core/profile_scope.h"

namespace heed {

namespace {

// True when nothing but `g` can reach its memory: its one handle, its own storage
// (not a view into a bigger or shared block), laid out plainly. Such a gradient
// can become a leaf's grad as it is, and a pending sum of gradients that is one
// can take the next contribution in place (a tensor used by 20 decoder steps
// gets 40 contributions: one buffer instead of 40 new tensors).
bool exclusively_owned(const Tensor& g) {
  const TensorImpl& impl = g.impl();
  return g.impl_ptr().use_count() == 1 && impl.storage.use_count() == 1 && !impl.autograd &&
         impl.offset == 0 && g.is_contiguous() &&
         impl.storage->nbytes() == static_cast<size_t>(g.numel()) * element_size(impl.dtype);
}

// a + b as a fresh tensor (a and b have one shape: the engine checked both).
// No graph: core's loops, not an op.
Tensor sum_of(const Tensor& a, const Tensor& b) {
  Tensor out = copy_of(a);
  add_elements(out, b);
  return out;
}

void accumulate_into_leaf(LeafState& leaf, Tensor g) {
  if (leaf.grad) {
    // A fresh tensor, not an add in place: the user may hold the old grad().
    leaf.grad = sum_of(Tensor(leaf.grad), g).impl_ptr();
  } else if (exclusively_owned(g)) {
    // The usual case: a backward just made this tensor and no one else holds it.
    // Taking it saves a copy of every parameter's gradient on every step.
    leaf.grad = g.impl_ptr();
  } else {
    // A copy: g may be a view of someone else's tensor (an expand of the output
    // gradient, say), or the very tensor another input received (add sends dy to
    // both), and the leaf's grad must be its own, contiguous memory.
    leaf.grad = copy_of(g).impl_ptr();
  }
}

// The backward running on this thread, or null outside one: its number
// (current_backward_id) and the callbacks queued during it (queue_callback). A
// guard sets it, and restores the outer backward when a backward runs inside
// another (a gradient check inside a hook).
struct RunningBackward {
  uint64_t id;
  std::vector<std::function<void()>> callbacks;
};
thread_local RunningBackward* running_backward = nullptr;

struct RunningBackwardGuard {
  RunningBackward state;
  RunningBackward* previous;
  explicit RunningBackwardGuard(uint64_t id) : state{id, {}}, previous(running_backward) { running_backward = &state; }
  ~RunningBackwardGuard() { running_backward = previous; }
  void run_callbacks() {
    for (size_t i = 0; i < state.callbacks.size(); ++i) {  // by index: a callback may queue more
      std::function<void()> fn = std::move(state.callbacks[i]);
      fn();
    }
  }
};

// A leaf's post-accumulate hooks, once its grad() holds this backward's gradient.
void run_post_accumulate_hooks(const std::shared_ptr<TensorImpl>& leaf_impl) {
  LeafState& leaf = *leaf_state(*leaf_impl);
  if (leaf.post_accumulate_hooks.entries.empty()) return;
  const std::vector<PostAccumulateHooks::Entry> entries = leaf.post_accumulate_hooks.entries;  // a hook may remove one
  const Tensor t(leaf_impl);
  for (const PostAccumulateHooks::Entry& e : entries) e.fn(t);
}

// The node whose backward is running on this thread (outside anomaly mode), for
// gradient_sum_of_input. A guard sets it around apply() and restores the previous
// one, since a backward may itself run a backward (a gradient check inside a hook).
thread_local Node* running_node = nullptr;

struct RunningNode {
  Node* previous;
  explicit RunningNode(Node* node) : previous(running_node) { running_node = node; }
  ~RunningNode() { running_node = previous; }
};

// Each backward() gets its own number, so a node can tell whether this backward
// has visited it (its backward_state.task is the number) or another one has.
uint64_t next_task_number() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

// Step 1: dependency counts. Every node reachable from the root goes into
// `nodes` once; walking that list while it grows visits the graph without
// recursion (an LSTM over 10,000 steps is a chain far deeper than the C++ stack).
// The counts live on the nodes (Node::backward_state), not in a hash map.
void count_dependencies(Node* root, uint64_t task, std::vector<Node*>& nodes) {
  auto visit = [&](Node* n) {
    if (n->backward_state.task != 0)
      throw AutogradError(msg("backward: node '", n->name(), "' is part of another backward() "
                              "that is still running (a hook calling backward() on the same "
                              "graph?); one graph runs one backward at a time"));
    n->backward_state.task = task;
    nodes.push_back(n);
  };
  visit(root);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const Edge& e : nodes[i]->next_edges()) {
      Node* n = e.node.get();
      if (!n) continue;
      if (n->backward_state.task != task) visit(n);
      ++n->backward_state.dependencies;
    }
  }
}

// Clears the bookkeeping of every visited node when backward() ends, normally or
// by an exception, so the graph can run another backward (retain_graph) and no
// gradient stays alive on a node.
struct ClearBackwardState {
  const std::vector<Node*>& nodes;
  ~ClearBackwardState() {
    for (Node* n : nodes) n->backward_state = {};
  }
};

// Step 3: a backward must return one gradient per input, each (when defined) with
// that input's shape and dtype. Checking here names the op whose backward is wrong,
// instead of failing later, somewhere else, with a confusing broadcast error.
void check_gradients(const Node& node, const TensorList& grads) {
  const size_t n = node.next_edges().size();
  if (grads.size() != n)
    throw AutogradError(msg("backward of '", node.name(), "' returned ", grads.size(),
                            " gradients for ", n, " inputs; it must return one per input ",
                            "(an undefined Tensor for an input that gets none)"));
  for (size_t i = 0; i < n; ++i) {
    const Tensor& gi = grads[i];
    if (!gi.defined() || !node.next_edges()[i].node) continue;
    if (gi.shape() != node.input_shape(i) || gi.dtype() != node.input_dtype(i))
      throw AutogradError(msg("backward of '", node.name(), "' returned a gradient of shape ",
                              gi.shape(), " (", gi.dtype(), ") for input ", i, " of shape ",
                              node.input_shape(i), " (", node.input_dtype(i), "); they must match"));
  }
}

// The tensor's hooks, if it has any. A leaf's hooks are on the leaf itself; an op
// output's are on its node.
Tensor run_hooks(const Node& node, Tensor g, bool anomaly) {
  const GradHooks* hooks = node.leaf ? &leaf_state(*node.leaf)->hooks : &node.hooks;
  if (hooks->empty()) return g;
  // g is handed on (moved): a parameter lives until the caller's full expression
  // ends, and a copy left in it would keep a leaf from taking the gradient as is.
  Tensor out = node.leaf ? hooks->run(std::move(g), node.leaf->shape, node.leaf->dtype, "a leaf")
                         : hooks->run(std::move(g), node.output_shape(), node.output_dtype(),
                                      msg("the tensor made by '", node.name(), "'"));
  if (anomaly) check_hook_result_finite(node, out);
  return out;
}

// In anomaly mode, ops are numbered from 1 in each forward; the forward after this
// backward starts again at 1, however this backward ends.
struct ForwardOpCountReset {
  bool anomaly;
  ~ForwardOpCountReset() {
    if (anomaly) reset_forward_op_count();
  }
};

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_in, bool retain_graph) {
  if (!root.requires_grad())
    throw AutogradError(msg("backward: the tensor of shape ", root.shape(),
                            " does not require grad and has no grad_fn; set requires_grad_() on "
                            "a leaf it depends on, and make sure grad mode was on in the forward"));
  Tensor grad = grad_in;
  if (!grad.defined()) {
    if (root.numel() != 1)
      throw AutogradError(msg("backward: the output has shape ", root.shape(),
                              "; a gradient can only be implied (as 1) for a one-element output, so "
                              "pass backward(grad) with a tensor of that shape"));
    grad = Tensor::ones(root.shape(), root.dtype());
  } else if (grad.shape() != root.shape() || grad.dtype() != root.dtype()) {
    throw AutogradError(msg("backward: grad has shape ", grad.shape(), " and dtype ", grad.dtype(),
                            "; it must match the output's shape ", root.shape(), " and dtype ",
                            root.dtype()));
  }

  const bool anomaly = is_anomaly_enabled();  // read once: the mode is fixed for this backward
  ForwardOpCountReset reset_count{anomaly};
  if (anomaly) check_root_gradient_finite(grad);

  profiler::OpScope phase("backward", profiler::Kind::Phase);  // for the profiler, when one runs
  NoGradGuard no_grad;  // backward formulas are ops too; they must not build a graph
  RunningBackwardGuard this_backward(next_task_number());
  std::shared_ptr<Node> root_node = gradient_edge(root);
  std::vector<Node*> nodes;  // every node this backward visits
  nodes.reserve(64);         // (room for a small graph at once, instead of doubling into it)
  ClearBackwardState clear{nodes};  // declared first: it cleans up even if counting throws
  count_dependencies(root_node.get(), this_backward.state.id, nodes);
  root_node->backward_state.grad = grad;

  // Nodes whose consumers have all reported. Raw pointers are safe: root_node keeps
  // the whole graph alive until this function returns.
  std::vector<Node*> ready;
  ready.reserve(16);
  ready.push_back(root_node.get());
  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    Tensor g = std::move(node->backward_state.grad);

    TensorList input_grads;  // stays empty when this node sends nothing on
    if (node->leaf) {
      if (g.defined()) {
        profiler::OpScope accumulate("accumulate_grad", profiler::Kind::Backward);
        accumulate_into_leaf(*leaf_state(*node->leaf), run_hooks(*node, std::move(g), anomaly));
        run_post_accumulate_hooks(node->leaf);
      }
    } else if (g.defined()) {
      profiler::BackwardScope timed(node->name(), node->profile_site);
      g = run_hooks(*node, std::move(g), anomaly);
      if (anomaly) {  // every contribution on its own, so a NaN is blamed on the op that made it
        input_grads = apply_with_creation_context(*node, g);
      } else {
        RunningNode running(node);
        input_grads = node->apply(g);
      }
      if (!retain_graph) node->release();
      check_gradients(*node, input_grads);
      if (anomaly) check_gradients_finite(*node, input_grads);
    }
    // else: nothing reached this node (every consumer sent "no gradient"). It is not
    // run (and so not released), but it still has to count down its inputs below,
    // or a node that other paths do reach would never become ready.

    const auto& edges = node->next_edges();
    for (size_t i = 0; i < edges.size(); ++i) {
      Node* next = edges[i].node.get();
      if (!next) continue;
      if (!input_grads.empty() && input_grads[i].defined()) {
        Tensor& acc = next->backward_state.grad;
        if (!acc.defined()) acc = std::move(input_grads[i]);
        else if (exclusively_owned(acc)) add_elements(acc, input_grads[i]);  // nothing else can see acc: add in place
        else acc = sum_of(acc, input_grads[i]);
      }
      if (--next->backward_state.dependencies == 0) ready.push_back(next);
    }
  }
  this_backward.run_callbacks();
}

void queue_callback(std::function<void()> fn) {
  if (!running_backward)
    throw AutogradError("queue_callback: no backward() is running on this thread; call it from a hook, "
                        "during backward()");
  if (!fn) throw ValueError("queue_callback: the callback is an empty std::function");
  running_backward->callbacks.push_back(std::move(fn));
}

uint64_t current_backward_id() { return running_backward ? running_backward->id : 0; }

Tensor* gradient_sum_of_input(size_t i) {
  if (!running_node) return nullptr;
  const auto edges = running_node->next_edges();
  if (i >= edges.size() || !edges[i].node) return nullptr;
  Tensor& sum = edges[i].node->backward_state.grad;
  return sum.defined() && exclusively_owned(sum) ? &sum : nullptr;
}

}  // namespace heed
