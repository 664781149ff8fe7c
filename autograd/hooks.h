// Gradient hooks: functions that look at, or replace, a tensor's gradient while
// backward() carries it through the graph (Tensor::register_hook, as in PyTorch).
//
//   Tensor h = tanh(matmul(x, w));
//   int id = h.register_hook([](const Tensor& g) {
//     std::cout << "dL/dh norm " << g.pow(2).sum().item() << "\n";
//     return Tensor();                       // undefined: keep the gradient as it is
//   });
//   w.register_hook([](const Tensor& g) { return g * 2.0; });   // a replacement
//   loss.backward();
//   h.remove_hook(id);
//
// When a hook runs, it gets the *total* gradient with respect to its tensor (every
// use of the tensor has already sent its part), before that gradient goes on:
//   - a tensor made by an op: before its grad_fn's backward runs. The hooks live
//     on that node, so they stay while the graph does, even if the handle is gone.
//   - a leaf: before the gradient is added into grad(). The hooks live on the
//     leaf's LeafState (autograd/leaf.h), because its AccumulateGrad node exists
//     only while some graph uses the leaf, and a hook registered before the
//     forward must survive.
// Hooks run in registration order, each on the result of the one before, with grad
// mode off (they are part of backward). A replacement must have the tensor's shape
// and dtype; the engine checks. Don't write into the gradient in place: it may be
// a view of another tensor's gradient. Return a new tensor instead.
//
// A hook must not capture the tensor it is registered on (nor anything that holds
// it): the tensor owns its hooks, so it would own itself, a reference cycle that is
// never freed. Capture what you need to know (a name, a counter, a pointer to a
// vector to fill) instead.
#pragma once

#include <functional>
#include <vector>

#include "heed/core/tensor.h"

namespace heed {

// The hooks of one tensor, in registration order.
class GradHooks {
 public:
  using Fn = std::function<Tensor(const Tensor& grad)>;

  int add(Fn fn);        // returns a process-wide unique id
  bool remove(int id);   // false if no hook here has that id
  bool empty() const { return entries_.empty(); }

  // Runs every hook on grad, in order. Each result must be undefined (keep) or a
  // tensor of `shape` and `dtype`, the tensor's own; `what` names the tensor in
  // the error ("the tensor made by 'tanh'", "a leaf").
  Tensor run(Tensor grad, const Shape& shape, DType dtype, const std::string& what) const;

 private:
  struct Entry {
    int id;
    Fn fn;
  };
  std::vector<Entry> entries_;
};

// Hooks that run after a leaf's gradient is accumulated (Tensor::
// register_post_accumulate_grad_hook): each gets the leaf, whose grad() holds this
// backward's whole gradient by then. They look; they cannot replace anything.
struct PostAccumulateHooks {
  using Fn = std::function<void(const Tensor& leaf)>;
  struct Entry {
    int id;
    Fn fn;
  };
  std::vector<Entry> entries;
};

// Tensor::register_hook, register_post_accumulate_grad_hook and remove_hook
// (core/tensor.h) call these.
int register_grad_hook(const Tensor& t, GradHooks::Fn fn);
int register_post_accumulate_hook(const Tensor& t, PostAccumulateHooks::Fn fn);
void remove_grad_hook(const Tensor& t, int id);

}  // namespace heed
