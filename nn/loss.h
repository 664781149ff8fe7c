// Loss functions as modules that remember their options (like
// torch.nn.CrossEntropyLoss). The functions themselves are ops (ops/loss.h);
// they are named here too, so that nn::cross_entropy reads like
// torch.nn.functional.cross_entropy.
#pragma once

#include "heed/nn/module.h"
#include "heed/ops/loss.h"

namespace heed::nn {

using heed::binary_cross_entropy_with_logits;
using heed::ClassLossOptions;
using heed::cross_entropy;
using heed::mse_loss;
using heed::nll_loss;
using heed::Reduction;

// ---- the same as modules ----------------------------------------------------------

class MSELoss : public Module {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : reduction(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) const { return mse_loss(input, target, reduction); }
  Tensor operator()(const Tensor& input, const Tensor& target) const { return forward(input, target); }
  Reduction reduction;
};

class NLLLoss : public Module {
 public:
  explicit NLLLoss(ClassLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& log_probs, const Tensor& target) const { return nll_loss(log_probs, target, options); }
  Tensor operator()(const Tensor& log_probs, const Tensor& target) const { return forward(log_probs, target); }
  ClassLossOptions options;
};

class CrossEntropyLoss : public Module {
 public:
  explicit CrossEntropyLoss(ClassLossOptions options = {}) : options(options) {}
  Tensor forward(const Tensor& logits, const Tensor& target) const { return cross_entropy(logits, target, options); }
  Tensor operator()(const Tensor& logits, const Tensor& target) const { return forward(logits, target); }
  ClassLossOptions options;
};

// pos_weight, if given, is registered as a buffer (as in PyTorch), so it is saved
// with the model and converted by to().
class BCEWithLogitsLoss : public Module {
 public:
  explicit BCEWithLogitsLoss(Reduction reduction = Reduction::Mean, Tensor pos_weight = {});
  Tensor forward(const Tensor& logits, const Tensor& target) const {
    return binary_cross_entropy_with_logits(logits, target, reduction, pos_weight);
  }
  Tensor operator()(const Tensor& logits, const Tensor& target) const { return forward(logits, target); }
  Reduction reduction;
  Tensor pos_weight;
};

}  // namespace heed::nn
