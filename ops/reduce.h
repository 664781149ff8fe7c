// Reductions: over all elements (a 0-d result), or along some dims (negative dims
// count from the end; a repeated dim is a ValueError) with keepdim choosing whether
// the reduced dims stay as size 1. An empty dims list reduces nothing (NumPy's
// axis=(); torch.sum(x, dim=[]) would reduce everything: call sum(x) for that).
//
// dtypes: float32 and float64 (float32 sums accumulate in double). sum also takes
// int64 (an exact int64 result, no gradient); argmax/argmin take any dtype; the
// rest throw a DTypeError on int64.
// Empty inputs: the sum of nothing is 0 and its mean NaN; max, min, argmax and
// argmin of nothing are a ValueError (as in PyTorch).
#pragma once

#include <vector>

#include "heed/core/tensor.h"

namespace heed {

Tensor sum(const Tensor& x);                                          // dx = dy, broadcast back
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);                                         // dx = dy / n
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// max and min: the gradient goes to the elements equal to the result, split evenly
// among ties (like torch.amax); with no ties, to the one arg-max element.
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int64_t dim, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1, like torch.var):
// var = sum((x - mean)^2) / (n - correction);   dx = dy 2 (x - mean) / (n - correction)
// Like PyTorch, the divisor is max(0, n - correction): too few elements give inf, or
// NaN when every deviation is 0 (one element). A negative correction is a ValueError.
Tensor var(const Tensor& x);  // over all elements, correction 1
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false,
           int64_t correction = 1);
// Index of the largest element along dim (the first one on ties); int64, no gradient.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);

// The sums of the columns of a matrix m [rows, cols] (any strides, floating) as a
// [cols] tensor: a bias gradient, in double like every float32 sum. No autograd.
Tensor column_sums(const Tensor& m);

// Sums g down to `shape` (which g's shape must broadcast from): the backward of
// every broadcasting op uses it to undo the broadcast. Not differentiable itself.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace heed
