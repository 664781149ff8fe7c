// panel_gemm's tile loop for AVX2 with FMA: compiled with -mavx2 -mfma
// -ffp-contract=fast (CMakeLists.txt), run only where the CPU has both
// (panel_gemm.cpp). A tile is 6 rows by half a panel, 2 vectors of 8 floats:
// 12 accumulators, 2 registers for the panel's row and 1 for A's broadcast
// make the 16 registers AVX2 has.
#include "heed/ops/kernels/fast/panel_gemm_kernel.h"

namespace heed::kernels::fast::detail {

void panel_gemm_avx2(bool ta, int64_t M, int64_t n, int64_t K, const float* a, int64_t lda,
                     const float* panels, int64_t ldp, int64_t step, float* c, int64_t ldc) {
  using V = float __attribute__((vector_size(32)));
  panel_tiles<float, V, 6, 2>(ta, M, n, K, a, lda, panels, ldp, step, c, ldc);
}

}  // namespace heed::kernels::fast::detail
