// The layers as plain functions, like torch.nn.functional: the same math as the
// modules, with the weights passed in instead of owned.
//
//   namespace F = heed::nn::functional;
//   Tensor h = F::gelu(F::linear(x, w1, b1), "tanh");
//   Tensor y = F::dropout(F::layer_norm(h, {C}, g, b), 0.1, is_training);
//
// Each is one line over the op the module itself calls (ops/), so a module and
// its function can never disagree. The losses (mse_loss, cross_entropy, ...)
// and scaled_dot_product_attention are functions already (nn/loss.h,
// nn/attention.h); they are named here too, so that F:: finds all of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "heed/core/random.h"
#include "heed/core/tensor.h"
#include "heed/nn/attention.h"
#include "heed/nn/loss.h"

namespace heed::nn::functional {

// y = x W^T + b   (x [.., in], weight [out, in], bias [out] or none)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
// rows of weight picked by ids (int64, any shape); a padding_idx row gets no gradient
Tensor embedding(const Tensor& ids, const Tensor& weight, std::optional<int64_t> padding_idx = {});
// normalised over the last dims (normalized_shape), then scaled and shifted
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// zeroes each element with probability p and scales the rest by 1 / (1 - p) when
// training (PyTorch's default for the function: training = true)
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator& gen = default_generator());

Tensor relu(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
// approximate: "none" (exact, x Phi(x)) or "tanh"; anything else is a ValueError
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

using nn::masked_softmax;
using nn::scaled_dot_product_attention;  // -> {output, weights}; mask: nonzero = hidden, bias: float, added
using nn::binary_cross_entropy_with_logits;
using nn::cross_entropy;
using nn::mse_loss;
using nn::nll_loss;

}  // namespace heed::nn::functional
