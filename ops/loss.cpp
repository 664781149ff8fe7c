// Loss functions. binary_cross_entropy_with_logits is a composition of
// differentiable ops (its gradient comes from the ops' own backwards); mse_loss
// and nll_loss are each one op with its own backward (for mse_loss that saves the
// three nodes and two temporaries of (x - t).pow(2).mean(), which dominate a small
// training step); and cross_entropy is log_softmax followed by nll_loss.
#include "heed/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "heed/autograd/node.h"
#include "heed/core/parallel.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/activation.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/kernels/reduce.h"
#include "heed/ops/map.h"
#include "heed/ops/reduce.h"
#include "heed/ops/softmax.h"

namespace heed {

namespace {

Tensor reduce(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: break;
  }
  return mean(loss);
}

// Both operands of an elementwise loss: floating, one dtype, exactly one shape.
void check_pair(const char* op, const Tensor& input, const Tensor& target) {
  check_floating(op, input);
  if (!is_floating(target.dtype()))
    throw DTypeError(msg(op, ": target has dtype ", target.dtype(), "; it must be floating like the input (",
                         input.dtype(), ")"));
  check_same_dtype(op, input, target);
  if (input.shape() != target.shape())
    throw ShapeError(msg(op, ": input is ", input.shape(), ", target is ", target.shape(),
                         "; they must have the same shape (they are not broadcast: a [N] vs [N, 1] ",
                         "mismatch would silently become an [N, N] loss)"));
}

// True when `from` broadcasts to exactly `to` (each trailing size 1 or equal).
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 1; i <= from.size(); ++i)
    if (from[from.size() - i] != 1 && from[from.size() - i] != to[to.size() - i]) return false;
  return true;
}

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|)   (e^-|x| <= 1: never overflows)
// dx = dy * sigmoid(x)
// saves: x
Tensor softplus(const Tensor& x) {
  Tensor y = unary_map("softplus", x, [](auto v) {
    using T = decltype(v);
    return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v)));
  });
  if (!needs_grad({x})) return y;
  SavedTensor sx(x);
  return record("softplus", y, {x}, [sx](const Tensor& dy) -> TensorList {
    return {binary_map("softplus_backward", dy, sx.get("softplus"),
                       [](auto g, auto v) { return g / (1 + std::exp(-v)); })};
  });
}

// The class-index losses' argument rules. input: [C] (target 0-d) or [N, C, d1...]
// (target [N, d1...]); target int64. Returns C.
int64_t check_class_args(const char* op, const Tensor& input, const Tensor& target) {
  check_floating(op, input);
  if (target.dtype() != kInt64)
    throw DTypeError(msg(op, ": target has dtype ", target.dtype(), " (shape ", target.shape(),
                         "); it must hold int64 class indices (class-probability targets are not supported)"));
  if (input.dim() == 0)
    throw ShapeError(msg(op, ": input is 0-d; it must be [C], [N, C] or [N, C, d1, ...]"));
  Shape expected = input.shape();
  expected.erase(expected.begin() + (input.dim() == 1 ? 0 : 1));  // drop the class dim
  if (target.shape() != expected)
    throw ShapeError(msg(op, ": input is ", input.shape(), ", target is ", target.shape(),
                         "; for input [N, C, d1...] the target must be [N, d1...], here ", expected));
  return input.size(input.dim() == 1 ? 0 : 1);
}

// The nll_loss op, named `op` in its errors (cross_entropy calls it too).
//   loss[n, k] = -x[n, t[n, k], k]     (x seen as [N, C, K], K = d1 * d2 * ...; 0 where t is ignored)
//   dx[n, t[n, k], k] = -dloss[n, k]   (every other entry of dx is 0)
// With Mean, the result is sum(loss) / count and each dx entry is -dy / count.
// saves: the target values (ints)
Tensor nll(const char* op, const Tensor& input, const Tensor& target, const ClassLossOptions& o) {
  const int64_t C = check_class_args(op, input, target);
  const int64_t N = input.dim() == 1 ? 1 : input.size(0);
  int64_t K = 1;  // d1 * d2 * ...: positions per sample
  for (int64_t d = 2; d < input.dim(); ++d) K *= input.size(d);
  std::vector<int64_t> t = target.to_vector<int64_t>();  // [N, K], row-major
  int64_t count = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == o.ignore_index) continue;
    if (t[i] < 0 || t[i] >= C)
      throw IndexError(msg(op, ": target ", t[i], " (element ", i, " of target ", target.shape(),
                           ") is out of range for ", C, " classes; targets must be in [0, ", C,
                           ") or equal ignore_index (", o.ignore_index, ")"));
    ++count;
  }

  Tensor x = input.detach().contiguous();
  Tensor per = make_tensor(target.shape(), input.dtype(), /*zero_fill=*/true);  // loss[n, k]
  double total = 0;  // in double: a sum of N K terms
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* lp = per.data_ptr<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t i = n * K + k;
        if (t[i] == o.ignore_index) continue;
        lp[i] = -xp[(n * C + t[i]) * K + k];
        total += lp[i];
      }
  });
  Tensor y;
  switch (o.reduction) {
    case Reduction::None: y = per; break;
    case Reduction::Sum: y = Tensor::scalar(total, input.dtype()); break;
    // count == 0 gives 0 / 0 = NaN: PyTorch's answer when every target is ignored.
    case Reduction::Mean: y = Tensor::scalar(total / static_cast<double>(count), input.dtype()); break;
  }

  if (!needs_grad({input})) return y;
  Shape in_shape = input.shape();
  const Reduction red = o.reduction;
  const int64_t ignore = o.ignore_index;
  return record(op, y, {input}, [t = std::move(t), in_shape, red, ignore, count, N, C,
                                 K](const Tensor& dy_in) -> TensorList {
    Tensor dx = Tensor::zeros(in_shape, dy_in.dtype());
    Tensor dy = dy_in.contiguous();
    dispatch_floating(dx.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* gp = dy.data_ptr<T>();
      T* dp = dx.data_ptr<T>();
      // Each (n, k) writes its own entry of dx: distinct positions, any order.
      for (int64_t i = 0; i < N * K; ++i) {
        if (t[i] == ignore) continue;
        const int64_t n = i / K, k = i % K;
        T g = red == Reduction::None ? gp[i] : red == Reduction::Sum ? gp[0] : gp[0] / static_cast<T>(count);
        dp[(n * C + t[i]) * K + k] = -g;
      }
    });
    return {dx};
  });
}

}  // namespace

// loss = (x - t)^2 elementwise (None), summed (Sum), or summed and divided by n (Mean)
// dx = 2 (x - t) g,  dt = -dx,  with g = dloss elementwise (None), dloss (Sum), dloss / n (Mean)
// saves: x and t (contiguous)
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  profiler::OpScope prof("mse_loss");
  const char* op = "mse_loss";
  check_pair(op, input, target);
  // Flat loops over contiguous data, forward and backward: a strided input is
  // copied once here (the copy is what gets saved, so backward does not copy again).
  const Tensor x = input.detach().contiguous(), t = target.detach().contiguous();
  const int64_t n = x.numel();
  Tensor y;
  if (reduction == Reduction::None) {
    y = binary_map(op, x, t, [](auto a, auto b) { return (a - b) * (a - b); });
  } else {
    double total = 0;
    dispatch_floating(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      total = kernels::sum_squared_diff(x.data_ptr<T>(), t.data_ptr<T>(), n);
    });
    // Mean over no elements is 0 / 0 = NaN, as mean() and PyTorch give.
    y = Tensor::scalar(reduction == Reduction::Mean ? total / static_cast<double>(n) : total, x.dtype());
  }

  if (!needs_grad({input, target})) return y;
  const bool need_x = input.requires_grad(), need_t = target.requires_grad();
  SavedTensor sx(x), st(t);
  const Shape shape = input.shape();
  return record(op, y, {input, target}, [=](const Tensor& dy_in) -> TensorList {
    const Tensor xv = sx.get(op), tv = st.get(op);
    // None: a dy per element (contiguous, so it can be walked like x); Sum and
    // Mean: one 0-d dy for every element.
    const bool each = reduction == Reduction::None;
    const Tensor dy = each ? dy_in.contiguous() : dy_in;
    const double scale = reduction == Reduction::Mean ? 2.0 / static_cast<double>(n) : 2.0;
    Tensor dx = need_x ? make_tensor(shape, xv.dtype(), /*zero_fill=*/false) : Tensor();
    Tensor dt = need_t ? make_tensor(shape, xv.dtype(), /*zero_fill=*/false) : Tensor();
    dispatch_floating(xv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T *xp = xv.data_ptr<T>(), *tp = tv.data_ptr<T>(), *gp = dy.data_ptr<T>();
      T* dxp = need_x ? dx.data_ptr<T>() : nullptr;
      T* dtp = need_t ? dt.data_ptr<T>() : nullptr;
      const T g_all = each ? T(0) : static_cast<T>(scale * gp[0]);
      // each i writes only dx[i] and dt[i]
      parallel_for(n, n >= kParallelGrain, [&](int64_t i) {
        const T d = (each ? T(2) * gp[i] : g_all) * (xp[i] - tp[i]);
        if (dxp) dxp[i] = d;
        if (dtp) dtp[i] = -d;
      });
    });
    return {dx, dt};
  });
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const ClassLossOptions& options) {
  profiler::OpScope prof("nll_loss");
  return nll("nll_loss", log_probs, target, options);
}

// loss = nll_loss(log_softmax(logits, class dim), target)
// d logits = (softmax(logits) - onehot(target)) * dloss   (log_softmax's backward of nll's)
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const ClassLossOptions& options) {
  profiler::OpScope prof("cross_entropy");
  check_class_args("cross_entropy", logits, target);  // before log_softmax, so errors name us
  return nll("cross_entropy", log_softmax(logits, logits.dim() == 1 ? 0 : 1), target, options);
}

// loss = (1 - y) x + w softplus(-x),  w = 1 + (pos_weight - 1) y, or 1
// gradients through the ops (softplus's own backward is sigmoid, so x = 0 is exact)
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction,
                                        const Tensor& pos_weight) {
  profiler::OpScope prof("binary_cross_entropy_with_logits");
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(op, logits, target);
  Tensor loss = (1.0 - target) * logits;
  if (!pos_weight.defined()) return reduce(loss + softplus(-logits), reduction);
  check_same_dtype(op, logits, pos_weight);
  if (!broadcasts_to(pos_weight.shape(), logits.shape()))
    throw ShapeError(msg(op, ": pos_weight is ", pos_weight.shape(), ", input is ", logits.shape(),
                         "; pos_weight must broadcast to the input's shape (usually [C], one per class)"));
  Tensor w = (pos_weight - 1.0) * target + 1.0;
  return reduce(loss + w * softplus(-logits), reduction);
}

}  // namespace heed
