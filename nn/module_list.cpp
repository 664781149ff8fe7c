#include "heed/nn/module_list.h"

#include <string>
#include <utility>

namespace heed::nn {

void ModuleList::append(std::shared_ptr<Module> module) {
  if (!module)
    throw ValueError(msg("ModuleList: module ", modules_.size(), " is null; append a constructed module"));
  register_module(std::to_string(modules_.size()), module);  // PyTorch's names: the position
  modules_.push_back(std::move(module));
}

std::shared_ptr<Module> ModuleList::operator[](size_t i) const {
  if (i >= modules_.size())
    throw IndexError(msg("ModuleList: index ", i, " is out of range for ", modules_.size(), " modules"));
  return modules_[i];
}

void ModuleList::throw_wrong_type(size_t i) const {
  throw ValueError(msg("ModuleList: module ", i, " is not of the type asked for"));
}

}  // namespace heed::nn
