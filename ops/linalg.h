// Matrix products, through OpenBLAS (ops/blas.h).
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// matmul follows torch.matmul:
//   1-D x 1-D: dot product (0-d result);   2-D x 2-D: [M,K] x [K,N] -> [M,N];
//   1-D a is treated as [1,K] and 1-D b as [K,1], the added dim removed after;
//   N-D: the last two dims multiply, the leading (batch) dims broadcast.
// C = A B   =>   dA = dC B^T,   dB = A^T dC   (summed over broadcast batch dims).
// Transposed views are handed to BLAS as transpose flags, not copied.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace heed
