#include "heed/optim/adam.h"

#include <cmath>

#include "heed/autograd/grad_mode.h"
#include "heed/core/iterate.h"

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

// One parameter's update, in one pass over its elements (no temporaries). The
// scalars are computed in double, as PyTorch computes them in Python; the
// elementwise work is in the parameter's dtype, in PyTorch's order of operations.
// decoupled: AdamW (p *= 1 - lr wd) instead of Adam (g += wd p).
template <class Options>
void adam_update(Tensor& p, const Tensor& g, AdamState& s, const Options& o, bool decoupled) {
  if (s.step == 0) {  // first step: the moments start at zero
    s.exp_avg = Tensor::zeros(p.shape(), p.dtype());
    s.exp_avg_sq = Tensor::zeros(p.shape(), p.dtype());
    if (o.amsgrad) s.max_exp_avg_sq = Tensor::zeros(p.shape(), p.dtype());
  }
  if (o.amsgrad && !s.max_exp_avg_sq.defined())  // amsgrad switched on mid-run (as PyTorch allows)
    s.max_exp_avg_sq = Tensor::zeros(p.shape(), p.dtype());
  s.step += 1;

  const auto [beta1, beta2] = o.betas;
  const double t = static_cast<double>(s.step);
  const double bias_correction1 = 1 - std::pow(beta1, t);
  const double bias_correction2 = 1 - std::pow(beta2, t);
  const double step_size = o.lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  // v_max is only touched under amsgrad; otherwise v stands in for it (read, never written as v_max).
  Tensor& vmax = o.amsgrad ? s.max_exp_avg_sq : s.exp_avg_sq;
  dispatch_floating(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data_ptr<T>();
    const T* gp = g.data_ptr<T>();
    T* m = s.exp_avg.data_ptr<T>();
    T* v = s.exp_avg_sq.data_ptr<T>();
    T* vm = vmax.data_ptr<T>();
    const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
    const T one_minus_b1 = static_cast<T>(1 - beta1), one_minus_b2 = static_cast<T>(1 - beta2);
    const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps);
    const T shrink = static_cast<T>(1 - o.lr * o.weight_decay);
    const T neg_step = static_cast<T>(-step_size), bc2_sqrt = static_cast<T>(bias_correction2_sqrt);
    const bool amsgrad = o.amsgrad, l2 = !decoupled && o.weight_decay != 0;
    // The state buffers are contiguous and shaped like p; p and g may be strided.
    // Each element touches only its own slots: race-free in parallel.
    for_each_offset<3>(p.shape(), {&p.strides(), &g.strides(), &s.exp_avg.strides()},
                       [&](int64_t i, int64_t j, int64_t k) {
                         if (decoupled) pp[i] = pp[i] * shrink;
                         const T grad = l2 ? gp[j] + wd * pp[i] : gp[j];
                         m[k] = m[k] * b1 + one_minus_b1 * grad;
                         v[k] = v[k] * b2 + one_minus_b2 * grad * grad;
                         T second = v[k];
                         if (amsgrad) second = vm[k] = std::max(vm[k], v[k]);
                         const T denom = std::sqrt(second) / bc2_sqrt + eps;
                         pp[i] = pp[i] + neg_step * m[k] / denom;  // addcdiv_'s order
                       });
  });
  p.impl().storage->bump_version();  // a raw write: tell autograd the data changed
}

}  // namespace

void AdamOptions::check(const char* name, const AdamOptions& o) { check_adam_options(name, o); }
void AdamWOptions::check(const char* name, const AdamWOptions& o) { check_adam_options(name, o); }

void Adam::step() {
  NoGradGuard no_grad;  // the update is not part of any graph
  for_each_param([&](Tensor& p, AdamState& s, const AdamOptions& o) {
    Tensor g = detail::checked_grad(name_, p);
    if (g.defined()) adam_update(p, g, s, o, /*decoupled=*/false);
  });
}

void AdamW::step() {
  NoGradGuard no_grad;
  for_each_param([&](Tensor& p, AdamState& s, const AdamWOptions& o) {
    Tensor g = detail::checked_grad(name_, p);
    if (g.defined()) adam_update(p, g, s, o, /*decoupled=*/true);
  });
}

}  // namespace heed::optim
