// Layer norm, fast: the reference's passes over each row in vector lanes, in
// float (a row's sums of a few hundred floats in 16 lanes lose nothing that
// matters; tests/kernels/test_layer_norm.cpp holds them to the reference's
// double sums), compiled for three CPUs, with blocks of rows shared between the
// threads. The parameter gradients sum over the rows, which the reference does
// in a second serial pass; here each block of rows adds up its own share while
// it computes dx, and the shares are added after. double: the reference
// (gradchecks).
#include <algorithm>
#include <cmath>
#include <vector>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/fast/target_clones.h"
#include "heed/ops/kernels/layer_norm.h"

namespace heed::kernels::fast {

namespace {

constexpr int64_t kRowBlock = 16;  // rows per unit of a thread's work

}  // namespace

// Compiled three times (GCC's target_clones, of external functions only). The
// sums are reductions in `omp simd` loops: OpenMP lets them run in lanes (a
// different order of additions from a plain loop), the same in every copy.
namespace detail {

HEED_TARGET_CLONES("avx512f", "avx2", "default")
void layer_norm_row_block(const float* x, const float* w, const float* b, float* y, double* mean, double* rstd,
                          int64_t rows, int64_t D, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < D; ++j) sum += xr[j];
    const float mu = sum / static_cast<float>(D);
    float sq = 0;  // the second pass, around the mean: no cancellation
#pragma omp simd reduction(+ : sq)
    for (int64_t j = 0; j < D; ++j) sq += (xr[j] - mu) * (xr[j] - mu);
    const float rs = 1 / std::sqrt(sq / static_cast<float>(D) + eps);
    mean[r] = mu;
    rstd[r] = rs;
    if (w && b) {
#pragma omp simd
      for (int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - mu) * rs * w[j] + b[j];
    } else {
      for (int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - mu) * rs * (w ? w[j] : 1.0f) + (b ? b[j] : 0.0f);
    }
  }
}

// Rows [0, rows) of the block: dx (if wanted), and the block's own sums of
// dy xhat and dy per column into sw and sb (if wanted), while the rows are in cache.
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void layer_norm_backward_row_block(const float* x, const float* w /* not null */, const float* dy,
                                   const double* mean, const double* rstd, float* dx, double* sw, double* sb,
                                   int64_t rows, int64_t D) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * D;
    const float* gr = dy + r * D;
    const float mu = static_cast<float>(mean[r]), rs = static_cast<float>(rstd[r]);
    if (sw) {
#pragma omp simd
      for (int64_t j = 0; j < D; ++j) {
        sw[j] += gr[j] * ((xr[j] - mu) * rs);
        sb[j] += gr[j];
      }
    }
    if (!dx) continue;
    float* dxr = dx + r * D;
    float g_sum = 0, gx_sum = 0;  // sum(g), sum(g xhat)
#pragma omp simd reduction(+ : g_sum, gx_sum)
    for (int64_t j = 0; j < D; ++j) {
      const float g = gr[j] * w[j];
      g_sum += g;
      gx_sum += g * (xr[j] - mu) * rs;
    }
    const float g_mean = g_sum / static_cast<float>(D), gx_mean = gx_sum / static_cast<float>(D);
#pragma omp simd
    for (int64_t j = 0; j < D; ++j) {
      const float g = gr[j] * w[j];
      dxr[j] = rs * (g - g_mean - (xr[j] - mu) * rs * gx_mean);
    }
  }
}

}  // namespace detail

template <class T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, double* mean, double* rstd, int64_t M, int64_t D,
                     double eps) {
  if constexpr (sizeof(T) == 8) {
    reference::layer_norm_rows(x, w, b, y, mean, rstd, M, D, eps);
  } else {
    // Block k writes only its own rows of y, mean and rstd.
    parallel_for((M + kRowBlock - 1) / kRowBlock, M * D >= kParallelGrain, [&](int64_t k) {
      const int64_t r0 = k * kRowBlock;
      detail::layer_norm_row_block(x + r0 * D, w, b, y + r0 * D, mean + r0, rstd + r0, std::min(kRowBlock, M - r0),
                                   D, static_cast<float>(eps));
    });
  }
}

template <class T>
void layer_norm_backward(const T* x, const T* w, const T* dy, const double* mean, const double* rstd, T* dx, T* dw,
                         T* db, int64_t M, int64_t D) {
  if constexpr (sizeof(T) == 8) {
    reference::layer_norm_backward(x, w, dy, mean, rstd, dx, dw, db, M, D);
  } else {
    // Without a weight, g = dy: a weight of ones keeps one branch-free loop.
    std::vector<float> ones;
    if (!w) {
      ones.assign(static_cast<size_t>(D), 1.0f);
      w = ones.data();
    }
    const int64_t blocks = (M + kRowBlock - 1) / kRowBlock;
    const bool params = dw || db;
    // Each block's partial sums of dw and db: a row of its own, so no two
    // threads add into the same number.
    std::vector<double> sw(params ? static_cast<size_t>(blocks * D) : 0, 0.0), sb(sw.size(), 0.0);
    parallel_for(blocks, M * D >= kParallelGrain, [&](int64_t k) {
      const int64_t r0 = k * kRowBlock;
      detail::layer_norm_backward_row_block(x + r0 * D, w, dy + r0 * D, mean + r0, rstd + r0,
                                            dx ? dx + r0 * D : nullptr, params ? sw.data() + k * D : nullptr,
                                            params ? sb.data() + k * D : nullptr, std::min(kRowBlock, M - r0), D);
    });
    if (!params) return;
    // Each column's total is its blocks' sums added in block order. Walking the
    // blocks outside and the columns inside adds the same numbers in the same
    // order, along rows of partial sums (contiguous: in vector lanes) rather
    // than down columns of them (D doubles apart, one add at a time).
    std::vector<double> tw(static_cast<size_t>(D), 0.0), tb(static_cast<size_t>(D), 0.0);
    for (int64_t k = 0; k < blocks; ++k) {
      const double* pw = sw.data() + k * D;
      const double* pb = sb.data() + k * D;
#pragma omp simd
      for (int64_t j = 0; j < D; ++j) {
        tw[j] += pw[j];
        tb[j] += pb[j];
      }
    }
    for (int64_t j = 0; j < D; ++j) {
      if (dw) dw[j] = static_cast<float>(tw[j]);
      if (db) db[j] = static_cast<float>(tb[j]);
    }
  }
}

HEED_LAYER_NORM_KERNELS_FOR(float)
HEED_LAYER_NORM_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
