// panel_gemm (panel_gemm.h): the packing, the baseline copy of the tile loop,
// and the choice of copy for this CPU.
#include "heed/ops/kernels/fast/panel_gemm.h"

#include <algorithm>
#include <type_traits>

#include "heed/ops/kernels/fast/blas_core.h"
#include "heed/ops/kernels/fast/panel_gemm_kernel.h"

namespace heed::kernels::fast {

static_assert(kPanel == kPanelWidth);

template <class T>
void pack_panels(bool tb, int64_t K, int64_t n, const T* b, int64_t ldb, T* panels) {
  for (int64_t j0 = 0; j0 < n; j0 += kPanel) {
    T* panel = panels + j0 * K;  // panel j0 / kPanel
    const int64_t cols = std::min(kPanel, n - j0);
    if (cols < kPanel) std::fill_n(panel, kPanel * K, T(0));  // the columns past n: zero
    // Each loop reads b along its rows: column j of op(B) is row j of b when tb.
    if (tb) {
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t p = 0; p < K; ++p) panel[p * kPanel + i] = b[(j0 + i) * ldb + p];
    } else if (cols == kPanel) {
      // A whole panel row is a copy of a known size, which the compiler makes a
      // few vector moves (std::copy_n, which must allow overlap, stays a call to
      // memmove per row of 128 bytes, and the calls cost more than the copying).
      for (int64_t p = 0; p < K; ++p) __builtin_memcpy(panel + p * kPanel, b + p * ldb + j0, kPanel * sizeof(T));
    } else {
      for (int64_t p = 0; p < K; ++p) std::copy_n(b + p * ldb + j0, cols, panel + p * kPanel);
    }
  }
}

PanelCopy widest_panel_copy() {
  static const PanelCopy widest = [] {
    const CpuVectors cpu = cpu_vectors();
    return cpu.avx512 ? PanelCopy::kAvx512 : cpu.avx2_fma ? PanelCopy::kAvx2 : PanelCopy::kBaseline;
  }();
  return widest;
}

// Baseline x86-64 has 16 vector registers of 4 floats (2 doubles) and no fused
// multiply-add: a tile of 2 rows by 4 vectors, half a panel of float.
void panel_gemm(PanelCopy copy, bool ta, int64_t M, int64_t n, int64_t K, const float* a, int64_t lda,
                Panels<float> panels, float* c, int64_t ldc) {
  using V = float __attribute__((vector_size(16)));
  const auto [data, ldp, step] = panels;
  switch (copy) {
    case PanelCopy::kAvx512:
      return detail::panel_gemm_avx512(ta, M, n, K, a, lda, data, ldp, step, c, ldc);
    case PanelCopy::kAvx2:
      return detail::panel_gemm_avx2(ta, M, n, K, a, lda, data, ldp, step, c, ldc);
    case PanelCopy::kBaseline:
      return panel_tiles<float, V, 2, 4>(ta, M, n, K, a, lda, data, ldp, step, c, ldc);
  }
}

// float, the training type, takes the widest copy; double (gradient checks) the
// baseline loop.
template <class T>
void panel_gemm(bool ta, int64_t M, int64_t n, int64_t K, const T* a, int64_t lda, Panels<T> panels, T* c,
                int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    panel_gemm(widest_panel_copy(), ta, M, n, K, a, lda, panels, c, ldc);
  } else {
    using V = double __attribute__((vector_size(16)));
    const auto [data, ldp, step] = panels;
    panel_tiles<double, V, 2, 4>(ta, M, n, K, a, lda, data, ldp, step, c, ldc);
  }
}

template void pack_panels(bool, int64_t, int64_t, const float*, int64_t, float*);
template void pack_panels(bool, int64_t, int64_t, const double*, int64_t, double*);
template void panel_gemm(bool, int64_t, int64_t, int64_t, const float*, int64_t, Panels<float>, float*, int64_t);
template void panel_gemm(bool, int64_t, int64_t, int64_t, const double*, int64_t, Panels<double>, double*, int64_t);

}  // namespace heed::kernels::fast
