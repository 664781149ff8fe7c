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

// The fully connected layer as one op (torch.nn.functional.linear):
//   x: [..., in], weight: [out, in], bias: [out] or undefined  ->  y: [..., out]
//   y = x W^T + b;   dx = dy W,   dW = dy^T x (over all rows of x),   db = sum of dy's rows.
// One graph node and one output, where matmul(x, weight.t()) + bias makes three of each;
// W^T is a BLAS transpose flag, and the bias is added by the product itself.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace heed
