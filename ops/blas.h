// The one door to BLAS: a general matrix multiply over heed's strided matrices.
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
// Threads: a big product is split by heed, not by BLAS: C's rows are cut into
// one share per OpenMP thread and each share is one single-threaded BLAS call
// (why, and the measurements: blas_gemm in ops/blas.cpp). Inside a parallel
// region a product runs on the calling thread.
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

// Two independent products, out1 = a1 b1 and out2 = a2 b2 (each as gemm with
// alpha 1, beta 0): the two gradients of a matmul or a linear. When both are big
// enough to split, they run side by side, each on half of the threads, instead
// of one after the other on all of them (why: ops/blas.cpp). Otherwise, or
// inside a parallel region, it is gemm twice.
void gemm_pair(const Tensor& a1, const Tensor& b1, const Tensor& out1, const Tensor& a2, const Tensor& b2,
               const Tensor& out2);

// The same product on raw row-major memory, for kernels that run their own
// OpenMP team (the LSTM's time loop, ops/lstm_cell.cpp; the fused attention,
// ops/attention.cpp): no Tensor is made, nothing is checked, nothing throws, so
// it may run inside a parallel region, where it runs on the calling thread.
// Outside one, a big product is split between the threads as gemm's is.
//   C[M, N] = alpha op(A) op(B) + beta C,  op(A)[i, p] = trans_a ? a[p * lda + i] : a[i * lda + p],
//   likewise B; C[i, j] = c[i * ldc + j]. The caller keeps every dim and ld within int range.
void gemm_raw(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm_raw(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* a,
              int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// True when gemm would split an [M, K] x [K, N] product's rows between the
// threads here (it is big enough, and this is not inside a parallel region).
bool gemm_is_split(int64_t M, int64_t N, int64_t K);

// True when BLAS can read the last two dims of t where they are (one of them
// has stride 1 and the other a usable leading dimension), so gemm will not copy.
bool blas_can_read(const Tensor& t);

// Where each batch entry's matrix starts in t ([..., R, C], at least 2-D) when
// t's batch dims (all but the last two) are broadcast to `batch`: element
// offsets[i] of t's storage, for the entries i in row-major order. A broadcast
// dim repeats the same matrix (stride 0). Batched products and fused kernels
// walk a batch with it, whatever the batch dims' strides.
std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch);

// How many threads OpenBLAS would use for one call of its own outside an OpenMP
// parallel region (inside one, the OpenMP build of OpenBLAS runs each call on a
// single thread). gemm splits big products itself, so it uses this only below
// the size where it splits.
int blas_threads();
// OpenBLAS's build description and the CPU kernel it picked, e.g. "OpenBLAS 0.3.21 ... Haswell".
std::string blas_info();

}  // namespace heed
