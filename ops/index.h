// Gathering and joining.
#pragma once

#include <vector>

#include "heed/core/tensor.h"

namespace heed {

// Picks entries along dim by an int64 index vector (rows of an embedding table,
// say): out.size(dim) = index.numel(). Backward scatter-adds: a row picked
// twice gets both gradients.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// Joins along an existing dim; all other dims must match. dx_i = the slice of dy.
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
inline Tensor cat(const std::vector<Tensor>& xs, int64_t dim) { return concat(xs, dim); }
// Joins along a new dim; all shapes must be equal.
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// Views of consecutive pieces of `size` along dim (the last may be shorter).
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim);
// `chunks` pieces of equal size ceil(n / chunks) (the last may be shorter), like torch.chunk.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);

}  // namespace heed
