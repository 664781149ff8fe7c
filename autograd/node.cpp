#include "heed/autograd/node.h"

#include "heed/autograd/anomaly.h"
#include "heed/autograd/grad_mode.h"

namespace heed {

// Destroying a node drops its edges, which may destroy the next node, which drops
// its edges... For an LSTM unrolled over 10,000 steps that recursion is hundreds of
// thousands of frames deep and overflows the stack. So the outermost destructor
// keeps a list of edges still to drop and drops them one at a time in a loop; the
// destructors it sets off (nested inside it) only hand their edges to that list.
//
// Every edge goes on the list, not only those whose node dies with us. An edge
// left in the node would be dropped after the loop, when the node's members die; if it
// held the last reference, that node's destructor would start a new loop one frame
// deeper, and a residual chain (h = h + f(h)) would recurse once per step.
//
// The list lives on the outermost destructor's stack; the thread_local is a plain
// pointer to it. (A thread_local std::vector would itself be destroyed at thread
// exit, before a static Tensor's graph, whose destructor would then use a dead vector.)
namespace {
thread_local std::vector<std::shared_ptr<Node>>* t_pending_drops = nullptr;
}  // namespace

Node::~Node() {
  std::vector<std::shared_ptr<Node>> drops;
  const bool outermost = t_pending_drops == nullptr;
  if (outermost) {
    t_pending_drops = &drops;
    drops.reserve(32);  // room for a small graph at once, instead of doubling into it
  }
  // (The backward's saved tensors are detached, no nodes: FunctionNode's destructor
  // has already dropped them when this base destructor runs.)
  Edge* edges = this->edges();
  for (size_t i = 0; i < num_edges_; ++i) {
    Edge& e = edges[i];
    if (e.node) t_pending_drops->push_back(std::move(e.node));
  }
  if (!outermost) return;
  while (!drops.empty()) {
    std::shared_ptr<Node> n = std::move(drops.back());
    drops.pop_back();
    n.reset();  // if that was the last reference, its destructor adds its edges to `drops`
  }
  t_pending_drops = nullptr;
}

TensorList Node::apply(const Tensor& grad_output) {
  if (released_)
    throw AutogradError(msg(
        "backward: trying to run backward through the graph a second time (at '", name_,
        "'): its saved tensors were freed after the first backward; pass retain_graph=true "
        "to the first backward() if you need to run it again"));
  return run_backward(grad_output);
}

TensorList Node::run_backward(const Tensor&) {
  throw AutogradError(msg("backward: node '", name_, "' has no backward function to run"));
}

void Node::set_inputs(std::span<const Tensor> inputs) {
  num_edges_ = inputs.size();
  heap_edges_.clear();
  if (num_edges_ > kInlineEdges) heap_edges_.resize(num_edges_);
  Edge* edges = this->edges();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    edges[i] = t.defined() ? Edge{gradient_edge(t), t.shape(), t.dtype()} : Edge{nullptr, Shape{}, kFloat32};
  }
}

// Only a tensor that could be the op's own output needs the detached alias. One
// that already has a grad_fn, or is a leaf that requires grad, is certainly an
// input (an op's output gets its grad_fn from record(), after the saving), and an
// input does not own this op's node: keeping it as it is makes no cycle and saves
// building an alias for every saved input of every op.
SavedTensor::SavedTensor(const Tensor& t)
    : data_(t.defined() && t.requires_grad() ? t : t.detach()), version_(t.version()) {}

Tensor SavedTensor::get(const char* op) const {
  if (data_.version() != version_)
    throw AutogradError(msg(
        op, ": a tensor of shape ", data_.shape(), " saved for backward was modified by an "
        "in-place operation (version ", version_, " when saved, now ", data_.version(),
        "); clone() it before writing to it in place"));
  return data_;
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const TensorList& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  TensorImpl& impl = t.impl();
  if (impl.autograd->made_by_op()) return std::static_pointer_cast<Node>(impl.autograd);
  // One accumulator per leaf, shared by all its uses, so a graph drawing shows one
  // node per parameter. It lives only while some graph holds it.
  LeafState& leaf = *leaf_state(impl);
  std::shared_ptr<Node> acc = leaf.accumulator.lock();
  if (!acc) {
    acc = std::make_shared<Node>("AccumulateGrad");
    acc->leaf = t.impl_ptr();
    acc->set_output(impl.shape, impl.dtype);
    leaf.accumulator = acc;
  }
  return acc;
}

Tensor attach_node(std::shared_ptr<Node> node, Tensor out, std::span<const Tensor> inputs,
                   const SourceSite& where) {
  node->set_inputs(inputs);
  node->set_output(out.shape(), out.dtype());
  node->profile_site = profiler::current_site();  // for the profiler's backward events (zero when off)
  if (is_anomaly_enabled()) {  // the one branch when off
    node->creation_site = capture_creation_site(where);
    if (is_anomaly_forward_check_enabled()) check_output_finite(*node, out, inputs);
  }
  out.impl().autograd = std::move(node);
  return out;
}

}  // namespace heed
