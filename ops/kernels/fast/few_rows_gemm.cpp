// few_rows_gemm (few_rows_gemm.h): the two forms of a few rows times a big matrix.
#include "heed/ops/kernels/fast/few_rows_gemm.h"

#include <algorithm>

#include "heed/ops/kernels/fast/panel_gemm.h"

namespace heed::kernels::fast {

namespace {

// Rows of B per chunk of C^T: a chunk of 128 rows of 64 floats is 32 KiB, in
// the first-level cache while it is added into C.
constexpr int64_t kChunk = 128;

// C = alpha A B^T + beta C, columns [j0, j1), through C^T = B A^T.
// scratch: the panels, then the chunk.
void transposed_form(int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc, float* scratch) {
  // A^T as panels: (A^T)[p, r] = A[r, p], column r of the panels is row r of A.
  const int64_t width = panel_count(M) * kPanel;
  float* panels = scratch;
  pack_panels(true, K, M, a, lda, panels);
  float* chunk = scratch + packed_size(K, M);  // chunk[jj, r] = (B A^T)[j + jj, r]
  for (int64_t j = j0; j < j1; j += kChunk) {
    const int64_t rows = std::min(kChunk, j1 - j);
    std::fill_n(chunk, rows * width, 0.0f);
    panel_gemm(false, rows, M, K, b + j * ldb, ldb, packed(panels, K), chunk, width);
    // C[r, j + jj] = alpha (B A^T)[j + jj, r] + beta C[r, j + jj]: C's row r is
    // written along its memory, the chunk's column r read from cache.
    for (int64_t r = 0; r < M; ++r) {
      float* cr = c + r * ldc + j;
      const float* t = chunk + r;
      if (beta == 0.0f) {
        for (int64_t jj = 0; jj < rows; ++jj) cr[jj] = alpha * t[jj * width];
      } else {
        for (int64_t jj = 0; jj < rows; ++jj) cr[jj] = alpha * t[jj * width] + beta * cr[jj];
      }
    }
  }
}

// C = op(A) B + beta C, columns [j0, j1): C scaled by beta first (zeroed for
// 0), then panel_gemm adds op(A) times B. B is read where it lies, but for the
// last columns short of kInPlaceStep, copied into a zero-padded panel.
// scratch: that panel.
void direct_form(bool ta, int64_t M, int64_t j0, int64_t j1, int64_t K, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc, float* panel) {
  for (int64_t r = 0; r < M; ++r) {
    float* cr = c + r * ldc;
    if (beta == 0.0f) std::fill(cr + j0, cr + j1, 0.0f);
    else if (beta != 1.0f)
      for (int64_t j = j0; j < j1; ++j) cr[j] *= beta;
  }
  const int64_t whole = (j1 - j0) / kInPlaceStep * kInPlaceStep, j = j0 + whole;
  panel_gemm(ta, M, whole, K, a, lda, in_place(b + j0, ldb), c + j0, ldc);
  if (j < j1) {
    pack_panels(false, K, j1 - j, b + j, ldb, panel);
    panel_gemm(ta, M, j1 - j, K, a, lda, packed(panel, K), c + j, ldc);
  }
}

}  // namespace

int64_t few_rows_scratch(bool tb, int64_t M, int64_t K) {
  return tb ? packed_size(K, M) + kChunk * panel_count(M) * kPanel : packed_size(K, kPanel);
}

void few_rows_gemm(bool ta, bool tb, int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, float* scratch) {
  if (tb) transposed_form(M, j0, j1, K, alpha, a, lda, b, ldb, beta, c, ldc, scratch);
  else direct_form(ta, M, j0, j1, K, a, lda, b, ldb, beta, c, ldc, scratch);
}

}  // namespace heed::kernels::fast
