// What autograd keeps on a leaf: a tensor no op made (a parameter, an input).
//
// An op's output needs nothing from autograd but the node of the op that made it
// (autograd/node.h), so that node is its whole state. A leaf has no node; once
// it is asked to (requires_grad_(), set_grad(), register_hook()), it gets a
// LeafState: whether it requires grad, the gradient backward() accumulates into
// it, its hooks, and a weak link to its AccumulateGrad node. Both are
// AutogradMeta, the interface core holds them by (core/autograd_meta.h).
#pragma once

#include <memory>
#include <string>

#include "heed/autograd/hooks.h"
#include "heed/core/autograd_meta.h"
#include "heed/core/tensor.h"

namespace heed {

class LeafState final : public AutogradMeta {
 public:
  LeafState() : AutogradMeta(/*made_by_op=*/false, /*requires_grad=*/false) {}
  void set_requires_grad(bool on) { requires_grad_ = on; }
  std::string describe() const override { return requires_grad_ ? "requires_grad=True" : ""; }

  std::shared_ptr<TensorImpl> grad;  // accumulated by backward()
  // The AccumulateGrad node every graph that uses this leaf shares while one
  // exists. It owns the leaf (it must add into it), so the leaf holds it weakly.
  std::weak_ptr<Node> accumulator;
  // register_hook()s. They live here, not on the AccumulateGrad node, because
  // that node exists only while some graph uses the leaf, and a hook registered
  // before the forward must survive.
  GradHooks hooks;
  PostAccumulateHooks post_accumulate_hooks;  // register_post_accumulate_grad_hook()s
};

// t's LeafState, or null: t was made by an op, or autograd was never told about it.
inline LeafState* leaf_state(const TensorImpl& t) {
  AutogradMeta* m = t.autograd.get();
  return m && !m->made_by_op() ? static_cast<LeafState*>(m) : nullptr;
}

// t's LeafState, made on first use. t must be a leaf (Tensor::is_leaf()).
LeafState& leaf_state_for(TensorImpl& t);

}  // namespace heed
