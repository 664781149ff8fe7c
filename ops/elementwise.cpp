// Arithmetic, elementwise, with broadcasting.
#include "heed/ops/elementwise.h"

#include <cmath>

#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/map.h"
#include "heed/ops/reduce.h"

namespace heed {

// z = a + b
// da = sum_to(dz, a.shape),  db = sum_to(dz, b.shape)
// saves: nothing (only the shapes, which the node keeps anyway)
Tensor add(const Tensor& a, const Tensor& b) {
  profiler::OpScope prof("add");
  Tensor z = binary_map("add", a, b, [](auto p, auto q) { return p + q; });
  if (!needs_grad({a, b})) return z;
  Shape sa = a.shape(), sb = b.shape();
  return record("add", z, {a, b}, [sa, sb](const Tensor& dz) -> TensorList {
    return {sum_to(dz, sa), sum_to(dz, sb)};
  });
}

// z = a - b
// da = sum_to(dz),  db = -sum_to(dz)
Tensor sub(const Tensor& a, const Tensor& b) {
  profiler::OpScope prof("sub");
  Tensor z = binary_map("sub", a, b, [](auto p, auto q) { return p - q; });
  if (!needs_grad({a, b})) return z;
  Shape sa = a.shape(), sb = b.shape();
  return record("sub", z, {a, b}, [sa, sb](const Tensor& dz) -> TensorList {
    return {sum_to(dz, sa), neg(sum_to(dz, sb))};
  });
}

// z = a * b
// da = sum_to(dz * b),  db = sum_to(dz * a)
// saves: a and b (each only if the other needs a gradient)
Tensor mul(const Tensor& a, const Tensor& b) {
  profiler::OpScope prof("mul");
  Tensor z = binary_map("mul", a, b, [](auto p, auto q) { return p * q; });
  if (!needs_grad({a, b})) return z;
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  SavedTensor sa = need_b ? SavedTensor(a) : SavedTensor();
  SavedTensor sb = need_a ? SavedTensor(b) : SavedTensor();
  Shape shape_a = a.shape(), shape_b = b.shape();
  return record("mul", z, {a, b}, [=](const Tensor& dz) -> TensorList {
    Tensor da = need_a ? sum_to(dz * sb.get("mul"), shape_a) : Tensor();
    Tensor db = need_b ? sum_to(dz * sa.get("mul"), shape_b) : Tensor();
    return {da, db};
  });
}

// z = a / b
// da = sum_to(dz / b),  db = sum_to(-dz * a / b^2) = sum_to(-dz * z / b)
// saves: b, and z when b needs a gradient
Tensor div(const Tensor& a, const Tensor& b) {
  profiler::OpScope prof("div");
  Tensor z = binary_map("div", a, b, [](auto p, auto q) { return p / q; });
  if (!needs_grad({a, b})) return z;
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  SavedTensor sb(b);
  SavedTensor sz = need_b ? SavedTensor(z) : SavedTensor();
  Shape shape_a = a.shape(), shape_b = b.shape();
  return record("div", z, {a, b}, [=](const Tensor& dz) -> TensorList {
    Tensor bv = sb.get("div");
    Tensor da = need_a ? sum_to(dz / bv, shape_a) : Tensor();
    Tensor db = need_b ? sum_to(neg(dz * sz.get("div") / bv), shape_b) : Tensor();
    return {da, db};
  });
}

// z = a + s;  da = dz
Tensor add(const Tensor& a, double s) {
  profiler::OpScope prof("add");
  Tensor z = unary_map("add", a, [s](auto v) { return v + s; });
  if (!needs_grad({a})) return z;
  return record("add_scalar", z, {a}, [](const Tensor& dz) -> TensorList { return {dz}; });
}

// z = a * s;  da = dz * s
Tensor mul(const Tensor& a, double s) {
  profiler::OpScope prof("mul");
  Tensor z = unary_map("mul", a, [s](auto v) { return v * s; });
  if (!needs_grad({a})) return z;
  return record("mul_scalar", z, {a}, [s](const Tensor& dz) -> TensorList { return {dz * s}; });
}

// z = a / s;  da = dz / s   (a true division: a * (1/s) can be one ulp off)
Tensor div(const Tensor& a, double s) {
  profiler::OpScope prof("div");
  Tensor z = unary_map("div", a, [s](auto v) { return v / static_cast<decltype(v)>(s); });
  if (!needs_grad({a})) return z;
  return record("div_scalar", z, {a}, [s](const Tensor& dz) -> TensorList { return {div(dz, s)}; });
}

// z = s - a;  da = -dz
Tensor rsub(const Tensor& a, double s) {
  profiler::OpScope prof("rsub");
  Tensor z = unary_map("rsub", a, [s](auto v) { return s - v; });
  if (!needs_grad({a})) return z;
  return record("rsub_scalar", z, {a}, [](const Tensor& dz) -> TensorList { return {neg(dz)}; });
}

// z = s / a;  da = -dz * s / a^2 = -dz * z / a
// saves: a, z
Tensor rdiv(const Tensor& a, double s) {
  profiler::OpScope prof("rdiv");
  Tensor z = unary_map("rdiv", a, [s](auto v) { return s / v; });
  if (!needs_grad({a})) return z;
  SavedTensor sa(a), sz(z);
  return record("rdiv_scalar", z, {a}, [sa, sz](const Tensor& dz) -> TensorList {
    return {neg(dz * sz.get("rdiv") / sa.get("rdiv"))};
  });
}

// y = -x;  dx = -dy
Tensor neg(const Tensor& x) {
  profiler::OpScope prof("neg");
  Tensor y = unary_map("neg", x, [](auto v) { return -v; });
  if (!needs_grad({x})) return y;
  return record("neg", y, {x}, [](const Tensor& dy) -> TensorList { return {neg(dy)}; });
}

// y = x^e;  dx = dy * e * x^(e-1)
// saves: x
// Squares (every squared-error loss) skip std::pow: x * x is the same correctly
// rounded number and several times faster, and the backward's x^1 is just x.
Tensor pow(const Tensor& x, double e) {
  profiler::OpScope prof("pow");
  Tensor y = e == 2 ? unary_map("pow", x, [](auto v) { return v * v; })
                    : unary_map("pow", x, [e](auto v) { return std::pow(v, static_cast<decltype(v)>(e)); });
  if (!needs_grad({x})) return y;
  SavedTensor sx(x);
  return record("pow", y, {x}, [sx, e](const Tensor& dy) -> TensorList {
    // e == 0 would give 0 * x^-1, which is NaN at x = 0; the derivative is simply 0.
    if (e == 0) return {Tensor::zeros_like(dy)};
    if (e == 2) return {binary_map("pow_backward", dy, sx.get("pow"), [](auto g, auto v) { return g * (v * 2); })};
    return {binary_map("pow_backward", dy, sx.get("pow"), [e](auto g, auto v) {
      using T = decltype(v);
      return g * (std::pow(v, static_cast<T>(e - 1)) * static_cast<T>(e));
    })};
  });
}

// y = e^x;  dx = dy * y
// saves: y
Tensor exp(const Tensor& x) {
  profiler::OpScope prof("exp");
  Tensor y = unary_map("exp", x, [](auto v) { return std::exp(v); });
  if (!needs_grad({x})) return y;
  SavedTensor sy(y);
  return record("exp", y, {x}, [sy](const Tensor& dy) -> TensorList { return {dy * sy.get("exp")}; });
}

// y = ln x;  dx = dy / x
// saves: x
Tensor log(const Tensor& x) {
  profiler::OpScope prof("log");
  Tensor y = unary_map("log", x, [](auto v) { return std::log(v); });
  if (!needs_grad({x})) return y;
  SavedTensor sx(x);
  return record("log", y, {x}, [sx](const Tensor& dy) -> TensorList { return {dy / sx.get("log")}; });
}

// y = sqrt(x);  dx = dy / (2 y)
// saves: y
Tensor sqrt(const Tensor& x) {
  profiler::OpScope prof("sqrt");
  Tensor y = unary_map("sqrt", x, [](auto v) { return std::sqrt(v); });
  if (!needs_grad({x})) return y;
  SavedTensor sy(y);
  return record("sqrt", y, {x}, [sy](const Tensor& dy) -> TensorList {
    return {dy / (sy.get("sqrt") * 2.0)};
  });
}

// y = |x|;  dx = dy * sign(x)   (sign(0) = 0: a subgradient, and PyTorch's choice)
// saves: x
Tensor abs(const Tensor& x) {
  profiler::OpScope prof("abs");
  Tensor y = unary_map("abs", x, [](auto v) { return std::abs(v); });
  if (!needs_grad({x})) return y;
  SavedTensor sx(x);
  return record("abs", y, {x}, [sx](const Tensor& dy) -> TensorList {
    Tensor sign = unary_map("abs", sx.get("abs"), [](auto v) { return decltype(v)((v > 0) - (v < 0)); });
    return {dy * sign};
  });
}

// y = min(max(x, lo), hi);  dx = dy where lo <= x <= hi, else 0
// saves: x
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  profiler::OpScope prof("clamp");
  if (lo && hi && *lo > *hi)
    throw ValueError(msg("clamp: min (", *lo, ") is greater than max (", *hi, ")"));
  double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  Tensor y = unary_map("clamp", x, [l, h](auto v) {
    using T = decltype(v);
    return std::min(std::max(v, T(l)), T(h));
  });
  if (!needs_grad({x})) return y;
  SavedTensor sx(x);
  return record("clamp", y, {x}, [sx, l, h](const Tensor& dy) -> TensorList {
    Tensor pass = unary_map("clamp", sx.get("clamp"), [l, h](auto v) {
      return decltype(v)(v >= l && v <= h);
    });
    return {dy * pass};
  });
}

}  // namespace heed
