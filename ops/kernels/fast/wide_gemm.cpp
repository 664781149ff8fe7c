// wide_gemm (wide_gemm.h): a big product on panel_gemm's tile.
#include "heed/ops/kernels/fast/wide_gemm.h"

#include <omp.h>

#include <algorithm>
#include <memory>

#include "heed/core/parallel.h"

namespace heed::kernels::fast {

namespace {

// The values of op(A) one pass over a block's panels reads (256 KiB of float).
constexpr int64_t kChunk = int64_t{1} << 16;

// How a product is cut: blocks of whole panels of C's columns, one per thread
// where there are panels enough; else the few panels whole and C's rows cut
// (each block then packs its panels itself, a small copy made twice).
struct Cut {
  int64_t rows, panels;  // per block
};
Cut cut_of(int64_t M, int64_t N, int ways) {
  const int64_t count = panel_count(N);
  if (count >= ways) return {M, (count + ways - 1) / ways};
  const int64_t row_blocks = (ways + count - 1) / count;
  return {((M + row_blocks - 1) / row_blocks + 7) / 8 * 8, 1};  // whole tiles of 8 rows
}

}  // namespace

void wide_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b,
               int64_t ldb, float beta, float* c, int64_t ldc) {
  const bool threads = omp_get_max_threads() > 1 && !omp_in_parallel();
  const Cut cut = cut_of(M, N, threads ? omp_get_max_threads() : 1);
  const int64_t cols = cut.panels * kPanel, row_blocks = (M + cut.rows - 1) / cut.rows;
  const int64_t col_blocks = (N + cols - 1) / cols, per_block = packed_size(K, std::min(cols, N));
  const int64_t blocks = row_blocks * col_blocks;
  const auto scratch = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(blocks * per_block));
  // One parallel region: each block packs its own columns of op(B) (B's rows
  // when tb), scales its own part of C and multiplies, and writes nothing else.
  parallel_for(blocks, threads, [&](int64_t i) {
    const int64_t r0 = i / col_blocks * cut.rows, j0 = i % col_blocks * cols;
    const int64_t m = std::min(cut.rows, M - r0), n = std::min(cols, N - j0);
    float* panels = scratch.get() + i * per_block;
    pack_panels(tb, K, n, tb ? b + j0 * ldb : b + j0, ldb, panels);
    for (int64_t r = r0; r < r0 + m; ++r) {
      float* cr = c + r * ldc + j0;
      if (beta == 0.0f) std::fill(cr, cr + n, 0.0f);
      else if (beta != 1.0f)
        for (int64_t j = 0; j < n; ++j) cr[j] *= beta;
    }
    // panel_gemm reads all its rows of op(A) once per panel: in chunks of
    // kChunk values they stay in the core's second-level cache for every
    // panel, instead of coming from memory again for each one.
    const int64_t chunk = std::max<int64_t>(8, kChunk / K / 8 * 8);
    for (int64_t r = r0; r < r0 + m; r += chunk)
      panel_gemm(ta, std::min(chunk, r0 + m - r), n, K, ta ? a + r : a + r * lda, lda, packed(panels, K),
                 c + r * ldc + j0, ldc);
  });
}

}  // namespace heed::kernels::fast
