// GELU (tanh approximation), reference: the formulas of ops/kernels/activation.h
// in one loop each, with libm's exp.
#include <cmath>

#include "heed/ops/kernels/activation.h"

namespace heed::kernels::reference {

namespace {
template <class T> constexpr T kSqrt2OverPi = T(0.79788456080286535588);
template <class T> constexpr T kCubic = T(0.044715);

// s = sigmoid(2u) = 1 / (1 + e^-2u)
template <class T>
T sigmoid_2u(T v) {
  return 1 / (1 + std::exp(-2 * kSqrt2OverPi<T> * (v + kCubic<T> * v * v * v)));
}
}  // namespace

template <class T>
void gelu_tanh(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid_2u(x[i]);  // y = x s
}

template <class T>
void gelu_tanh_backward(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i], s = sigmoid_2u(v);
    const T du = kSqrt2OverPi<T> * (1 + 3 * kCubic<T> * v * v);  // du/dx
    dx[i] = dy[i] * (s + 2 * v * s * (1 - s) * du);
  }
}

HEED_ACTIVATION_KERNELS_FOR(float)
HEED_ACTIVATION_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
