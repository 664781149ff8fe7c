#include "heed/autograd/hooks.h"

#include <algorithm>
#include <atomic>

#include "heed/autograd/leaf.h"
#include "heed/autograd/node.h"

namespace heed {

namespace {
// Ids are unique across all tensors, so removing an id from the wrong tensor
// is an error rather than silently removing some other hook.
std::atomic<int> g_next_hook_id{1};
}  // namespace

int GradHooks::add(Fn fn) {
  int id = g_next_hook_id.fetch_add(1, std::memory_order_relaxed);
  entries_.push_back({id, std::move(fn)});
  return id;
}

bool GradHooks::remove(int id) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

Tensor GradHooks::run(Tensor grad, const Shape& shape, DType dtype, const std::string& what) const {
  // Iterate over a copy: a hook may remove itself (or another) while running.
  std::vector<Entry> entries = entries_;
  for (const Entry& e : entries) {
    Tensor out = e.fn(grad);
    if (!out.defined()) continue;  // the hook only looked
    if (out.shape() != shape || out.dtype() != dtype)
      throw AutogradError(msg("register_hook: hook ", e.id, " on ", what, " of shape ", shape, " (",
                              dtype, ") returned a gradient of shape ", out.shape(), " (", out.dtype(),
                              "); a hook must return an undefined Tensor (keep the gradient) or a "
                              "replacement of the tensor's own shape and dtype"));
    grad = std::move(out);
  }
  return grad;
}

int register_grad_hook(const Tensor& t, GradHooks::Fn fn) {
  if (!fn) throw ValueError("register_hook: the hook is an empty std::function");
  TensorImpl& impl = t.impl();
  if (Node* node = grad_fn_of(impl)) return node->hooks.add(std::move(fn));
  if (!t.requires_grad())
    throw AutogradError(msg("register_hook: the tensor of shape ", impl.shape,
                            " does not require grad, so no gradient will ever reach its hook; call "
                            "requires_grad_() on it (a leaf) first"));
  return leaf_state_for(impl).hooks.add(std::move(fn));
}

int register_post_accumulate_hook(const Tensor& t, PostAccumulateHooks::Fn fn) {
  if (!fn) throw ValueError("register_post_accumulate_grad_hook: the hook is an empty std::function");
  TensorImpl& impl = t.impl();
  // Only a leaf has a grad() that backward accumulates into.
  if (!t.is_leaf() || !t.requires_grad())
    throw AutogradError(msg("register_post_accumulate_grad_hook: the tensor of shape ", impl.shape, " is ",
                            t.is_leaf() ? "a leaf that does not require grad" : "made by an op",
                            "; only a leaf that requires grad accumulates a gradient"));
  const int id = g_next_hook_id.fetch_add(1, std::memory_order_relaxed);
  leaf_state_for(impl).post_accumulate_hooks.entries.push_back({id, std::move(fn)});
  return id;
}

void remove_grad_hook(const Tensor& t, int id) {
  TensorImpl& impl = t.impl();
  LeafState* leaf = leaf_state(impl);
  if (leaf) {  // a post-accumulate hook?
    auto& entries = leaf->post_accumulate_hooks.entries;
    auto it = std::find_if(entries.begin(), entries.end(), [id](const auto& e) { return e.id == id; });
    if (it != entries.end()) {
      entries.erase(it);
      return;
    }
  }
  Node* node = grad_fn_of(impl);
  GradHooks* hooks = node ? &node->hooks : leaf ? &leaf->hooks : nullptr;
  if (!hooks || !hooks->remove(id))
    throw ValueError(msg("remove_hook: the tensor of shape ", impl.shape, " has no hook with id ", id,
                         "; it was removed already, or registered on another tensor"));
}

}  // namespace heed
