#include "heed/optim/adam.h"

#include <cmath>

#include "heed/autograd/grad_mode.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/kernels/adam.h"

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

// 1 - beta^t for both betas. The parameters of one step nearly always share the
// step count and the betas, so the last answer is kept: pow runs once per step
// instead of twice per parameter (the same pow of the same numbers, so the same
// result), which matters for a small model whose step is a few microseconds.
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

  // Named copies, not a structured binding: the lambda below uses them, and
  // capturing a structured binding is C++20 that clang 14 does not implement.
  const double beta1 = o.betas.first, beta2 = o.betas.second;
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
    const kernels::AdamStep<T> step{static_cast<T>(beta1),
                                    static_cast<T>(beta2),
                                    static_cast<T>(1 - beta1),
                                    static_cast<T>(1 - beta2),
                                    static_cast<T>(o.weight_decay),
                                    static_cast<T>(1 - o.lr * o.weight_decay),
                                    static_cast<T>(-step_size),
                                    static_cast<T>(bias_correction2_sqrt),
                                    static_cast<T>(o.eps),
                                    decoupled,
                                    /*l2=*/!decoupled && o.weight_decay != 0,
                                    o.amsgrad};
    kernels::adam(p.numel(), work.data_ptr<T>(), g.data_ptr<T>(), s.exp_avg.data_ptr<T>(), s.exp_avg_sq.data_ptr<T>(),
                  o.amsgrad ? s.max_exp_avg_sq.data_ptr<T>() : nullptr, step);
  });
  if (strided) p.copy_(work);  // bumps the version itself
  else p.impl().storage->bump_version();  // a raw write: tell autograd the data changed
}

}  // namespace

template <class Defaults>
void AdamOptionsWith<Defaults>::check(const char* name, const AdamOptionsWith& o) {
  check_adam_options(name, o);
}
template struct AdamOptionsWith<AdamDefaults>;
template struct AdamOptionsWith<AdamWDefaults>;

void Adam::step() {
  profiler::OpScope phase("optimizer.step", profiler::Kind::Phase);
  NoGradGuard no_grad;  // the update is not part of any graph
  BiasCorrections corrections;
  for_each_param([&](Tensor& p, AdamState& s, const AdamOptions& o) {
    Tensor g = detail::checked_grad(name_, p);
    if (g.defined()) adam_update(p, g, s, o, /*decoupled=*/false, corrections);
  });
}

void AdamW::step() {
  profiler::OpScope phase("optimizer.step", profiler::Kind::Phase);
  NoGradGuard no_grad;
  BiasCorrections corrections;
  for_each_param([&](Tensor& p, AdamState& s, const AdamWOptions& o) {
    Tensor g = detail::checked_grad(name_, p);
    if (g.defined()) adam_update(p, g, s, o, /*decoupled=*/true, corrections);
  });
}

}  // namespace heed::optim
