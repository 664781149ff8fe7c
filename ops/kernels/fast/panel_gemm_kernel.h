// The tile loop of panel_gemm (panel_gemm.h), written once for any vector width.
//
// Included by three files, each compiled for one CPU (CMakeLists.txt gives
// panel_gemm_avx512.cpp -mavx512f -mfma and panel_gemm_avx2.cpp -mavx2 -mfma,
// both with -ffp-contract=fast so that `acc += a * b` becomes one fused
// multiply-add). V is a GCC vector of `lanes` values; the compiler maps each V
// to registers of its file's CPU.
//
// Why a file per CPU and not target_clones as in lstm.cpp: the tile must fuse
// each multiply-add, and heed compiles everything else with -ffp-contract=off.
// And why this header includes nothing but <cstdint>, and keeps the loop in an
// anonymous namespace: any inline function a file compiled with -mavx512f
// leaves out of line (std::min, say) is a weak symbol that the linker may pick
// for every other caller too, which would then run AVX-512 instructions on any
// CPU. Code private to each file, and only the compiler's builtins, cannot leak.
#pragma once

#include <cstdint>

namespace heed::kernels::fast {
namespace {

constexpr int64_t kPanelWidth = 32;  // panel_gemm.h's kPanel (this header includes nothing of heed's)

// One tile: rows [0, R) of C (R' <= R of them are real) by the S vectors of
// columns at `p`, a panel at some column offset, whose rows lie ldp apart;
// `cols` of them are real. The accumulators are R x S vectors: the sizes below
// keep them all in registers (AVX-512: 8 x 2 of its 32; AVX2: 6 x 2 of its 16,
// beside 2 for the panel row and 1 for a broadcast).
// A is row-major, A[r, k] = a[r lda + k], or stored transposed when TA,
// A[r, k] = a[k lda + r]. The tile reads A one value at a time, so either
// layout costs the same; TA is a template argument, not a stride held in a
// register, because a variable stride costs the row-major loop 2-3%.
template <class T, class V, int R, int S, bool TA>
[[gnu::always_inline]] inline void tile(const T* a, int64_t lda, const T* p, int64_t ldp, int64_t K, T* c,
                                        int64_t ldc, int64_t cols) {
  constexpr int kLanes = sizeof(V) / sizeof(T);
  V acc[R][S] = {};
  for (int64_t k = 0; k < K; ++k) {
    V b[S];
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) __builtin_memcpy(&b[s], p + k * ldp + s * kLanes, sizeof(V));
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const T ar = TA ? a[k * lda + r] : a[r * lda + k];  // A[r, k], in every lane
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) acc[r][s] += ar * b[s];
    }
  }
  if (cols == S * kLanes) {  // the whole tile: vector by vector
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int s = 0; s < S; ++s) {
        V old;
        __builtin_memcpy(&old, c + r * ldc + s * kLanes, sizeof(V));
        old += acc[r][s];
        __builtin_memcpy(c + r * ldc + s * kLanes, &old, sizeof(V));
      }
    return;
  }
  for (int r = 0; r < R; ++r) {  // the tile at C's right edge: only its real columns
    T sums[S * kLanes];
    __builtin_memcpy(sums, acc[r], sizeof(sums));
    for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] += sums[j];
  }
}

// The last rows of C, fewer than R: the tile of that many rows. (A tile of R
// would read rows of A that are not there.)
template <class T, class V, int R, int S, bool TA>
void edge_rows(int64_t rows, const T* a, int64_t lda, const T* p, int64_t ldp, int64_t K, T* c, int64_t ldc,
               int64_t cols) {
  if constexpr (R > 1) {
    if (rows == R - 1) return tile<T, V, R - 1, S, TA>(a, lda, p, ldp, K, c, ldc, cols);
    edge_rows<T, V, R - 1, S, TA>(rows, a, lda, p, ldp, K, c, ldc, cols);
  }
}

// All M rows of C for the columns at p, `cols` of them real: tile after tile
// of R rows, then the rows left over.
template <class T, class V, int R, int S, bool TA>
void tile_column(int64_t M, const T* a, int64_t lda, const T* p, int64_t ldp, int64_t K, T* c, int64_t ldc,
                 int64_t cols) {
  const int64_t row = TA ? 1 : lda;  // from A[r, 0] to A[r + 1, 0]
  int64_t i = 0;
  for (; i + R <= M; i += R) tile<T, V, R, S, TA>(a + i * row, lda, p, ldp, K, c + i * ldc, ldc, cols);
  if (i < M) edge_rows<T, V, R, S, TA>(M - i, a + i * row, lda, p, ldp, K, c + i * ldc, ldc, cols);
}

// C[M, n] += op(A)[M, K] times the panels (panel_gemm.h), tile by tile: panel j
// starts at panels + j * step, its rows ldp apart. A panel (K rows of 32
// values, 32 KiB at K = 256) serves every row of A before the next one is read,
// so it stays in the core's first-level cache meanwhile.
// Where half a tile's width or less is left at C's right edge, a tile half as
// wide computes it: the zeros past column n would be multiply-adds for nothing
// (n = 48 is a panel and a half). Every element is still the same one sum.
template <class T, class V, int R, int S, bool TA>
void panel_tiles_of(int64_t M, int64_t n, int64_t K, const T* a, int64_t lda, const T* panels, int64_t ldp,
                    int64_t step, T* c, int64_t ldc) {
  constexpr int64_t kWidth = S * (sizeof(V) / sizeof(T));  // the tile's columns, a divisor of the panel's
  static_assert(kPanelWidth % kWidth == 0);
  for (int64_t j = 0; j < n; j += kWidth) {
    const T* p = panels + j / kPanelWidth * step + j % kPanelWidth;
    const int64_t cols = n - j < kWidth ? n - j : kWidth;
    if constexpr (S % 2 == 0) {
      if (cols <= kWidth / 2) {
        tile_column<T, V, R, S / 2, TA>(M, a, lda, p, ldp, K, c + j, ldc, cols);
        continue;
      }
    }
    tile_column<T, V, R, S, TA>(M, a, lda, p, ldp, K, c + j, ldc, cols);
  }
}
template <class T, class V, int R, int S>
void panel_tiles(bool ta, int64_t M, int64_t n, int64_t K, const T* a, int64_t lda, const T* panels, int64_t ldp,
                 int64_t step, T* c, int64_t ldc) {
  if (ta) panel_tiles_of<T, V, R, S, true>(M, n, K, a, lda, panels, ldp, step, c, ldc);
  else panel_tiles_of<T, V, R, S, false>(M, n, K, a, lda, panels, ldp, step, c, ldc);
}

}  // namespace

// The copies, one per file: C[M, n] += op(A)[M, K] times the panels.
namespace detail {
void panel_gemm_avx512(bool ta, int64_t M, int64_t n, int64_t K, const float* a, int64_t lda,
                       const float* panels, int64_t ldp, int64_t step, float* c, int64_t ldc);
void panel_gemm_avx2(bool ta, int64_t M, int64_t n, int64_t K, const float* a, int64_t lda,
                     const float* panels, int64_t ldp, int64_t step, float* c, int64_t ldc);
}  // namespace detail

}  // namespace heed::kernels::fast
