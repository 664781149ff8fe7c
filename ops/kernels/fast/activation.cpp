// GELU (tanh approximation), fast: the reference's formulas with the sigmoid
// of fast_math.h, which the compiler turns into vector code (libm's expf is a
// scalar call per element), compiled for three CPUs, and blocks of elements
// shared between the threads.
#include <algorithm>
#include <cmath>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/activation.h"
#include "heed/ops/kernels/fast/fast_math.h"
#include "heed/ops/kernels/fast/target_clones.h"

namespace heed::kernels::fast {

namespace {

constexpr float kSqrt2OverPi = 0.79788456080286535588f, kCubic = 0.044715f;
// Elements per block: a block is one thread's unit of work, and small enough
// for its inputs and outputs to stay in the core's cache.
constexpr int64_t kBlock = 4096;

}  // namespace

// Compiled three times (GCC's target_clones, of external functions only). This
// file is compiled with -ffp-contract=fast (CMakeLists.txt): the copies for
// CPUs with FMA (AVX-512, and x86-64-v3, AVX2's level) fuse the multiply-adds of
// the forward's polynomial, which made it 28% faster; the baseline copy cannot,
// so its last bits can differ from theirs (docs/10-fast.md).
namespace detail {

// s = sigmoid(2u), u = sqrt(2/pi) (x + c x^3)
[[gnu::always_inline]] inline float sigmoid_2u(float v) {
  return sigmoid_fast(2 * kSqrt2OverPi * (v + kCubic * v * v * v));
}

HEED_TARGET_CLONES("avx512f", "arch=x86-64-v3", "default")
void gelu_tanh_block(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid_2u(x[i]);
}

HEED_TARGET_CLONES("avx512f", "arch=x86-64-v3", "default")
void gelu_tanh_backward_block(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i], s = sigmoid_2u(v);
    const float du = kSqrt2OverPi * (1 + 3 * kCubic * v * v);
    dx[i] = dy[i] * (s + 2 * v * s * (1 - s) * du);
  }
}

}  // namespace detail

// Block b covers [b kBlock, min(n, (b + 1) kBlock)) and writes only there.
template <class T>
void gelu_tanh(const T* x, T* y, int64_t n) {
  if constexpr (sizeof(T) == 8) {
    reference::gelu_tanh(x, y, n);  // double: libm, for gradchecks
  } else {
    parallel_for((n + kBlock - 1) / kBlock, n >= kParallelGrain, [&](int64_t b) {
      const int64_t begin = b * kBlock;
      detail::gelu_tanh_block(x + begin, y + begin, std::min(kBlock, n - begin));
    });
  }
}

template <class T>
void gelu_tanh_backward(const T* x, const T* dy, T* dx, int64_t n) {
  if constexpr (sizeof(T) == 8) {
    reference::gelu_tanh_backward(x, dy, dx, n);
  } else {
    parallel_for((n + kBlock - 1) / kBlock, n >= kParallelGrain, [&](int64_t b) {
      const int64_t begin = b * kBlock;
      detail::gelu_tanh_backward_block(x + begin, dy + begin, dx + begin, std::min(kBlock, n - begin));
    });
  }
}

HEED_ACTIVATION_KERNELS_FOR(float)
HEED_ACTIVATION_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
