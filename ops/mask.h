// Masks and comparisons. heed has no bool dtype: a mask is any tensor whose
// nonzero entries mean true, and comparisons return 1/0 in the input's dtype.
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// Where mask is nonzero, the result is `value` (e.g. -inf before a softmax, to
// hide padded keys). mask broadcasts to x's shape. dx = dy where mask is zero, else 0.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// cond ? a : b elementwise, all three broadcasting together.
// da = dy where cond, db = dy where not (each summed back to its shape).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Elementwise comparisons with broadcasting; 1 where true, 0 where false; no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// Lower triangle (j <= i + diagonal) of the last two dims kept, the rest zeroed:
// tril(ones(T, T)) is the causal attention mask's complement.
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);

}  // namespace heed
