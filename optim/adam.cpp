#include "heed/optim/adam.h"

#include <omp.h>

#include <cmath>

#include "heed/autograd/grad_mode.h"
#include "heed/core/parallel.h"

namespace heed::optim {

namespace {

template <class Options>
void check_adam_options(const char* name, const Options& o) {
  if (!(o.lr >= 0)) throw ValueError(msg(name, ": lr is ", o.lr, "; it must be >= 0"));
  if (!(o.eps >= 0)) throw ValueError(msg(name, ": eps is ", o.eps, "; it must be >= 0"));
  // beta = 1 would never forget the zero start, and the bias correction 1 - beta^t would be 0.
  if (!(o.betas.first >= 0 && o.betas.first < 1))
    throw ValueError(msg(name, ": betas.first is ", o.betas.first, "; it must be in [0, 1)"));
  if (!(o.betas.second >= 0 && o.betas.second < 1))
    throw ValueError(msg(name, ": betas.second is ", o.betas.second, "; it must be in [0, 1)"));
  if (!(o.weight_decay >= 0))
    throw ValueError(msg(name, ": weight_decay is ", o.weight_decay, "; it must be >= 0"));
}

// The per-step constants of one update, in the parameter's dtype.
template <class T>
struct AdamConstants {
  T b1, b2, one_minus_b1, one_minus_b2;  // the betas and 1 - beta
  T wd, shrink;                          // weight decay: L2 (g += wd p) or decoupled (p *= shrink)
  T neg_step, bc2_sqrt, eps;             // -lr / (1 - b1^t), sqrt(1 - b2^t), eps
};

// The update of n contiguous elements, in PyTorch's order of operations. The flags
// are template parameters and the pointers __restrict (they never overlap; v_max
// is null without amsgrad), so the compiler turns this into a branch-free vector loop.
template <class T, bool kDecoupled, bool kL2, bool kAmsgrad>
[[gnu::always_inline]] inline void adam_kernel(int64_t n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                 T* __restrict vmax, const AdamConstants<T> c) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (kDecoupled) p[i] = p[i] * c.shrink;
    const T grad = kL2 ? g[i] + c.wd * p[i] : g[i];
    m[i] = m[i] * c.b1 + c.one_minus_b1 * grad;
    v[i] = v[i] * c.b2 + c.one_minus_b2 * grad * grad;
    T second = v[i];
    if constexpr (kAmsgrad) second = vmax[i] = std::max(vmax[i], v[i]);
    const T denom = std::sqrt(second) / c.bc2_sqrt + c.eps;
    p[i] = p[i] + c.neg_step * m[i] / denom;  // addcdiv_'s order
  }
}

// Picks the kernel for the flags. (decoupled and l2 never meet: AdamW decays
// the weights directly, and l2 is only Adam's weight decay.)
template <class T>
[[gnu::always_inline]] inline void run_adam_kernel(bool decoupled, bool l2, bool amsgrad, int64_t n, T* p,
                                                   const T* g, T* m, T* v, T* vmax, const AdamConstants<T>& c) {
  // (Spelled out rather than folded into a generic lambda: a lambda would be a
  // function of its own, compiled once, outside the clones below.)
  if (amsgrad) {
    if (decoupled) adam_kernel<T, true, false, true>(n, p, g, m, v, vmax, c);
    else if (l2) adam_kernel<T, false, true, true>(n, p, g, m, v, vmax, c);
    else adam_kernel<T, false, false, true>(n, p, g, m, v, vmax, c);
  } else {
    if (decoupled) adam_kernel<T, true, false, false>(n, p, g, m, v, nullptr, c);
    else if (l2) adam_kernel<T, false, true, false>(n, p, g, m, v, nullptr, c);
    else adam_kernel<T, false, false, false>(n, p, g, m, v, nullptr, c);
  }
}

// The kernels compiled three times, for baseline x86-64 (SSE2, 4 floats a step),
// for CPUs with AVX2 (8 at a time) and with AVX-512 (16); the loader picks what
// the CPU runs (target_clones). Same results on all: every element is computed
// on its own, and sqrt and division are exactly rounded in each.
[[gnu::target_clones("avx512f", "avx2", "default")]]
void adam_elements(bool decoupled, bool l2, bool amsgrad, int64_t n, float* p, const float* g, float* m,
                   float* v, float* vmax, const AdamConstants<float>& c) {
  run_adam_kernel<float>(decoupled, l2, amsgrad, n, p, g, m, v, vmax, c);
}
[[gnu::target_clones("avx512f", "avx2", "default")]]
void adam_elements(bool decoupled, bool l2, bool amsgrad, int64_t n, double* p, const double* g, double* m,
                   double* v, double* vmax, const AdamConstants<double>& c) {
  run_adam_kernel<double>(decoupled, l2, amsgrad, n, p, g, m, v, vmax, c);
}

// 1 - beta^t for both betas. The parameters of one step nearly always share the
// step count and the betas, so the last answer is kept: pow runs once per step
// instead of twice per parameter (the same pow of the same numbers, so the same
// result). In the article-000 model's step, the twelve pow calls were 1% of it.
struct BiasCorrections {
  double beta1 = -1, beta2 = -1;
  int64_t step = -1;
  double bc1 = 0, bc2 = 0;
  void update(double b1, double b2, int64_t t) {
    if (b1 == beta1 && b2 == beta2 && t == step) return;
    beta1 = b1;
    beta2 = b2;
    step = t;
    bc1 = 1 - std::pow(b1, static_cast<double>(t));
    bc2 = 1 - std::pow(b2, static_cast<double>(t));
  }
};

// One parameter's update, in one pass over its elements (no temporaries). The
// scalars are computed in double, as PyTorch computes them in Python; the
// elementwise work is in the parameter's dtype.
// decoupled: AdamW (p *= 1 - lr wd) instead of Adam (g += wd p).
template <class Options>
void adam_update(Tensor& p, const Tensor& g_in, AdamState& s, const Options& o, bool decoupled,
                 BiasCorrections& corrections) {
  if (s.step == 0) {  // first step: the moments start at zero
    s.exp_avg = Tensor::zeros(p.shape(), p.dtype());
    s.exp_avg_sq = Tensor::zeros(p.shape(), p.dtype());
    if (o.amsgrad) s.max_exp_avg_sq = Tensor::zeros(p.shape(), p.dtype());
  }
  if (o.amsgrad && !s.max_exp_avg_sq.defined())  // amsgrad switched on mid-run (as PyTorch allows)
    s.max_exp_avg_sq = Tensor::zeros(p.shape(), p.dtype());
  s.step += 1;

  const auto [beta1, beta2] = o.betas;
  corrections.update(beta1, beta2, s.step);
  const double bias_correction1 = corrections.bc1, bias_correction2 = corrections.bc2;
  const double step_size = o.lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  // The kernel wants plain arrays. The state is contiguous by construction; a
  // strided parameter or gradient (rare: a user's set_grad of a view, say) is
  // updated through a contiguous copy that is written back afterwards.
  const Tensor g = g_in.contiguous();
  const bool strided = !p.is_contiguous();
  Tensor work = strided ? p.contiguous() : p;
  dispatch_floating(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const AdamConstants<T> c{static_cast<T>(beta1), static_cast<T>(beta2),
                             static_cast<T>(1 - beta1), static_cast<T>(1 - beta2),
                             static_cast<T>(o.weight_decay), static_cast<T>(1 - o.lr * o.weight_decay),
                             static_cast<T>(-step_size), static_cast<T>(bias_correction2_sqrt),
                             static_cast<T>(o.eps)};
    const bool l2 = !decoupled && o.weight_decay != 0;
    T* vmax = o.amsgrad ? s.max_exp_avg_sq.data_ptr<T>() : nullptr;
    T *pp = work.data_ptr<T>(), *pm = s.exp_avg.data_ptr<T>(), *pv = s.exp_avg_sq.data_ptr<T>();
    const T* pg = g.data_ptr<T>();
    // Each element's update touches only that element, so a large parameter is
    // cut into one contiguous share per thread. A small one stays on this thread:
    // a fork costs more than updating a few thousand elements (W1's 5,151
    // parameters took 15.8 us a step on one thread and 17.2 us on two).
    const int64_t n = p.numel();
    const int64_t shares = n >= kParallelGrain ? omp_get_max_threads() : 1;
    parallel_for(shares, shares > 1, [&](int64_t k) {
      const int64_t first = k * n / shares, count = (k + 1) * n / shares - first;
      adam_elements(decoupled, l2, o.amsgrad, count, pp + first, pg + first, pm + first, pv + first,
                    vmax ? vmax + first : nullptr, c);
    });
  });
  if (strided) p.copy_(work);  // bumps the version itself
  else p.impl().storage->bump_version();  // a raw write: tell autograd the data changed
}

}  // namespace

void AdamOptions::check(const char* name, const AdamOptions& o) { check_adam_options(name, o); }
void AdamWOptions::check(const char* name, const AdamWOptions& o) { check_adam_options(name, o); }

void Adam::step() {
  NoGradGuard no_grad;  // the update is not part of any graph
  BiasCorrections corrections;
  for_each_param([&](Tensor& p, AdamState& s, const AdamOptions& o) {
    Tensor g = detail::checked_grad(name_, p);
    if (g.defined()) adam_update(p, g, s, o, /*decoupled=*/false, corrections);
  });
}

void AdamW::step() {
  NoGradGuard no_grad;
  BiasCorrections corrections;
  for_each_param([&](Tensor& p, AdamState& s, const AdamWOptions& o) {
    Tensor g = detail::checked_grad(name_, p);
    if (g.defined()) adam_update(p, g, s, o, /*decoupled=*/true, corrections);
  });
}

}  // namespace heed::optim
