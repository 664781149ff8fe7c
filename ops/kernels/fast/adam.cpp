// The Adam update, fast: the reference loop (reference/adam.cpp) with the flags
// turned into template parameters and the pointers __restrict, so each
// combination compiles to a branch-free vector loop; compiled for three CPUs;
// and a large parameter cut into one share per thread.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/adam.h"
#include "heed/ops/kernels/fast/target_clones.h"

namespace heed::kernels::fast {

namespace {

// s by value: a local copy the compiler knows no store in the loop can change,
// so its fields stay in registers.
template <class T, bool kDecoupled, bool kL2, bool kAmsgrad>
[[gnu::always_inline]] inline void adam_loop(int64_t n, T* __restrict p, const T* __restrict g, T* __restrict m,
                                             T* __restrict v, T* __restrict vmax, const AdamStep<T> s) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (kDecoupled) p[i] = p[i] * s.shrink;
    const T grad = kL2 ? g[i] + s.wd * p[i] : g[i];
    m[i] = m[i] * s.b1 + s.one_minus_b1 * grad;
    v[i] = v[i] * s.b2 + s.one_minus_b2 * grad * grad;
    T second = v[i];
    if constexpr (kAmsgrad) second = vmax[i] = std::max(vmax[i], v[i]);
    const T denom = std::sqrt(second) / s.bc2_sqrt + s.eps;
    p[i] = p[i] + s.neg_step * m[i] / denom;  // addcdiv_'s order
  }
}

// Picks the loop for the flags. (Spelled out rather than folded into a generic
// lambda: a lambda would be a function of its own, compiled once, outside the
// clones below.)
template <class T>
[[gnu::always_inline]] inline void adam_loops(int64_t n, T* p, const T* g, T* m, T* v, T* vmax,
                                              const AdamStep<T>& s) {
  if (s.amsgrad) {
    if (s.decoupled) adam_loop<T, true, false, true>(n, p, g, m, v, vmax, s);
    else if (s.l2) adam_loop<T, false, true, true>(n, p, g, m, v, vmax, s);
    else adam_loop<T, false, false, true>(n, p, g, m, v, vmax, s);
  } else {
    if (s.decoupled) adam_loop<T, true, false, false>(n, p, g, m, v, nullptr, s);
    else if (s.l2) adam_loop<T, false, true, false>(n, p, g, m, v, nullptr, s);
    else adam_loop<T, false, false, false>(n, p, g, m, v, nullptr, s);
  }
}

}  // namespace

// The loops compiled for baseline x86-64 (SSE2, 4 floats a step), AVX2 (8) and
// AVX-512 (16); the loader picks what the CPU runs (target_clones, of external
// functions only). Same results on all: every element is computed on its own,
// and sqrt and division are exactly rounded in each.
namespace detail {
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void adam_elements(int64_t n, float* p, const float* g, float* m, float* v, float* vmax, const AdamStep<float>& s) {
  adam_loops(n, p, g, m, v, vmax, s);
}
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void adam_elements(int64_t n, double* p, const double* g, double* m, double* v, double* vmax,
                   const AdamStep<double>& s) {
  adam_loops(n, p, g, m, v, vmax, s);
}
}  // namespace detail

// Each element's update touches only that element, so a large parameter is cut
// into one contiguous share per thread. A small one stays on this thread: a fork
// costs more than updating a few thousand elements.
template <class T>
void adam(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamStep<T>& s) {
  const int64_t shares = n >= kParallelGrain ? omp_get_max_threads() : 1;
  parallel_for(shares, shares > 1, [&](int64_t k) {
    const int64_t first = k * n / shares, count = (k + 1) * n / shares - first;
    detail::adam_elements(count, p + first, g + first, m + first, v + first, vmax ? vmax + first : nullptr, s);
  });
}

HEED_ADAM_KERNELS_FOR(float)
HEED_ADAM_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
