// Gradient utilities: clipping (applied between backward() and the optimizer
// step) and counting parameters.
//
//   loss.backward();
//   double norm = nn::clip_grad_norm_(model.parameters(), 1.0);   // norm before clipping
//   optimizer.step();
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "heed/core/tensor.h"

namespace heed::nn {

// Scales all the gradients together so that their joint norm is at most max_norm:
//   total = (sum over every element g of every grad of |g|^p)^(1/p)   (max |g| for p = inf)
//   coef = max_norm / (total + 1e-6);  if coef < 1, every grad *= coef
// which keeps the update's direction and caps its size (PyTorch's formula, 1e-6
// included). Parameters without a grad are skipped. Returns total, the norm before
// clipping. A NaN or inf total leaves the grads alone (inf: all scaled by 0), or
// throws a ValueError if error_if_nonfinite.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2,
                       bool error_if_nonfinite = false);
inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();  // norm_type for max |g|

// Clamps every gradient element into [-clip_value, clip_value], in place.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace heed::nn
