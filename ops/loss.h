// Loss functions, as ops (like torch.nn.functional's); nn/loss.h has the same
// as modules that remember their options (like torch.nn.CrossEntropyLoss).
//
// Shapes: N batch, C classes, d1... any extra dims (a class per pixel or per token).
//
//   Tensor loss = cross_entropy(logits, targets);                      // mean over N
//   Tensor per_token = cross_entropy(logits, targets, {.ignore_index = 0,
//                                                      .reduction = Reduction::None});
#pragma once

#include <cstdint>

#include "heed/core/tensor.h"

namespace heed {


// How the per-element losses become the result: kept as they are (None), added
// up (Sum) or averaged (Mean, the default everywhere, as in PyTorch).
enum class Reduction { None, Mean, Sum };

// Options of the class-index losses, written with designated initializers:
//   cross_entropy(logits, t, {.ignore_index = pad_id})
struct ClassLossOptions {
  // Targets equal to this contribute nothing and are not counted by Mean (a padding
  // label, say). It may lie outside [0, C); -100 is PyTorch's default.
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};

// (input - target)^2, reduced. input and target: the same shape and dtype (no
// broadcasting: a [N] vs [N, 1] mismatch is almost always a bug). Both get gradients.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// Negative log-likelihood of class indices, given log-probabilities:
//   loss[n, d...] = -log_probs[n, target[n, d...], d...]
// log_probs: [N, C] or [N, C, d1...] (or [C] with a 0-d target); target: int64
// [N] or [N, d1...], each in [0, C) or equal to ignore_index. Mean divides by the
// number of targets not ignored (NaN if all are ignored, as in PyTorch).
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const ClassLossOptions& options = {});

// nll_loss(log_softmax(logits, class dim), target): the usual classification loss.
// Computed through log_softmax, so logits of 1e4 are fine (softmax then log would
// give log(0) = -inf). d logits = softmax(logits) - onehot(target), scaled per the
// reduction. Class-probability (float) targets are not supported.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const ClassLossOptions& options = {});

// Binary cross-entropy on logits x with targets y in [0, 1], same shape and dtype:
//   loss = (1 - y) x + w softplus(-x),   w = 1 + (pos_weight - 1) y   (w = 1 without pos_weight)
// which is log(1 + e^-x) for y = 1 and log(1 + e^x) for y = 0, computed without ever
// forming e^|x| (stable for x = +-100 and beyond). pos_weight, if given, broadcasts
// against x (usually one weight per class, [C]); > 1 favours recall of positives.
// d x = (1 - y) + w (sigmoid(x) - 1), which is sigmoid(x) - y without pos_weight.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean,
                                        const Tensor& pos_weight = {});

}  // namespace heed
