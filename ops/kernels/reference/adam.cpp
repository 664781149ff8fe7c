// The Adam update as its formulas read, element by element.
#include <algorithm>
#include <cmath>

#include "heed/ops/kernels/adam.h"

namespace heed::kernels::reference {

template <class T>
void adam(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamStep<T>& s) {
  for (int64_t i = 0; i < n; ++i) {
    if (s.decoupled) p[i] = p[i] * s.shrink;
    const T grad = s.l2 ? g[i] + s.wd * p[i] : g[i];
    m[i] = m[i] * s.b1 + s.one_minus_b1 * grad;
    v[i] = v[i] * s.b2 + s.one_minus_b2 * grad * grad;
    T second = v[i];
    if (s.amsgrad) second = vmax[i] = std::max(vmax[i], v[i]);
    const T denom = std::sqrt(second) / s.bc2_sqrt + s.eps;
    p[i] = p[i] + s.neg_step * m[i] / denom;
  }
}

HEED_ADAM_KERNELS_FOR(float)
HEED_ADAM_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
