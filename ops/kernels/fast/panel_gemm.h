// Products with a weight that many products share, packed once.
//
// An LSTM multiplies by the same W_hh at every one of its T steps: h_{t-1} W_hh^T
// forward, dz_t W_hh backward, a product of a few rows (the batch) at a time.
// OpenBLAS packs both operands into its own panel layout on every call, so it
// would copy all of W_hh (1 MiB at H = 256) T times, for products of only B rows.
// Here the weight is packed once per sequence, and the few rows of the other
// operand are read where they lie.
//
// The layout: op(B) [K, N] in panels of kPanel columns. Panel j holds columns
// [j kPanel, (j + 1) kPanel) as K rows of kPanel values, zero past column N:
//   panels[j K kPanel + p kPanel + i] = op(B)[p, j kPanel + i]
// so a product reads each panel row by row, kPanel contiguous values, whatever
// the layout op(B) came from.
//
// A tile of C (a few rows, a panel's columns or half of them) lives in vector
// registers while p runs over K:
//   acc[r][:] = sum over p = 0, 1, ..., K-1 of A[r, p] * panel[p, :]   (one fused multiply-add each)
//   C[r][:]  += acc[r][:]
// Every element of C is that one sum, in that order, then added to C: its value
// does not depend on which tile, which call or which thread computed it, nor on
// how many rows or columns the call had. That is what lets the LSTM share its
// steps between any number of threads and still get the same bits
// (ops/kernels/fast/lstm.cpp). OpenBLAS makes no such promise: its kernels
// differ by the shape of a call (ops/kernels/fast/gemm.cpp).
//
// The tile loop is compiled three times, for AVX-512, AVX2 with FMA and baseline
// x86-64, and panel_gemm picks the widest one this CPU runs
// (panel_gemm_kernel.h says how). The AVX-512 and AVX2 copies both fuse each
// multiply-add and give the same bits; the baseline copy (no FMA there) rounds
// each product before adding it.
#pragma once

#include <cstdint>

namespace heed::kernels::fast {

inline constexpr int64_t kPanel = 32;  // two AVX-512 vectors of float, four of AVX2
inline constexpr int64_t kInPlaceStep = kPanel / 2;  // Panels: in_place()

// The panels n columns of op(B) take, and the values they hold: whole panels of K rows.
inline int64_t panel_count(int64_t n) { return (n + kPanel - 1) / kPanel; }
inline int64_t packed_size(int64_t K, int64_t n) { return panel_count(n) * kPanel * K; }

// Packs op(B)[K, n] (op(B)[p, j] = tb ? b[j ldb + p] : b[p ldb + j]) into
// packed_size(K, n) values at `panels`.
template <class T>
void pack_panels(bool tb, int64_t K, int64_t n, const T* b, int64_t ldb, T* panels);

// Where a product's panels are: packed by pack_panels (rows kPanel apart, one
// panel after another), or a row-major B's own columns, read where they lie
// (rows ldb apart, panel j at column j kPanel). The tile reads a panel row as
// contiguous values and does not care which: B needs no copy when its layout
// already has them, that is when op(B) = B. Read in place, n must be a
// multiple of kInPlaceStep: every copy's tiles, and the half-width tile at a
// right edge, then end at column n (where the zero padding of a packed panel
// would be, B has the next row's values, or nothing).
template <class T>
struct Panels {
  const T* data;
  int64_t row_stride;    // from a panel's row p to its row p + 1
  int64_t panel_stride;  // from panel j to panel j + 1
};
template <class T>
Panels<T> packed(const T* panels, int64_t K) {
  return {panels, kPanel, kPanel * K};
}
template <class T>
Panels<T> in_place(const T* b, int64_t ldb) {
  return {b, ldb, kPanel};
}

// C[M, n] += op(A)[M, K] op(B)[K, n], with op(B)'s panels at `panels` and
// op(A) = A row-major (A[r, p] = a[r lda + p]), or A^T with A stored [K, M]
// (op(A)[r, p] = a[p lda + r]: the dz of a weight gradient dz^T x).
template <class T>
void panel_gemm(bool ta, int64_t M, int64_t n, int64_t K, const T* a, int64_t lda, Panels<T> panels, T* c,
                int64_t ldc);

// The copies of the tile loop, by name, so that a test can run each one the CPU
// has (panel_gemm runs the widest).
enum class PanelCopy { kBaseline, kAvx2, kAvx512 };
PanelCopy widest_panel_copy();  // the widest copy this CPU runs
void panel_gemm(PanelCopy copy, bool ta, int64_t M, int64_t n, int64_t K, const float* a, int64_t lda,
                Panels<float> panels, float* c, int64_t ldc);

}  // namespace heed::kernels::fast
