// StateDict: named tensors in insertion order, like PyTorch's OrderedDict
// state_dict. Modules produce and consume them; checkpoints (nn/serialize.h)
// write and read them.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "heed/core/tensor.h"

namespace heed {

class StateDict {
 public:
  using Item = std::pair<std::string, Tensor>;

  // Adds or replaces `key`; a new key goes at the end.
  void set(const std::string& key, const Tensor& value);
  bool contains(const std::string& key) const { return index_.count(key) > 0; }
  // The tensor under key; a ValueError naming the key if there is none.
  const Tensor& at(const std::string& key) const;
  const Tensor& operator[](const std::string& key) const { return at(key); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> keys() const;

  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace heed
