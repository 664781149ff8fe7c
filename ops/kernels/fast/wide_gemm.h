// A big matrix product on panel_gemm's AVX-512 tile, where OpenBLAS runs
// narrower vectors than the CPU has.
//
// OpenBLAS picks its kernels as it loads; an environment that pins them
// (OPENBLAS_CORETYPE=Haswell on a CPU with AVX-512, as some machines set) or a
// CPU this OpenBLAS does not know leaves it multiplying with 8 floats a vector
// (or 4) on a core that holds 16. Every product then runs at half the core's
// speed or less, in heed and in any library on the same OpenBLAS. panel_gemm's
// tile (panel_gemm.h) is compiled for the CPU's widest vectors, so there heed
// multiplies itself:
// C's columns are cut into blocks of whole panels, one per thread (C's rows
// too, where there are fewer panels than threads). Each block, in one
// parallel region:
//   1. packs its columns of op(B) [K, N] into panels (panel_gemm.h);
//   2. scales its part of C by beta, then adds the tile's sums:
//        C[r, j] = beta C[r, j] + sum over p of op(A)[r, p] op(B)[p, j]
//      with op(A) read where it lies, rows or (A^T) columns.
// A panel of K rows serves all of the block's rows, one tile of 8 after
// another, so it stays in the core's caches meanwhile, as in the LSTM's steps;
// op(A) is read once per panel whatever the cut. Each element is the tile's
// one sum, in order of p, whatever the block: the bits do not depend on the
// cut or the thread count. (One region, not one to pack and one to multiply:
// on a loaded machine every region's join costs a wait for the slowest
// thread.)
#pragma once

#include <cstdint>
#include <type_traits>

#include "heed/ops/kernels/fast/blas_core.h"
#include "heed/ops/kernels/fast/panel_gemm.h"

namespace heed::kernels::fast {

// True where wide_gemm takes a product from OpenBLAS: float, alpha == 1 (the
// tile has no scaling), on the AVX-512 copy where OpenBLAS's kernels are not
// AVX-512 ones, M >= 32, N >= 64 and K from 64 to 1024. (At K = 32 the tile
// adds into C after every 32 multiply-adds, and OpenBLAS's narrow kernel keeps
// up; beyond 1024, a panel of K rows no longer fits the second-level cache.)
template <class T>
bool wide_gemm_wins(int64_t M, int64_t N, int64_t K, T alpha) {
  if (!std::is_same_v<T, float> || alpha != T(1) || M < 32 || N < 64 || K < 64 || K > 1024) return false;
  return widest_panel_copy() == PanelCopy::kAvx512 && !blas_runs_avx512();
}

// C[M, N] = op(A) op(B) + beta C (beta == 0 ignores C's old contents), on this
// thread's team where it is not in a parallel region already.
void wide_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b,
               int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace heed::kernels::fast
