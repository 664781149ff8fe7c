// The Adam update kernel (optim/adam.h has the optimizer and the formulas):
// one pass over a parameter's n elements, no temporaries.
//
//   p = p * shrink                    decoupled (AdamW) weight decay, when `decoupled`
//   g = g + wd p                      L2 weight decay (Adam's), when `l2`
//   m = b1 m + (1 - b1) g             first moment
//   v = b2 v + (1 - b2) g^2           second moment
//   v_max = max(v_max, v)             with `amsgrad`: the largest v seen is used
//   p = p + neg_step m / (sqrt(v or v_max) / bc2_sqrt + eps)
//
// in PyTorch 1.13's order of operations, so the numbers match its.
#pragma once

#include <cstdint>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// One step's constants, in the parameter's dtype (the optimizer computes them in
// double, as PyTorch does in Python).
template <class T>
struct AdamStep {
  T b1, b2, one_minus_b1, one_minus_b2;  // the betas and 1 - beta
  T wd, shrink;                          // weight decay: L2 (g += wd p) or decoupled (p *= shrink)
  T neg_step, bc2_sqrt, eps;             // -lr / (1 - b1^t), sqrt(1 - b2^t), eps
  bool decoupled, l2, amsgrad;           // which terms apply (decoupled and l2 never both)
};

// The same function in each namespace, for T = float and T = double. vmax is
// null without amsgrad. p, g, m, v and vmax never overlap.

// One loop, each term as written above.
namespace reference {
template <class T>
void adam(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamStep<T>& s);
}  // namespace reference

// A branch-free vector loop per combination of flags, compiled for three CPUs;
// a large parameter cut into one share per thread (ops/kernels/fast/adam.cpp).
namespace fast {
template <class T>
void adam(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamStep<T>& s);
}  // namespace fast

// Each version's .cpp ends with HEED_ADAM_KERNELS_FOR(float) and (double): the
// one list of what it compiles, for both versions.
#define HEED_ADAM_KERNELS_FOR(T) \
  template void adam(int64_t, T*, const T*, T*, T*, T*, const AdamStep<T>&);

}  // namespace heed::kernels
