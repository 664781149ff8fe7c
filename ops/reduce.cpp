// Reductions: sum, mean, max, min, var, argmax, argmin, and sum_to. Each works
// on the [O, R, I] view of its input (ops/reduction.h) and says how to start,
// add to, merge and finish its accumulator.
#include "heed/ops/reduce.h"

#include <algorithm>

#include "heed/autograd/node.h"
#include "heed/core/parallel.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/kernels/reduce.h"
#include "heed/ops/map.h"
#include "heed/ops/reduction.h"

namespace heed {

namespace {

// ---- raw reductions (no autograd), shared by the ops and their backwards ------------

// sum over dims (sorted, from reduce_dims), divided by divisor.
Tensor sum_raw(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, double divisor = 1) {
  Tensor y = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype(), /*zero_fill=*/false);
  // Two shapes of small sum are common enough to skip the general planning below:
  // the whole of a contiguous tensor (a loss's mean), and its last dim (the
  // gradient of a [N, 1] operand broadcast along a row). Each output is one
  // contiguous run.
  const int64_t n = x.numel();
  const bool last_dim_only = dims.size() == 1 && dims[0] == x.dim() - 1;
  if (x.is_contiguous() && is_floating(x.dtype()) && n > 0 && n < kParallelGrain &&
      (y.numel() == 1 || last_dim_only)) {
    const int64_t runs = y.numel(), len = n / runs;
    dispatch_floating(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* p = x.data_ptr<T>();
      T* out = y.data_ptr<T>();
      for (int64_t r = 0; r < runs; ++r) out[r] = static_cast<T>(kernels::sum(p + r * len, len) / divisor);
    });
    return y;
  }
  ReduceView p = plan_reduction(x, dims, /*any_order=*/true);
  if (p.outer == 1 && p.inner > 1 && is_floating(x.dtype())) {
    // Down the rows of a [reduced, inner] matrix (the bias gradient of a layer
    // applied to many rows): the column-sum kernel.
    dispatch_floating(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::column_sums(p.data.data_ptr<T>(), p.reduced, p.inner, p.inner, 1, divisor, y.data_ptr<T>());
    });
    return y;
  }
  if (p.outer == 1 && p.inner == 1 && is_floating(x.dtype()) && n > 0) {
    // Everything into one number (a loss): the summing kernel.
    dispatch_floating(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      y.data_ptr<T>()[0] = static_cast<T>(kernels::sum(p.data.data_ptr<T>(), n) / divisor);
    });
    return y;
  }
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_reduction<T>(p, SumOp<T>{y.data_ptr<T>(), divisor});
  });
  return y;
}

// The number of elements each output of a reduction over dims combines.
int64_t reduced_count(const Tensor& x, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[d];
  return n;
}

// Puts the reduced dims back as size 1, so a gradient of the output's shape
// broadcasts against the input. (With keepdim they are there already.)
Tensor keep_dims(const Tensor& g, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return g;
  Tensor out = g;
  for (int64_t d : dims) out = out.unsqueeze(d);  // ascending, so each d is already its final place
  return out;
}

// max, min, argmax and argmin of no elements have no value (sum has 0, mean NaN):
// a ValueError, as in PyTorch. `full` picks the message for a reduction over everything.
void check_not_empty(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool full) {
  if (reduced_count(x, dims) != 0) return;
  if (full)
    throw ValueError(msg(op, ": the input of shape ", x.shape(), " is empty; the ", op,
                         " of no elements is undefined"));
  throw ValueError(msg(op, ": cannot reduce over a dim of size 0 (input shape ", x.shape(),
                       ", dims ", Shape(dims), "); the ", op, " of no elements is undefined"));
}

// max and min share everything but the comparison.
Tensor extreme(const char* op, bool is_max, const Tensor& x, const std::vector<int64_t>& dims_in,
               bool keepdim, bool full) {
  profiler::OpScope prof(op);
  check_floating(op, x);
  std::vector<int64_t> dims = reduce_dims(op, x, dims_in);
  check_not_empty(op, x, dims, full);
  ReduceView p = plan_reduction(x, dims);
  Tensor y = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype(), /*zero_fill=*/false);
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (is_max) run_reduction<T>(p, ExtremeOp<T, true>{y.data_ptr<T>(), nullptr});
    else run_reduction<T>(p, ExtremeOp<T, false>{y.data_ptr<T>(), nullptr});
  });
  if (!needs_grad({x})) return y;

  SavedTensor sx(x), sy(y);
  return record(op, y, {x}, [=](const Tensor& dy) -> TensorList {
    Tensor xv = sx.get(op), yv = keep_dims(sy.get(op), dims, keepdim);
    // hit = 1 where x equals the result (NaN counts as equal to a NaN result, so
    // the gradient goes to the NaN that made it), else 0.
    Tensor hit = binary_map(op, xv, yv, [](auto a, auto b) {
      return (a == b || (a != a && b != b)) ? decltype(a)(1) : decltype(a)(0);
    });
    Tensor count = sum_raw(hit, dims, /*keepdim=*/true);
    return {hit * (keep_dims(dy, dims, keepdim) / count)};
  });
}

Tensor arg_extreme(const char* op, bool is_max, const Tensor& x, int64_t dim, bool keepdim) {
  profiler::OpScope prof(op);
  std::vector<int64_t> dims = reduce_dims(op, x, {dim});
  check_not_empty(op, x, dims, /*full=*/false);
  ReduceView p = plan_reduction(x, dims);
  Tensor y = make_tensor(reduced_shape(x.shape(), dims, keepdim), kInt64, /*zero_fill=*/false);
  int64_t* idx = y.data_ptr<int64_t>();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (is_max) run_reduction<T>(p, ExtremeOp<T, true>{nullptr, idx});
    else run_reduction<T>(p, ExtremeOp<T, false>{nullptr, idx});
  });
  return y;  // indices are not differentiable: no graph
}

}  // namespace

Tensor column_sums(const Tensor& m) {
  profiler::OpScope prof("column_sums");
  Tensor out = make_tensor({m.size(1)}, m.dtype(), /*zero_fill=*/false);
  dispatch_floating(m.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::column_sums(m.data_ptr<T>(), m.size(0), m.size(1), m.strides()[0], m.strides()[1], 1.0,
                         out.data_ptr<T>());
  });
  return out;
}


// ---- sum ----------------------------------------------------------------------------

// y = sum of x over dims
// dx = dy with the reduced dims put back as size 1, expanded to x's shape (a view)
// saves: nothing (x's shape and the dims)
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  profiler::OpScope prof("sum");
  std::vector<int64_t> dims = reduce_dims("sum", x, dims_in);
  Tensor y = sum_raw(x, dims, keepdim);
  if (!needs_grad({x})) return y;  // int64 never requires grad: an int64 sum records nothing
  Shape xs = x.shape();
  return record("sum", y, {x}, [xs, dims, keepdim](const Tensor& dy) -> TensorList {
    return {keep_dims(dy, dims, keepdim).expand(xs)};
  });
}

Tensor sum(const Tensor& x) { return sum(x, all_dims(x), false); }

// ---- mean ---------------------------------------------------------------------------

// y = sum of x over dims / n   (n = the number of elements each output averages)
// dx = dy / n, expanded back to x's shape
// saves: nothing
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  profiler::OpScope prof("mean");
  check_floating("mean", x);
  std::vector<int64_t> dims = reduce_dims("mean", x, dims_in);
  const int64_t n = reduced_count(x, dims);
  // n == 0 gives 0 / 0 = NaN, which is PyTorch's mean of nothing.
  Tensor y = sum_raw(x, dims, keepdim, static_cast<double>(n));
  if (!needs_grad({x})) return y;
  Shape xs = x.shape();
  return record("mean", y, {x}, [xs, dims, keepdim, n](const Tensor& dy) -> TensorList {
    return {keep_dims(dy * (1.0 / static_cast<double>(n)), dims, keepdim).expand(xs)};
  });
}

Tensor mean(const Tensor& x) { return mean(x, all_dims(x), false); }

// ---- max and min --------------------------------------------------------------------

// y = the largest (smallest) element of x along dim
// dx = dy split evenly among the elements equal to y (torch.amax's rule), 0 elsewhere
// saves: x and y
Tensor max(const Tensor& x, int64_t dim, bool keepdim) { return extreme("max", true, x, {dim}, keepdim, false); }
Tensor max(const Tensor& x) { return extreme("max", true, x, all_dims(x), false, true); }
Tensor min(const Tensor& x, int64_t dim, bool keepdim) { return extreme("min", false, x, {dim}, keepdim, false); }
Tensor min(const Tensor& x) { return extreme("min", false, x, all_dims(x), false, true); }

// ---- var ----------------------------------------------------------------------------

// y = sum((x - m)^2) / (n - correction),  m = mean of x over dims
// dx = dy * 2 (x - m) / (n - correction)
// saves: x (m is recomputed in backward: one cheap reduction, no extra memory held)
//
// Two passes (the mean first, then squared deviations from it) rather than
// sum(x^2) - n m^2, which cancels catastrophically when the mean is large.
// Like PyTorch, the divisor is max(0, n - correction): with too few elements the
// result is inf (or NaN when every deviation is 0, e.g. a single element).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim, int64_t correction) {
  profiler::OpScope prof("var");
  check_floating("var", x);
  if (correction < 0)
    throw ValueError(msg("var: correction is ", correction, " (input shape ", x.shape(),
                         "); it must be >= 0 (1 for the unbiased estimate, 0 for the population variance)"));
  std::vector<int64_t> dims = reduce_dims("var", x, dims_in);
  const int64_t n = reduced_count(x, dims);
  const double divisor = static_cast<double>(std::max<int64_t>(0, n - correction));

  Tensor m = sum_raw(x, dims, /*keepdim=*/true, static_cast<double>(n));
  Tensor dev2 = binary_map("var", x.detach(), m, [](auto v, auto mu) { return (v - mu) * (v - mu); });
  Tensor y = sum_raw(dev2, dims, keepdim, divisor);
  if (!needs_grad({x})) return y;

  SavedTensor sx(x);
  return record("var", y, {x}, [sx, dims, keepdim, n, divisor](const Tensor& dy) -> TensorList {
    Tensor xv = sx.get("var");
    Tensor mv = sum_raw(xv, dims, /*keepdim=*/true, static_cast<double>(n));
    return {(xv - mv) * (2.0 / divisor) * keep_dims(dy, dims, keepdim)};
  });
}

Tensor var(const Tensor& x) { return var(x, all_dims(x), false, 1); }

// ---- argmax and argmin --------------------------------------------------------------

// y = the index along dim of the largest (smallest) element, the first one on ties
// (int64; no gradient: an index is not a smooth function of x)
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return arg_extreme("argmax", true, x, dim, keepdim); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return arg_extreme("argmin", false, x, dim, keepdim); }

// ---- sum_to ---------------------------------------------------------------------------

// g = the gradient of a broadcast result; shape = what one operand had before it
// was broadcast. Broadcasting (a) prepended dims and (b) repeated size-1 dims; each
// repeated copy received its own share of the gradient, so undo it by summing
// over (a) the leading dims and (b) the dims where shape has 1 but g does not.
Tensor sum_to(const Tensor& g, const Shape& shape) {
  profiler::OpScope prof("sum_to");
  if (g.shape() == shape) return g;  // the common case (no broadcast): no work, no copy
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  bool fits = lead >= 0;
  for (int64_t d = 0; fits && d < static_cast<int64_t>(shape.size()); ++d)
    fits = shape[d] == 1 || shape[d] == g.shape()[lead + d];
  if (!fits)
    throw ShapeError(msg("sum_to: cannot sum a tensor of shape ", g.shape(), " down to ", shape,
                         "; ", shape, " must broadcast to ", g.shape(),
                         " (align the trailing dims; each must match or be 1)"));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  // keepdim leaves the leading dims as 1s; the result is fresh and contiguous, so
  // the reshape that drops them is a view.
  return sum(g, dims, /*keepdim=*/true).reshape(shape);
}

}  // namespace heed

