// The GELU kernels (its tanh approximation, GPT-2's activation): forward and
// backward over n contiguous elements. ops/activation.cpp derives the formulas:
//
//   u = sqrt(2/pi) (x + c x^3),  c = 0.044715
//   y  = x (1 + tanh(u)) / 2            = x s,            s = sigmoid(2u)
//   dx = dy (s + 2 x s (1 - s) du/dx),  du/dx = sqrt(2/pi) (1 + 3 c x^2)
// since (1 + tanh(u)) / 2 = sigmoid(2u) and (1 - tanh(u)^2) / 2 = 2 s (1 - s).
// In float the sigmoid form matters: for x below about -3, 1 + tanh(u) is a
// difference of two numbers near 1 and keeps few correct digits, while s itself
// is small and accurate.
//
// In a Transformer's MLP this runs on every one of the B T 4C hidden units,
// forward and backward; with libm's tanhf, a scalar call per element, it costs
// more than all of the MLP's matrix products.
#pragma once

#include <cstdint>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// The same two functions in each namespace, for T = float and T = double:
//   gelu_tanh:          y[i] = gelu_tanh(x[i]) for i < n
//   gelu_tanh_backward: dx[i] from x[i] and dy[i]; dx may be dy
// The backward computes s again rather than have the forward keep it: the
// kernels are bound by memory, not by the exp, and a kept s would be one more
// tensor written, saved and read back (bench/RESULTS.md has the measurements).

// The formulas with libm's exp, one element after another.
namespace reference {
template <class T>
void gelu_tanh(const T* x, T* y, int64_t n);
template <class T>
void gelu_tanh_backward(const T* x, const T* dy, T* dx, int64_t n);
}  // namespace reference

// The sigmoid from the vectorizable expm1 of fast_math.h (float; double keeps libm),
// compiled for three CPUs, blocks of elements shared between the threads
// (ops/kernels/fast/activation.cpp).
namespace fast {
template <class T>
void gelu_tanh(const T* x, T* y, int64_t n);
template <class T>
void gelu_tanh_backward(const T* x, const T* dy, T* dx, int64_t n);
}  // namespace fast

// Each version's .cpp ends with HEED_ACTIVATION_KERNELS_FOR(float) and (double).
#define HEED_ACTIVATION_KERNELS_FOR(T)        \
  template void gelu_tanh(const T*, T*, int64_t); \
  template void gelu_tanh_backward(const T*, const T*, T*, int64_t);

}  // namespace heed::kernels
