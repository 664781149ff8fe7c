// One-row matrix products without BLAS.
//
// OpenBLAS is built for big matrices: every call packs its operands into
// cache-sized panels, zeroes C when beta is 0, and runs a kernel tuned for tiles
// of several rows. A product with a single row of A, a vector times a matrix (or a
// single column of B, a matrix times a vector), is all overhead to that machinery: [1, 512] x [512, 160] took OpenBLAS 12.6 us on
// this machine and the loops below 5.2 us; [1, 10] x [10, 10], 48 ns against 37 ns.
// Such products are everywhere in small models: a batch of one sample (every layer
// of the article-001 network), or one query attending over T keys, per batch entry
// (a decoder step's dot attention).
//
// For more than one row OpenBLAS's register-blocked kernels win clearly (a
// [10, 50] x [50, 50] product: 0.8 us against these loops' 2.7 us), so gemm
// (ops/blas.cpp) calls this only when small_gemm_wins(). The two layouts of B
// decide the loop order, so that the innermost loop runs along contiguous memory:
//
//   B row-major [K, N]:  row i of C  += a_ip * row p of B      (an axpy per a_ip)
//   B stored as [N, K]:  c_ij         = row i of A . row j of B (a dot product per c_ij)
//   (and a single column of B with stride 1 is read the second way, as row 0)
//
// The file is compiled twice over: for the baseline x86-64 (SSE2) and for CPUs
// with AVX2, and the loader picks the one the CPU has (GCC's target_clones, by
// feature: "arch=haswell" would pick by CPU model and miss every AMD chip). An
// AVX-512 copy was tried and dropped: on these short rows (20 to 50 elements) it
// made W4 2-3% slower. Both copies give the same numbers: the dot products fix
// their order of additions in the code (small_gemm.cpp: dot()), and heed builds
// with -ffp-contract=off, so neither fuses a multiply and an add.
#pragma once

#include <cstdint>

namespace heed {

// True for the products these loops do faster than OpenBLAS 0.3.21 (measured on
// this machine, for every transpose combination, up to 512 * 256 multiply-adds,
// the largest size measured; larger ones BLAS threads): a single row of A, or a
// single column of B that lies contiguous in memory (matrix times vector: one dot
// product per row, [10, 50] x [50, 1] in 83 ns against OpenBLAS's 215 ns).
inline bool small_gemm_wins(int64_t m, int64_t n, int64_t k, bool trans_b, int64_t ldb) {
  constexpr int64_t kMaxWork = 512 * 256;
  if (m == 1) return n * k <= kMaxWork;
  return n == 1 && (trans_b || ldb == 1) && m * k <= kMaxWork;
}

// C = alpha op(A) op(B) + beta C, all row-major with leading dimensions:
// op(A)[i, p] = trans_a ? a[p * lda + i] : a[i * lda + p], likewise B; C[i, j] = c[i * ldc + j].
// beta == 0 ignores C's old contents (NaN in it does not leak through), as BLAS does.
void small_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void small_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace heed
