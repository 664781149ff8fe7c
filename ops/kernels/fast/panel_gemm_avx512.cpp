// panel_gemm's tile loop for AVX-512: compiled with -mavx512f -mfma
// -ffp-contract=fast (CMakeLists.txt), run only where the CPU has AVX-512
// (panel_gemm.cpp). A tile is 8 rows by a whole panel, 2 vectors of 16 floats:
// 16 accumulators of the 32 registers, and per step of p, 2 loads of the panel
// and 8 broadcasts of A for 16 fused multiply-adds.
#include "heed/ops/kernels/fast/panel_gemm_kernel.h"

namespace heed::kernels::fast::detail {

void panel_gemm_avx512(bool ta, int64_t M, int64_t n, int64_t K, const float* a, int64_t lda,
                       const float* panels, int64_t ldp, int64_t step, float* c, int64_t ldc) {
  using V = float __attribute__((vector_size(64)));
  panel_tiles<float, V, 8, 2>(ta, M, n, K, a, lda, panels, ldp, step, c, ldc);
}

}  // namespace heed::kernels::fast::detail
