// The layer norm kernels: each row r of D elements (x seen as [M, D]) normalized
// to mean 0 and variance 1, then scaled and shifted. ops/layer_norm.cpp derives
// the formulas:
//
//   mu = mean(x),  rstd = 1 / sqrt(mean((x - mu)^2) + eps),  xhat = (x - mu) rstd
//   y  = xhat w + b
//   dx = rstd (g - mean(g) - xhat mean(g xhat)),   g = dy w
//   dw = sum over rows of dy xhat,   db = sum over rows of dy
#pragma once

#include <cstdint>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// The same two functions in each namespace, for T = float and T = double.
// w and b may be null (no affine part); so may dx, dw and db (not wanted).
//
// layer_norm_rows:     y [M, D] and each row's mean and rstd [M]
// layer_norm_backward: dx [M, D] from x, w, dy and the saved mean and rstd;
//                      dw, db [D], summed over the M rows

// Two passes per row in double (E[x^2] - E[x]^2 would cancel catastrophically
// when the mean is large next to the spread), one row after another; the
// parameter gradients in a second pass over all rows.
namespace reference {
template <class T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, double* mean, double* rstd, int64_t M, int64_t D,
                     double eps);
template <class T>
void layer_norm_backward(const T* x, const T* w, const T* dy, const double* mean, const double* rstd, T* dx, T* dw,
                         T* db, int64_t M, int64_t D);
}  // namespace reference

// The same passes in vector lanes (float sums in 16 lanes; a row of a few
// hundred elements loses nothing that matters), blocks of rows shared between
// threads, and the backward in one pass: each block of rows computes its dx
// and its own partial sums of dw and db while the rows are in cache, and the
// partial sums are added up after (ops/kernels/fast/layer_norm.cpp). double:
// the reference.
namespace fast {
template <class T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, double* mean, double* rstd, int64_t M, int64_t D,
                     double eps);
template <class T>
void layer_norm_backward(const T* x, const T* w, const T* dy, const double* mean, const double* rstd, T* dx, T* dw,
                         T* db, int64_t M, int64_t D);
}  // namespace fast

// Each version's .cpp ends with HEED_LAYER_NORM_KERNELS_FOR(float) and (double).
#define HEED_LAYER_NORM_KERNELS_FOR(T)                                                                        \
  template void layer_norm_rows(const T*, const T*, const T*, T*, double*, double*, int64_t, int64_t, double); \
  template void layer_norm_backward(const T*, const T*, const T*, const double*, const double*, T*, T*, T*,    \
                                    int64_t, int64_t);

}  // namespace heed::kernels
