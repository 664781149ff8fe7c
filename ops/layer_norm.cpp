// Layer normalization as one fused op: a forward that keeps each row's mean and
// 1/std, and a backward that uses them, instead of a graph of ~8 elementwise ops
// that would each save a full-size tensor.
#include "heed/ops/layer_norm.h"

#include <cmath>
#include <vector>

#include "heed/autograd/node.h"
#include "heed/core/iterate.h"
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

// Each row r of D elements (x seen as [M, D], D = numel(normalized_shape)):
//   mu = mean(x),  rstd = 1 / sqrt(mean((x - mu)^2) + eps),  xhat = (x - mu) rstd
//   y = xhat * w + b
// Backward, with g = dy * w (dy when there is no weight):
//   dx = rstd (g - mean(g) - xhat mean(g xhat))
//   dw = sum over rows of dy xhat,   db = sum over rows of dy
// saves: x, w, and each row's mu and rstd (2 M numbers)
//
// Where dx comes from: xhat_i depends on every x_j of its row through mu and rstd,
//   d xhat_i / d x_j = rstd (delta_ij - 1/D - xhat_i xhat_j / D),
// and summing g_i times that over i gives the line above.
Tensor layer_norm(const Tensor& x_in, const Shape& ns, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_layer_norm_args(x_in, ns, weight, bias);
  const int64_t D = numel(ns);
  const int64_t M = D == 0 ? 0 : x_in.numel() / D;  // rows
  Tensor x = x_in.detach().contiguous();
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = make_tensor(x.shape(), x.dtype(), /*zero_fill=*/false);
  std::vector<double> mean(M), rstd(M);

  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
    T* yp = y.data_ptr<T>();
    // Row r writes only y's row r, mean[r] and rstd[r]: no two threads collide.
    parallel_for(M, M * D >= kParallelGrain, [&](int64_t r) {
      const T* xr = xp + r * D;
      T* yr = yp + r * D;
      // Two passes, in double: E[x^2] - E[x]^2 would cancel catastrophically when
      // the mean is large next to the spread.
      double mu = 0;
      for (int64_t j = 0; j < D; ++j) mu += xr[j];
      mu /= D;
      double var = 0;
      for (int64_t j = 0; j < D; ++j) var += (xr[j] - mu) * (xr[j] - mu);
      var /= D;  // biased, as PyTorch normalizes
      const double rs = 1 / std::sqrt(var + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (int64_t j = 0; j < D; ++j) {
        double v = (xr[j] - mu) * rs;
        if (wp) v *= wp[j];
        if (bp) v += bp[j];
        yr[j] = static_cast<T>(v);
      }
    });
  });

  if (!needs_grad({x_in, weight, bias})) return y;
  SavedTensor sx(x), sw = w.defined() ? SavedTensor(w) : SavedTensor();
  const bool has_w = w.defined();
  const bool need_x = x_in.requires_grad();
  const bool need_w = has_w && weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  return record("layer_norm", y, {x_in, weight, bias},
                [sx, sw, has_w, need_x, need_w, need_b, ns, M, D, mean = std::move(mean),
                 rstd = std::move(rstd)](const Tensor& dy_in) -> TensorList {
    Tensor xv = sx.get("layer_norm");
    Tensor wv = has_w ? sw.get("layer_norm") : Tensor();
    Tensor dy = dy_in.contiguous();
    Tensor dx = need_x ? make_tensor(xv.shape(), xv.dtype(), /*zero_fill=*/false) : Tensor();
    Tensor dw = need_w ? make_tensor(ns, xv.dtype(), /*zero_fill=*/false) : Tensor();
    Tensor db = need_b ? make_tensor(ns, xv.dtype(), /*zero_fill=*/false) : Tensor();
    dispatch_floating(xv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* xp = xv.data_ptr<T>();
      const T* wp = has_w ? wv.data_ptr<T>() : nullptr;
      const T* gp = dy.data_ptr<T>();
      if (need_x) {
        T* dxp = dx.data_ptr<T>();
        // Row r writes only dx's row r.
        parallel_for(M, M * D >= kParallelGrain, [&](int64_t r) {
          const T* xr = xp + r * D;
          const T* gr = gp + r * D;
          const double mu = mean[r], rs = rstd[r];
          // The two row means the formula needs: mean(g) and mean(g xhat).
          double g_mean = 0, gx_mean = 0;
          for (int64_t j = 0; j < D; ++j) {
            double g = wp ? gr[j] * static_cast<double>(wp[j]) : gr[j];
            g_mean += g;
            gx_mean += g * (xr[j] - mu) * rs;
          }
          g_mean /= D;
          gx_mean /= D;
          T* dxr = dxp + r * D;
          for (int64_t j = 0; j < D; ++j) {
            double g = wp ? gr[j] * static_cast<double>(wp[j]) : gr[j];
            double xhat = (xr[j] - mu) * rs;
            dxr[j] = static_cast<T>(rs * (g - g_mean - xhat * gx_mean));
          }
        });
      }
      if (need_w || need_b) {
        // dw and db sum over rows, so rows cannot run in parallel (they would race
        // on the same D sums). Serially over rows, the inner loop is contiguous.
        std::vector<double> sw_acc(D, 0.0), sb_acc(D, 0.0);
        for (int64_t r = 0; r < M; ++r) {
          const T* xr = xp + r * D;
          const T* gr = gp + r * D;
          for (int64_t j = 0; j < D; ++j) {
            sw_acc[j] += gr[j] * (xr[j] - mean[r]) * rstd[r];
            sb_acc[j] += gr[j];
          }
        }
        for (int64_t j = 0; j < D; ++j) {
          if (need_w) dw.data_ptr<T>()[j] = static_cast<T>(sw_acc[j]);
          if (need_b) db.data_ptr<T>()[j] = static_cast<T>(sb_acc[j]);
        }
      }
    });
    return {dx, dw, db};
  });
}

}  // namespace heed
