#include "heed/nn/module.h"

#include <unordered_set>

#include "heed/autograd/grad_mode.h"
#include "heed/core/copy.h"

namespace heed::nn {

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(msg("Module: name '", name, "' must be non-empty and contain no '.'"));
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list)
      if (n == name) return true;
    return false;
  };
  if (visiting_ > 0)
    throw ValueError(msg("Module: cannot register '", name, "' while apply() visits this module; change "
                         "parameters' values in apply, and build the module tree before or after it"));
  if (taken(params_) || taken(buffers_) || taken(children_))
    throw ValueError(msg("Module: the name '", name, "' is already registered"));
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  // A parameter is a leaf of its own, even if it was computed from other tensors.
  Tensor p = value.is_leaf() ? value : value.detach();
  p.requires_grad_(true);
  params_.emplace_back(name, p);
  return p;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::collect(const std::string& prefix, bool params, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  if (params)
    for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", params, buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all, out;
  collect("", true, false, all);
  // Drop repeats of a tensor already listed (tied weights): two handles are the same
  // parameter when they share one TensorImpl. Models hold few parameter tensors, so
  // the quadratic scan costs nothing next to one forward pass.
  for (auto& [name, t] : all) {
    bool seen = false;
    for (const auto& [n, u] : out) seen = seen || u.impl_ptr() == t.impl_ptr();
    if (!seen) out.emplace_back(std::move(name), std::move(t));
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [n, c] : children_) out.push_back(c);
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const Tensor& p : parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  if (!fn) throw ValueError("Module::apply: fn is an empty std::function");
  struct Visiting {  // marks this module as walked, also when fn throws
    int& count;
    explicit Visiting(int& c) : count(c) { ++count; }
    ~Visiting() { --count; }
  } visiting(visiting_);
  for (const auto& [name, child] : children_) child->apply(fn);
  fn(*this);
  return *this;
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [n, c] : children_) c->train(on);
}

void Module::to(DType dtype) {
  if (!is_floating(dtype))
    throw DTypeError(msg("Module::to: asked for ", dtype, "; parameters must stay floating ",
                         "(float32 or float64) to carry gradients"));
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, true, all);
  NoGradGuard no_grad;
  for (auto& [name, t] : all) {
    if (t.dtype() == dtype || !is_floating(t.dtype())) continue;
    Tensor converted = t.to(dtype).contiguous();
    // Swap the memory under the shared impl: every handle to this tensor sees it.
    TensorImpl& impl = t.impl();
    impl.storage = converted.impl().storage;
    impl.strides = converted.strides();
    impl.offset = 0;
    impl.dtype = dtype;
    t.zero_grad();  // a gradient of the old dtype would not fit
  }
}

StateDict Module::state_dict() const {
  // PyTorch's order: each module's parameters, then its buffers, then its children.
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, true, all);
  StateDict out;
  for (auto& [n, t] : all) out.set(n, t.detach());
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  std::vector<std::pair<std::string, Tensor>> mine;
  collect("", true, true, mine);
  // Check everything first, so a failed load leaves the module unchanged.
  for (const auto& [name, t] : mine) {
    if (!state.contains(name)) {
      if (strict)
        throw ValueError(msg("load_state_dict: missing key '", name, "' (shape ", t.shape(),
                             ") in the state dict"));
      continue;
    }
    const Tensor& src = state.at(name);
    if (!src.defined())
      throw ValueError(msg("load_state_dict: the tensor under key '", name, "' is undefined"));
    if (src.shape() != t.shape())
      throw ShapeError(msg("load_state_dict: '", name, "' has shape ", src.shape(),
                           " in the state dict but ", t.shape(), " in the module"));
    try {  // a float NaN into an int64 buffer, say: refused here, before anything is copied
      check_convertible(src, t.dtype());
    } catch (const ValueError& e) {
      throw ValueError(msg("load_state_dict: '", name, "': ", e.what()));
    }
  }
  if (strict) {
    std::unordered_set<std::string> known;
    for (const auto& [name, t] : mine) known.insert(name);
    for (const auto& [name, src] : state)
      if (!known.count(name))
        throw ValueError(msg("load_state_dict: unexpected key '", name, "' (shape ",
                             src.defined() ? msg(src.shape()) : std::string("undefined"), ") not in the module"));
  }
  NoGradGuard no_grad;  // writing into parameters is not part of any graph
  for (auto& [name, t] : mine)
    if (state.contains(name)) t.copy_(state.at(name));  // copy_ converts the dtype if needed
}

}  // namespace heed::nn
