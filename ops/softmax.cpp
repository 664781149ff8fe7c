// softmax and log_softmax along one dim.
//
// Both work on rows: the D elements that share every index except the one along
// dim. View the contiguous input as [O, D, I] (O = the dims before dim multiplied
// together, I = those after): row (o, i) is x[o, :, i], D elements spaced I apart.
// The kernels (ops/kernels/softmax.h) run over those rows (ops/map.h: around_dim).
//
// Stability: softmax(x) = softmax(x - c) for any c, and with c = the row's max
// every exponent is <= 0, so exp never overflows (exp(1000) is inf in float32 and
// float64; exp(1000 - 1000) is 1). At least one term is exp(0) = 1, so the sum is
// >= 1 and its log never sees 0. log_softmax is (x - m) - log(sum), never the log
// of a rounded softmax: a tiny probability keeps its exact log (-2000 rather
// than log(0) = -inf).
//
// The backward, per row (delta_jk is 1 where j = k, else 0):
//   softmax:      y_j = e^{x_j} / S,  dy_j/dx_k = y_j (delta_jk - y_k)
//                 => dx_k = sum_j dy_j y_j (delta_jk - y_k) = y_k (dy_k - sum_j dy_j y_j)
//   log_softmax:  y_j = x_j - log S,  dy_j/dx_k = delta_jk - softmax_k
//                 => dx_k = dy_k - softmax_k sum_j dy_j,  softmax_k = e^{y_k}
// Both need only the output y, so y is what is saved.
#include "heed/ops/softmax.h"

#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/kernels/softmax.h"
#include "heed/ops/map.h"

namespace heed {

namespace {

// softmax and log_softmax differ only in the flag they hand the kernels.
Tensor softmax_op(const char* op, bool log, const Tensor& x, int64_t dim) {
  profiler::OpScope prof(op);
  check_floating(op, x);
  dim = wrap_dim(op, dim, x.dim());
  const AroundDim rows = around_dim(x.shape(), dim);
  const Tensor xc = x.is_contiguous() ? x : copy_of(x);  // the kernel reads [O, D, I] in place
  Tensor y = make_tensor(x.shape(), x.dtype(), /*zero_fill=*/false);
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::softmax(xc.data_ptr<T>(), y.data_ptr<T>(), rows.outer, rows.size, rows.inner, log);
  });
  if (!needs_grad({x})) return y;

  SavedTensor sy(y);  // y is contiguous (made just above), as the backward kernel needs
  return record(op, y, {x}, [sy, rows, op, log](const Tensor& dy) -> TensorList {
    const Tensor yv = sy.get(op);
    const Tensor g = dy.is_contiguous() ? dy : copy_of(dy);  // dy may be a view (a sum's expanded ones)
    Tensor dx = make_tensor(yv.shape(), yv.dtype(), /*zero_fill=*/false);
    dispatch_floating(yv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::softmax_backward(yv.data_ptr<T>(), g.data_ptr<T>(), dx.data_ptr<T>(), rows.outer, rows.size,
                                rows.inner, log);
    });
    return {dx};
  });
}

}  // namespace

// y_i = e^{x_i - m} / sum_j e^{x_j - m}   (m = the max along dim)
// dx = y * (dy - sum(dy * y))
// saves: y
Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op("softmax", false, x, dim); }

// y_i = (x_i - m) - log sum_j e^{x_j - m}
// dx = dy - e^y * sum(dy)
// saves: y
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op("log_softmax", true, x, dim); }

}  // namespace heed
