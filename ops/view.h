// Shape ops. Most are views (they share storage: see core/tensor.h); each has a
// backward that maps the gradient back to the input's shape. They are also
// available as Tensor methods (x.reshape(...), x.t(), ...).
#pragma once

#include <vector>

#include "heed/core/tensor.h"

namespace heed {

Tensor reshape(const Tensor& x, const Shape& shape);  // view if x is contiguous, else copy; one -1 allowed
Tensor view(const Tensor& x, const Shape& shape);     // never copies: ShapeError if it would have to
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);   // backward: sum_to the input shape
// Elements start, start+step, ... < end along dim. start/end are clamped to the
// size like Python slices, and negative values count from the end; step > 0.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);  // removes dim

Tensor clone(const Tensor& x);       // contiguous copy; dx = dy
Tensor contiguous(const Tensor& x);  // x itself when already contiguous
Tensor to(const Tensor& x, DType dtype);  // float<->float differentiable; int64 is not

}  // namespace heed
