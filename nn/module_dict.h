// ModuleDict: submodules by name, in insertion order, like torch.nn.ModuleDict.
// Like ModuleList it has no forward; the module that owns it picks members by
// key (one head per task, one encoder per input kind):
//
//   heads = register_module("heads", std::make_shared<ModuleDict>());
//   heads->insert("sentiment", std::make_shared<Linear>(C, 2));
//   heads->insert("topic", std::make_shared<Linear>(C, 10));
//   Tensor y = heads->at<Linear>("topic")->forward(h);
//
// Each member is registered under its key, so its parameters get PyTorch's
// dotted names ("heads.topic.weight") and a PyTorch state dict loads key for key.
// The members are its children, so the keys are read from named_children().
// A key must be non-empty, contain no '.', and be new: the rules of any
// submodule's name (Module::register_module).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "heed/nn/module.h"

namespace heed::nn {

class ModuleDict : public Module {
 public:
  ModuleDict() = default;
  ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> members);

  // Adds a module under `key`; returns it, typed as given.
  template <class M>
  std::shared_ptr<M> insert(const std::string& key, std::shared_ptr<M> module) {
    register_module(key, module);
    return module;
  }
  size_t size() const { return named_children().size(); }
  bool empty() const { return named_children().empty(); }
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;  // in insertion order
  // The member under `key`; an IndexError listing the keys if there is none.
  std::shared_ptr<Module> operator[](const std::string& key) const;
  // The same, as an M; a ValueError if it is not one.
  template <class M>
  std::shared_ptr<M> at(const std::string& key) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[key]);
    if (!m) throw_wrong_type(key);
    return m;
  }
  // (key, module) pairs in insertion order.
  auto begin() const { return named_children().begin(); }
  auto end() const { return named_children().end(); }

 private:
  [[noreturn]] void throw_wrong_type(const std::string& key) const;
};

}  // namespace heed::nn
