// What core knows of autograd: that a tensor may carry autograd's state.
//
// Autograd is the layer above core (autograd/), so core cannot know what that
// state is. It holds it, one pointer per TensorImpl, behind this interface:
//
//   null                  most tensors: data, gradients, anything an op made
//                         while grad mode was off or from inputs needing no grad
//   the op's Node         a tensor an op made from inputs that need grad: the
//                         node (autograd/node.h) is all autograd keeps for it
//   a LeafState           a leaf autograd was told about (requires_grad_(),
//                         set_grad(), a hook): its flag, grad and hooks
//                         (autograd/leaf.h)
//
// The interface answers the two things core itself asks: whether the tensor
// requires grad, and how to describe it when printing. Autograd, which made the
// object, knows which of the two kinds it is (made_by_op) and reads the rest.
// PyTorch keeps its AutogradMeta behind the same kind of interface
// (AutogradMetaInterface), in c10, its core, for the same reason.
#pragma once

#include <string>

namespace heed {

class AutogradMeta {
 public:
  virtual ~AutogradMeta() = default;
  AutogradMeta(const AutogradMeta&) = delete;
  AutogradMeta& operator=(const AutogradMeta&) = delete;

  // True for a leaf that asked for a gradient and for every tensor an op made
  // from one. Read on every op's inputs, so it is a plain field, not a virtual call.
  bool requires_grad() const { return requires_grad_; }
  // True when this is the Node of the op that made the tensor (its grad_fn).
  bool made_by_op() const { return made_by_op_; }
  // What printing shows after the values: "grad_fn=<tanh>", "requires_grad=True", or "".
  virtual std::string describe() const = 0;

 protected:
  AutogradMeta(bool made_by_op, bool requires_grad) : requires_grad_(requires_grad), made_by_op_(made_by_op) {}
  bool requires_grad_;

 private:
  bool made_by_op_;
};

}  // namespace heed
