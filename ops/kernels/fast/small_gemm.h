// One-row matrix products in plain loops, without BLAS.
//
// OpenBLAS is built for big matrices: every call packs its operands into
// cache-sized panels, zeroes C when beta is 0, and runs a kernel tuned for tiles
// of several rows. A product with a single row of A (a vector times a matrix) or
// a single contiguous column of B (a matrix times a vector) has no tiles to fill,
// and the packing costs more than the arithmetic. Such products are everywhere in
// small models: a batch of one sample, or one query attending over T keys per
// batch entry (a decoder step's attention). From two rows on, BLAS's
// register-blocked kernels win, so gemm (fast/gemm.cpp) calls these loops only
// when small_gemm_wins(). bench/RESULTS.md has the measurements behind the rule.
//
// The innermost loop always runs along contiguous memory; the layout of B picks it:
//   B row-major [K, N]:  row i of C  += a_ip * row p of B      (an axpy per a_ip)
//   B stored as [N, K]:  c_ij         = row i of A . row j of B (a dot product per c_ij)
//
// The loops are compiled for baseline x86-64 (SSE2) and for AVX2, and the loader
// picks what the CPU has (GCC's target_clones, by feature: "arch=haswell" would
// pick by CPU model and miss AMD's). The short rows these products have fill no
// more than an AVX2 register's worth of lanes, so there is no AVX-512 copy. Both
// copies give the same numbers: the dot products fix their order of additions in
// the code, and heed builds with -ffp-contract=off, so neither fuses a multiply
// and an add.
#pragma once

#include <cstdint>

namespace heed::kernels::fast {

// True for the products the loops do faster than OpenBLAS: a single row of A, or
// a single column of B lying contiguous in memory, up to 512 * 256 multiply-adds
// (beyond that, OpenBLAS's cache blocking and threads win).
inline bool small_gemm_wins(int64_t m, int64_t n, int64_t k, bool trans_b, int64_t ldb) {
  constexpr int64_t kMaxWork = 512 * 256;
  if (m == 1) return n * k <= kMaxWork;
  return n == 1 && (trans_b || ldb == 1) && m * k <= kMaxWork;
}

// The product of gemm.h's signature, for any m (correct for every size; fast
// for those small_gemm_wins() accepts).
void small_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void small_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace heed::kernels::fast
