// Sequential: modules applied one after another, y = m_{n-1}(... m_1(m_0(x))).
//
// Members are registered as "0", "1", ... like torch.nn.Sequential, so a
// PyTorch Sequential's state dict ("0.weight", "2.bias", ...) loads key for key:
//
//   auto mlp = std::make_shared<Sequential>();
//   mlp->emplace<Linear>(784, 128);   // "0"
//   mlp->emplace<ReLU>();             // "1"
//   mlp->emplace<Linear>(128, 10);    // "2"
//   Tensor logits = (*mlp)(x);
//
// or in one expression:  Sequential mlp{std::make_shared<Linear>(4, 8), std::make_shared<Tanh>()};
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "heed/nn/module.h"

namespace heed::nn {

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules);

  // Appends a module (registered under the next index) and returns *this, so calls chain.
  Sequential& add(std::shared_ptr<UnaryModule> module);
  // Builds an M from args, appends it and returns it typed, for later access:
  //   auto fc = seq.emplace<Linear>(4, 8);   fc->weight ...
  template <class M, class... Args>
  std::shared_ptr<M> emplace(Args&&... args) {
    auto m = std::make_shared<M>(std::forward<Args>(args)...);
    add(m);
    return m;
  }

  // x goes through every member in order; an empty Sequential is the identity.
  Tensor forward(const Tensor& x) const override;

  size_t size() const { return modules_.size(); }
  // The i-th member; an IndexError if i is out of range.
  std::shared_ptr<UnaryModule> operator[](size_t i) const;

 private:
  // The same modules as the registered children, typed so forward can call them.
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

}  // namespace heed::nn
