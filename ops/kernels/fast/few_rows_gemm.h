// A few rows times a big matrix, on panel_gemm (panel_gemm.h) instead of OpenBLAS.
//
// A batch of 16 to 64 rows through a layer's weight: x W^T forward, dz W back,
// and the weight's gradient dz^T x. A decoder makes such products at every
// step, and so does a model serving a small batch. OpenBLAS packs both
// operands on every call, and the one it packs for its kernel's columns is W,
// all N K elements of it, used for only M multiply-adds each: at M = 32 the copy takes about as long as the
// arithmetic, and the call runs at half the core's peak. Here only the small
// operand is ever packed, and the arithmetic is panel_gemm's tile loop, at the
// core's peak on these shapes.
//
// Three forms, by the operands' layouts:
//   op(B) = B^T, B stored [N, K] (x W^T):  C^T = B A^T. B's rows are
//     panel_gemm's A, read where they lie; A^T [K, M], one or two panels, is
//     all that is packed (M K elements). C^T comes out in chunks of B's rows,
//     each added into C's columns transposed.
//   op(B) = B stored [K, N] (dz W):  C = A B as it stands. B's rows already
//     hold its panels (each panel row is 32 contiguous values, ldb apart), so
//     B is read in place too, and so are A's rows. Only the last few columns
//     (short of half a panel) are copied, into one zero-padded panel.
//   op(A) = A^T, A stored [K, M], and op(B) = B stored [K, N] (dz^T x): the
//     same, with A's columns as op(A)'s rows. Here the few rows are K, the
//     batch, of both operands; C is the weight's size. The tile reads op(A)
//     one value at a time, so a column of A costs what a row does. OpenBLAS
//     packs both operands here too, but they are only M K + K N elements, and
//     where it runs the CPU's widest vectors its kernel keeps up with the
//     tile: this form is taken only where OpenBLAS runs narrower ones.
//
// Each element of C is panel_gemm's one sum in order of p, combined with beta C
// the same way whatever columns a call covers, so a product cut between
// threads by columns gives the same bits on any number of threads.
// bench/RESULTS.md has the measurements behind few_rows_gemm_wins().
#pragma once

#include <cstdint>
#include <type_traits>

#include "heed/ops/kernels/fast/blas_core.h"
#include "heed/ops/kernels/fast/panel_gemm.h"

namespace heed::kernels::fast {

// True for the products these loops do faster than OpenBLAS, on a CPU with
// AVX2 or AVX-512 (the tile loop's baseline copy is no match for BLAS), for
// float and the sizes measured:
// - A not transposed: 16 rows or more, op(B) of N >= 128 columns, K <= 1024
//   and 2^14 elements or more. Stored as B^T: up to 64 rows with AVX-512, 32
//   with AVX2 (beyond, the two break even). Stored [K, N]: AVX-512 only, 24 to
//   64 rows, alpha == 1, and op(B) up to 2^17 elements (beyond that, with B's
//   rows 2 KiB apart or more, OpenBLAS keeps up from 48 rows).
// - A transposed: B stored [K, N], alpha == 1, the AVX-512 copy where
//   OpenBLAS's kernels are narrower (blas_core.h), M >= 128, N >= 32, K from 16
//   to 1024 and op(B) up to 2^17 elements.
template <class T>
bool few_rows_gemm_wins(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha) {
  if (!std::is_same_v<T, float>) return false;
  const PanelCopy copy = widest_panel_copy();
  if (ta) {
    return !tb && alpha == T(1) && copy == PanelCopy::kAvx512 && !blas_runs_avx512() && M >= 128 && N >= 32 &&
           K >= 16 && K <= 1024 && N * K <= (int64_t{1} << 17);
  }
  if (M < 16 || N < 128 || K > 1024 || N * K < (int64_t{1} << 14)) return false;
  if (tb) return M <= (copy == PanelCopy::kAvx512 ? 64 : copy == PanelCopy::kAvx2 ? 32 : 0);
  return copy == PanelCopy::kAvx512 && alpha == T(1) && M >= 24 && M <= 64 && N * K <= (int64_t{1} << 17);
}

// The scratch floats one call of few_rows_gemm needs, whatever its columns.
int64_t few_rows_scratch(bool tb, int64_t M, int64_t K);

// Columns [j0, j1) of C[M, N] = alpha op(A) op(B) + beta C, with
// few_rows_scratch() floats of the caller's at `scratch` (for the products
// few_rows_gemm_wins() accepts; correct for any M when tb and not ta, and for
// alpha == 1 when not tb). beta == 0 ignores C's old contents.
void few_rows_gemm(bool ta, bool tb, int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, float* scratch);

}  // namespace heed::kernels::fast
