// Layer norm, reference: the formulas of ops/kernels/layer_norm.h row by row,
// every sum in double.
#include <cmath>
#include <vector>

#include "heed/ops/kernels/layer_norm.h"

namespace heed::kernels::reference {

// y, and each row's mu and rstd. w and b may be null.
template <class T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, double* mean, double* rstd, int64_t M, int64_t D,
                  double eps) {
  for (int64_t r = 0; r < M; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    // Two passes, in double: E[x^2] - E[x]^2 would cancel catastrophically when
    // the mean is large next to the spread.
    double mu = 0;
    for (int64_t j = 0; j < D; ++j) mu += xr[j];
    mu /= D;
    double var = 0;
    for (int64_t j = 0; j < D; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    var /= D;  // biased, as PyTorch normalizes
    const double rs = 1 / std::sqrt(var + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (int64_t j = 0; j < D; ++j) {
      double v = (xr[j] - mu) * rs;
      if (w) v *= w[j];
      if (b) v += b[j];
      yr[j] = static_cast<T>(v);
    }
  }
}

namespace {

// dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy w. w may be null.
template <class T>
void backward_rows(const T* x, const T* w, const T* dy, const double* mean, const double* rstd, T* dx, int64_t M,
                   int64_t D) {
  for (int64_t r = 0; r < M; ++r) {
    const T* xr = x + r * D;
    const T* gr = dy + r * D;
    const double mu = mean[r], rs = rstd[r];
    double g_mean = 0, gx_mean = 0;  // the two row means the formula needs
    for (int64_t j = 0; j < D; ++j) {
      const double g = w ? gr[j] * static_cast<double>(w[j]) : gr[j];
      g_mean += g;
      gx_mean += g * (xr[j] - mu) * rs;
    }
    g_mean /= D;
    gx_mean /= D;
    T* dxr = dx + r * D;
    for (int64_t j = 0; j < D; ++j) {
      const double g = w ? gr[j] * static_cast<double>(w[j]) : gr[j];
      const double xhat = (xr[j] - mu) * rs;
      dxr[j] = static_cast<T>(rs * (g - g_mean - xhat * gx_mean));
    }
  }
}

// dw = sum over rows of dy xhat, db = sum over rows of dy (either may be null).
template <class T>
void param_grads(const T* x, const T* dy, const double* mean, const double* rstd, T* dw, T* db, int64_t M,
                     int64_t D) {
  std::vector<double> sw(D, 0.0), sb(D, 0.0);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t j = 0; j < D; ++j) {
      sw[j] += dy[r * D + j] * (x[r * D + j] - mean[r]) * rstd[r];
      sb[j] += dy[r * D + j];
    }
  for (int64_t j = 0; j < D; ++j) {
    if (dw) dw[j] = static_cast<T>(sw[j]);
    if (db) db[j] = static_cast<T>(sb[j]);
  }
}

}  // namespace

template <class T>
void layer_norm_backward(const T* x, const T* w, const T* dy, const double* mean, const double* rstd, T* dx, T* dw,
                         T* db, int64_t M, int64_t D) {
  if (dx) backward_rows(x, w, dy, mean, rstd, dx, M, D);
  if (dw || db) param_grads(x, dy, mean, rstd, dw, db, M, D);
}

HEED_LAYER_NORM_KERNELS_FOR(float)
HEED_LAYER_NORM_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
