// ModuleList: submodules kept in order, like torch.nn.ModuleList. It has no
// forward of its own; the module that owns it decides how its members are
// called (a stack of Transformer layers, say, each taking masks):
//
//   layers = register_module("layers", std::make_shared<ModuleList>());
//   for (int i = 0; i < n; ++i) layers->push_back(std::make_shared<Block>(...));
//   for (const auto& block : layers->as<Block>()) x = block->forward(x);
//
// Members are registered as "0", "1", ..., so their parameters get PyTorch's
// dotted names ("layers.0.linear1.weight") and a PyTorch state dict loads key
// for key.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "heed/nn/module.h"

namespace heed::nn {

class ModuleList : public Module {
 public:
  ModuleList() = default;

  // Appends a module under the next index; returns it, typed as given.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    append(module);
    return module;
  }
  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // The i-th member; an IndexError if i is out of range.
  std::shared_ptr<Module> operator[](size_t i) const;
  // Every member as an M, in order; a ValueError naming the index of one that is not.
  template <class M>
  std::vector<std::shared_ptr<M>> as() const {
    std::vector<std::shared_ptr<M>> typed;
    for (size_t i = 0; i < modules_.size(); ++i) {
      auto m = std::dynamic_pointer_cast<M>(modules_[i]);
      if (!m) throw_wrong_type(i);
      typed.push_back(std::move(m));
    }
    return typed;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  void append(std::shared_ptr<Module> module);
  [[noreturn]] void throw_wrong_type(size_t i) const;
  std::vector<std::shared_ptr<Module>> modules_;  // the registered children, in order
};

}  // namespace heed::nn
