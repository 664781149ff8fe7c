// The one door to the matrix product: a general matrix multiply (BLAS's gemm)
// over heed's strided matrices.
//
// BLAS multiplies matrices stored row by row with a "leading dimension" ld
// (element (i, j) at i*ld + j), optionally reading either operand transposed.
// A heed matrix [R, C] with strides (s0, s1) fits that in one of two ways:
//
//   s1 == 1:  row-major already           -> pass as is,          ld = s0
//   s0 == 1:  the transpose of a row-major -> pass with a T flag, ld = s1
//             [C, R] matrix (what x.t() gives)
//
// so a transposed view is never copied. Anything else (a column slice with a
// step, an expand() with stride 0 along a dim of size > 1) is copied to
// contiguous memory first.
//
// Why matmul's backward needs no more than this one function:
//   C[M,N] = A[M,K] B[K,N]   =>   dA[M,K] = dC[M,N] B^T[N,K],   dB[K,N] = A^T[K,M] dC[M,N]
// B^T and A^T are transposed *views*, so both gradients are plain gemm calls
// whose transposes become flags here.
//
// The products themselves are the gemm kernel's (ops/kernels/gemm.h): OpenBLAS
// with heed's threads in the fast build, plain loops in the reference one.
#pragma once

#include <string>
#include <vector>

#include "heed/core/tensor.h"

namespace heed {

// out = alpha * a b + beta * out, for 2-D matrices of one floating dtype:
//   a: [M, K], b: [K, N], out: [M, N]  (any strides; out is written in place).
// With beta == 0, out's old contents are ignored (NaN in it does not leak through).
// Throws ShapeError / DTypeError on operands that do not fit.
void gemm(const Tensor& a, const Tensor& b, const Tensor& out, double alpha = 1.0, double beta = 0.0);

// Two independent products, out1 = a1 b1 + beta1 out1 and out2 = a2 b2 + beta2
// out2 (each as gemm with alpha 1): the two gradients of a matmul or a linear.
// The fast kernel runs them side by side when both are big
// (ops/kernels/fast/gemm.cpp).
void gemm_pair(const Tensor& a1, const Tensor& b1, const Tensor& out1, const Tensor& a2, const Tensor& b2,
               const Tensor& out2, double beta1 = 0.0, double beta2 = 0.0);

// out[e] = a[e] b[e] for every entry e of the batch shape `batch`, to which a's
// and b's leading dims broadcast:  a [..., M, K], b [..., K, N] (both at least
// 2-D, both readable by BLAS: blas_can_read), out contiguous [batch..., M, N].
void gemm_batch(const Tensor& a, const Tensor& b, const Shape& batch, const Tensor& out);

// True when BLAS can read the last two dims of t where they are (one of them
// has stride 1 and the other a usable leading dimension), so gemm will not copy.
bool blas_can_read(const Tensor& t);

// Where each batch entry's matrix starts in t ([..., R, C], at least 2-D) when
// t's batch dims (all but the last two) are broadcast to `batch`: element
// offsets[i] of t's storage, for the entries i in row-major order. A broadcast
// dim repeats the same matrix (stride 0). Batched products and fused kernels
// walk a batch with it, whatever the batch dims' strides.
std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch);

// How many threads one big product is split between (1 with the reference kernels).
int blas_threads();
// What multiplies the matrices: OpenBLAS's build description and the CPU kernel
// it picked, e.g. "OpenBLAS 0.3.21 ... (kernel: Haswell)", or the reference loops.
std::string blas_info();

}  // namespace heed
