// Stochastic gradient descent with momentum, PyTorch's torch.optim.SGD.
//
//   d = g + weight_decay * p                          (L2 penalty, folded into the gradient)
//   b = d                                  on the first step (no dampening)
//   b = momentum * b + (1 - dampening) * d on later steps
//   d = d + momentum * b   (nesterov)   or   d = b   (classical momentum)
//   p = p - lr * d
#pragma once

#include "heed/optim/optimizer.h"

namespace heed::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0

  template <class V>
  void visit(V&& v) {
    v("lr", lr);
    v("momentum", momentum);
    v("dampening", dampening);
    v("weight_decay", weight_decay);
    v("nesterov", nesterov);
  }
  static void check(const char* name, const SGDOptions& o);
};

struct SGDState {
  Tensor momentum_buffer;  // undefined until the first step (and always, without momentum)

  bool initialized() const { return momentum_buffer.defined(); }
  template <class V>
  void visit(V&& v, const SGDOptions& o) {
    if (o.momentum != 0) v("momentum_buffer", momentum_buffer);
  }
};

class SGD : public OptimizerBase<SGDOptions, SGDState> {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options)
      : SGD(std::vector<Group>{{std::move(params), options}}) {}
  explicit SGD(std::vector<Group> groups) : OptimizerBase("SGD", std::move(groups)) {}
  void step() override;
};

}  // namespace heed::optim
