#include "heed/optim/sgd.h"

#include "heed/autograd/grad_mode.h"
#include "heed/core/profile_scope.h"
#include "heed/core/iterate.h"

namespace heed::optim {

void SGDOptions::check(const char* name, const SGDOptions& o) {
  if (!(o.lr >= 0)) throw ValueError(msg(name, ": lr is ", o.lr, "; it must be >= 0"));
  if (!(o.momentum >= 0)) throw ValueError(msg(name, ": momentum is ", o.momentum, "; it must be >= 0"));
  if (!(o.weight_decay >= 0))
    throw ValueError(msg(name, ": weight_decay is ", o.weight_decay, "; it must be >= 0"));
  // Nesterov looks ahead along the momentum: without momentum there is nothing
  // to look along, and dampening would make the look-ahead inconsistent.
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    throw ValueError(msg(name, ": nesterov needs momentum > 0 and dampening == 0 (got momentum ", o.momentum,
                         ", dampening ", o.dampening, ")"));
}

namespace {

// One parameter's update, in one pass over its elements (no temporaries):
//   d = g + wd p;   b = d (first step) or mom b + (1 - damp) d;
//   d = d + mom b (nesterov) or b;   p = p - lr d
// The operations and their order are PyTorch's, so float32 results agree to rounding.
void sgd_update(Tensor& p, const Tensor& g, SGDState& s, const SGDOptions& o) {
  // PyTorch starts the buffer as a copy of d, not as momentum * 0 + (1 - dampening) d.
  const bool first = o.momentum != 0 && !s.momentum_buffer.defined();
  if (first) s.momentum_buffer = Tensor::empty(p.shape(), p.dtype());
  dispatch_floating(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data_ptr<T>();
    const T* gp = g.data_ptr<T>();
    const T neg_lr = static_cast<T>(-o.lr), wd = static_cast<T>(o.weight_decay);
    const T mom = static_cast<T>(o.momentum), keep = static_cast<T>(1 - o.dampening);
    const bool decay = o.weight_decay != 0, nesterov = o.nesterov;
    // Each element reads and writes only its own slots of p and b: race-free in parallel.
    // always_inline: the update is a few instructions per element, and a call
    // per element would cost more. step() instantiates for_each_offset's loops
    // a dozen times (dtypes, layouts, momentum or not), and g++ stops inlining
    // into one function past a growth limit: the code parallel_for gained for
    // the profiler was enough to push these calls out of line (W5 lost 10%).
    // The ctest `inlining` (tests/inlining/) fails if any such loop in heed
    // calls its body out of line.
    if (o.momentum == 0) {
      for_each_offset<2>(p.shape(), {&p.strides(), &g.strides()}, [&](int64_t i, int64_t j) __attribute__((always_inline)) {
        const T d = decay ? gp[j] + wd * pp[i] : gp[j];
        pp[i] = pp[i] + neg_lr * d;
      });
      return;
    }
    T* bp = s.momentum_buffer.data_ptr<T>();
    for_each_offset<3>(p.shape(), {&p.strides(), &g.strides(), &s.momentum_buffer.strides()},
                       [&](int64_t i, int64_t j, int64_t k) __attribute__((always_inline)) {
                         T d = decay ? gp[j] + wd * pp[i] : gp[j];
                         const T b = first ? d : bp[k] * mom + keep * d;
                         bp[k] = b;
                         d = nesterov ? d + mom * b : b;
                         pp[i] = pp[i] + neg_lr * d;
                       });
  });
  p.impl().storage->bump_version();  // a raw write: tell autograd the data changed
}

}  // namespace

void SGD::step() {
  profiler::OpScope phase("optimizer.step", profiler::Kind::Phase);
  NoGradGuard no_grad;  // the update is not part of any graph
  for_each_param([&](Tensor& p, SGDState& s, const SGDOptions& o) {
    Tensor g = detail::checked_grad(name_, p);
    if (g.defined()) sgd_update(p, g, s, o);
  });
}

}  // namespace heed::optim
