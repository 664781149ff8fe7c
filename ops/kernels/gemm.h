// The matrix product kernel, in BLAS's terms.
//
//   C[M, N] = alpha op(A) op(B) + beta C
//   op(A)[i, p] = ta ? a[p * lda + i] : a[i * lda + p]     (A stored row-major, or its transpose)
//   op(B)[p, j] = tb ? b[j * ldb + p] : b[p * ldb + j]
//   C[i, j] = c[i * ldc + j]
//
// beta == 0 ignores C's old contents (NaN in it does not leak through). Every
// size may be 0. ops/blas.cpp turns heed's strided tensors into these
// arguments; the fused kernels (LSTM, attention) call it on their own buffers.
#pragma once

#include <cstdint>
#include <string>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// One product's arguments, for the kernels that take more than one. The
// functions below exist for T = float and T = double.
template <class T>
struct GemmArgs {
  bool ta, tb;
  int64_t M, N, K;
  T alpha;
  const T* a;
  int64_t lda;
  const T* b;
  int64_t ldb;
  T beta;
  T* c;
  int64_t ldc;
};

// Plain loops (each row of C a sum of rows of op(B), in order of p); one product
// after another.
namespace reference {
template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);
template <class T>
void gemm_pair(const GemmArgs<T>& first, const GemmArgs<T>& second);
template <class T>
void gemm_batch(const GemmArgs<T>& layout, int64_t count, const int64_t* a_offsets, const int64_t* b_offsets);
std::string gemm_library();  // "reference loops ..."
int gemm_threads();          // 1
}  // namespace reference

// A one-row product in plain vectorized loops, a few rows by a big matrix on
// heed's panel tile loop (fast/few_rows_gemm.h), the rest through OpenBLAS, one
// thread per call, with C cut into blocks of rows (or columns) that the OpenMP
// threads share out; a pair side by side; a batch shared out between the
// threads (ops/kernels/fast/gemm.cpp). The cut depends on the sizes alone, so
// the bits do not depend on the thread count. Inside a parallel region every
// product runs on the calling thread.
namespace fast {
template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);
template <class T>
void gemm_pair(const GemmArgs<T>& first, const GemmArgs<T>& second);
template <class T>
void gemm_batch(const GemmArgs<T>& layout, int64_t count, const int64_t* a_offsets, const int64_t* b_offsets);
// One product of a batch entry, for gemm_batch and for kernels that share out
// their batch entries themselves (attention). With the entries shared out
// between the threads (shared_out), it is a single BLAS call on this thread:
// the thread has the whole entry, and a cut would only make it pack the operand
// the blocks share once per block. Otherwise it is cut like any product (gemm).
// Whether the entries are shared out must follow the sizes and
// processor_count(), never the thread count, for the bits not to either.
template <class T>
void entry_gemm(bool shared_out, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc);
std::string gemm_library();  // OpenBLAS's build description and the CPU kernel it picked
int gemm_threads();          // the OpenMP threads a big product is split between
}  // namespace fast

// Each version's .cpp ends with HEED_GEMM_KERNELS_FOR(float) and (double): the
// one list of what it compiles, for both versions.
#define HEED_GEMM_KERNELS_FOR(T) \
  template void gemm(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*,    \
                     int64_t);                                                                                 \
  template void gemm_pair(const GemmArgs<T>&, const GemmArgs<T>&);                                             \
  template void gemm_batch(const GemmArgs<T>&, int64_t, const int64_t*, const int64_t*);

}  // namespace heed::kernels
