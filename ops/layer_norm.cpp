// Layer normalization as one fused op: a forward that keeps each row's mean and
// 1/std, and a backward that uses them, instead of a graph of ~8 elementwise ops
// that would each save a full-size tensor.
//
// Each row r of D elements (x seen as [M, D], D = numel(normalized_shape)):
//   mu = mean(x),  rstd = 1 / sqrt(mean((x - mu)^2) + eps),  xhat = (x - mu) rstd
//   y = xhat * w + b
// Backward, with g = dy * w (dy when there is no weight):
//   dx = rstd (g - mean(g) - xhat mean(g xhat))
//   dw = sum over rows of dy xhat,   db = sum over rows of dy
// Where dx comes from: xhat_i depends on every x_j of its row through mu and rstd,
//   d xhat_i / d x_j = rstd (delta_ij - 1/D - xhat_i xhat_j / D),
// and summing g_i times that over i gives the line above.
// The loops are kernels (ops/kernels/layer_norm.h), a reference and a fast one.
#include "heed/ops/layer_norm.h"

#include <cmath>
#include <vector>

#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/kernels/layer_norm.h"
#include "heed/ops/map.h"

namespace heed {

namespace {

// x [..., *normalized_shape] must end in normalized_shape; weight and bias, when
// given, must be exactly normalized_shape and share x's dtype.
void check_layer_norm_args(const Tensor& x, const Shape& ns, const Tensor& weight, const Tensor& bias) {
  if (ns.empty())
    throw ValueError(msg("layer_norm: normalized_shape is empty (input ", x.shape(),
                         "); give the trailing dims to normalize over, e.g. [", x.dim() ? x.size(-1) : 1, "]"));
  check_floating("layer_norm", x);
  const size_t k = ns.size();
  bool fits = x.shape().size() >= k;
  for (size_t i = 0; fits && i < k; ++i) fits = x.shape()[x.shape().size() - k + i] == ns[i];
  if (!fits)
    throw ShapeError(msg("layer_norm: input is ", x.shape(), ", normalized_shape is ", ns,
                         "; the input's last ", k, " dims must equal normalized_shape"));
  for (const auto& [name, p] : {std::pair<const char*, const Tensor&>{"weight", weight}, {"bias", bias}}) {
    if (!p.defined()) continue;
    if (p.shape() != ns)
      throw ShapeError(msg("layer_norm: ", name, " is ", p.shape(), ", normalized_shape is ", ns,
                           "; they must be equal"));
    check_same_dtype("layer_norm", x, p);
  }
}

}  // namespace

// y = (x - mu) rstd w + b per row (the formulas at the top)
// saves: x, w, and each row's mu and rstd (2 M numbers)
Tensor layer_norm(const Tensor& x_in, const Shape& ns, const Tensor& weight, const Tensor& bias, double eps) {
  profiler::OpScope prof("layer_norm");
  check_layer_norm_args(x_in, ns, weight, bias);
  const int64_t D = numel(ns);
  const int64_t M = D == 0 ? 0 : x_in.numel() / D;  // rows
  const Tensor x = x_in.is_contiguous() ? x_in.detach() : copy_of(x_in);
  const Tensor w = weight.defined() ? (weight.is_contiguous() ? weight.detach() : copy_of(weight)) : Tensor();
  const Tensor b = bias.defined() ? (bias.is_contiguous() ? bias.detach() : copy_of(bias)) : Tensor();
  Tensor y = make_tensor(x.shape(), x.dtype(), /*zero_fill=*/false);
  std::vector<double> mean(M), rstd(M);
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::layer_norm_rows(x.data_ptr<T>(), w.defined() ? w.data_ptr<T>() : nullptr, b.defined() ? b.data_ptr<T>() : nullptr,
                 y.data_ptr<T>(), mean.data(), rstd.data(), M, D, eps);
  });
  if (!needs_grad({x_in, weight, bias})) return y;

  SavedTensor sx(x), sw = w.defined() ? SavedTensor(w) : SavedTensor();
  const bool has_w = w.defined(), need_x = x_in.requires_grad();
  const bool need_w = has_w && weight.requires_grad(), need_b = bias.defined() && bias.requires_grad();
  return record("layer_norm", y, {x_in, weight, bias},
                [sx, sw, has_w, need_x, need_w, need_b, ns, M, D, mean = std::move(mean),
                 rstd = std::move(rstd)](const Tensor& dy_in) -> TensorList {
    const Tensor xv = sx.get("layer_norm");
    const Tensor wv = has_w ? sw.get("layer_norm") : Tensor();
    const Tensor dy = dy_in.is_contiguous() ? dy_in : copy_of(dy_in);
    Tensor dx = need_x ? make_tensor(xv.shape(), xv.dtype(), /*zero_fill=*/false) : Tensor();
    Tensor dw = need_w ? make_tensor(ns, xv.dtype(), /*zero_fill=*/false) : Tensor();
    Tensor db = need_b ? make_tensor(ns, xv.dtype(), /*zero_fill=*/false) : Tensor();
    dispatch_floating(xv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::layer_norm_backward(xv.data_ptr<T>(), has_w ? wv.data_ptr<T>() : nullptr, dy.data_ptr<T>(),
                                   mean.data(), rstd.data(), need_x ? dx.data_ptr<T>() : nullptr,
                                   need_w ? dw.data_ptr<T>() : nullptr, need_b ? db.data_ptr<T>() : nullptr, M, D);
    });
    return {dx, dw, db};
  });
}

}  // namespace heed
