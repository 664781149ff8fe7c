// The Tensor methods autograd defines (declared in core/tensor.h).
#include "heed/autograd/engine.h"
#include "heed/autograd/hooks.h"
#include "heed/autograd/leaf.h"
#include "heed/autograd/node.h"

namespace heed {

LeafState& leaf_state_for(TensorImpl& t) {
  if (!t.autograd) t.autograd = std::make_shared<LeafState>();
  return static_cast<LeafState&>(*t.autograd);
}

Tensor& Tensor::requires_grad_(bool on) {
  if (!is_leaf())
    throw AutogradError(msg("requires_grad_: only leaf tensors can be flagged; this one was made by '",
                            grad_fn()->name(), "' and follows its inputs (detach() makes a new leaf)"));
  if (on && !is_floating(dtype()))
    throw DTypeError(msg("requires_grad_: tensor has dtype ", dtype(),
                         "; only floating dtypes (float32, float64) can require grad"));
  if (on || impl().autograd) leaf_state_for(impl()).set_requires_grad(on);
  return *this;
}

Tensor Tensor::grad() const {
  const LeafState* s = leaf_state(impl());
  return s && s->grad ? Tensor(s->grad) : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && (g.shape() != shape() || g.dtype() != dtype()))
    throw ShapeError(msg("set_grad: grad has shape ", g.shape(), " (", g.dtype(), "), tensor has ",
                         shape(), " (", dtype(), "); they must match"));
  if (!is_leaf())
    throw AutogradError(msg("set_grad: this tensor of shape ", shape(), " was made by '", grad_fn()->name(),
                            "'; only a leaf keeps a gradient"));
  if (!g.defined() && !impl().autograd) return;  // nothing to drop
  leaf_state_for(impl()).grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::zero_grad() {
  if (LeafState* s = leaf_state(impl())) s->grad = nullptr;
}

std::shared_ptr<Node> Tensor::grad_fn() const {
  const std::shared_ptr<AutogradMeta>& m = impl().autograd;
  return m && m->made_by_op() ? std::static_pointer_cast<Node>(m) : nullptr;
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { run_backward(*this, grad, retain_graph); }

int Tensor::register_hook(std::function<Tensor(const Tensor& grad)> hook) const {
  return register_grad_hook(*this, std::move(hook));
}

int Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor& leaf)> hook) const {
  return register_post_accumulate_hook(*this, std::move(hook));
}

void Tensor::remove_hook(int id) const { remove_grad_hook(*this, id); }

}  // namespace heed
