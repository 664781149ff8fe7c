#include "heed/nn/sequential.h"

namespace heed::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules) {
  for (const auto& m : modules) add(m);
}

Sequential& Sequential::add(std::shared_ptr<UnaryModule> module) {
  if (!module)
    throw ValueError(msg("Sequential: module ", modules_.size(), " is null; add a constructed module"));
  // PyTorch's names: the position, as a string.
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) const {
  Tensor y = x;
  for (const auto& m : modules_) y = (*m)(y);  // operator(), so nn::summary() sees each member
  return report_output(y);
}

std::shared_ptr<UnaryModule> Sequential::operator[](size_t i) const {
  if (i >= modules_.size())
    throw IndexError(msg("Sequential: index ", i, " is out of range for ", modules_.size(),
                         " modules"));
  return modules_[i];
}

}  // namespace heed::nn
