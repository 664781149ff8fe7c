#include "heed/nn/utils.h"

#include <cmath>

#include "heed/autograd/grad_mode.h"
#include "heed/core/iterate.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/reduction.h"

namespace heed::nn {

namespace {

// sum |v|^p, as an accumulator for reduce_flat (ops/reduction.h): its chunks
// are fixed by the element count and added in order, so the norm is the same
// on any number of threads.
struct PowerSum {
  using Acc = double;
  double p;
  Acc start() const { return 0; }
  template <class T>
  void add(Acc& a, T v, int64_t) const {
    const double x = static_cast<double>(v);
    a += p == 2 ? x * x : std::pow(std::abs(x), p);
  }
  void merge(Acc& a, const Acc& b) const { a += b; }
};

// sum |g|^p over the elements of g (or max |g| when p is inf), in double.
double grad_power_sum(const Tensor& grad, double p) {
  Tensor g = grad.contiguous();
  const int64_t n = g.numel();
  double acc = 0;
  dispatch_floating(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* v = g.data_ptr<T>();
    if (std::isinf(p)) {
      // Serial: a NaN must win the max, and std::max would drop it.
      for (int64_t i = 0; i < n; ++i) {
        double a = std::abs(static_cast<double>(v[i]));
        if (std::isnan(a) || a > acc) acc = a;
      }
    } else if (n > 0) {
      acc = reduce_flat(v, n, PowerSum{p});
    }
  });
  return acc;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double p, bool error_if_nonfinite) {
  if (!(max_norm >= 0))
    throw ValueError(msg("clip_grad_norm_: max_norm is ", max_norm, "; it must be >= 0"));
  if (!(p > 0))
    throw ValueError(msg("clip_grad_norm_: norm_type is ", p, "; it must be > 0 (or kInfNorm)"));
  // The norm of all grads at once equals the norm of the per-tensor norms, so one
  // running sum of |g|^p over every element does it.
  double acc = 0;
  for (const Tensor& param : params) {
    Tensor g = param.grad();
    if (!g.defined()) continue;
    double s = grad_power_sum(g, p);
    acc = std::isinf(p) ? (std::isnan(s) || s > acc ? s : acc) : acc + s;
  }
  const double total = std::isinf(p) ? acc : std::pow(acc, 1 / p);
  if (error_if_nonfinite && !std::isfinite(total))
    throw ValueError(msg("clip_grad_norm_: the total norm of the gradients is ", total,
                         "; the gradients hold NaN or inf (pass error_if_nonfinite = false to clip anyway)"));
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    NoGradGuard no_grad;  // an in-place update, outside any graph
    for (const Tensor& param : params) {
      Tensor g = param.grad();  // a handle to the grad itself: mul_ changes it in place
      if (g.defined()) g.mul_(coef);
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0))
    throw ValueError(msg("clip_grad_value_: clip_value is ", clip_value, "; it must be >= 0"));
  NoGradGuard no_grad;
  for (const Tensor& param : params) {
    Tensor g = param.grad();
    if (g.defined()) g.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace heed::nn
