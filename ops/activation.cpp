// Activation functions.
#include "heed/ops/activation.h"

#include <cmath>
#include <numbers>

#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/kernels/activation.h"
#include "heed/ops/map.h"

namespace heed {

namespace {
// 1/sqrt(2): std::numbers has sqrt2 but no inverse of it.
template <class T> constexpr T kInvSqrt2 = T(0.70710678118654752440);

}  // namespace

// y = tanh(x)
// dx = dy * (1 - y^2)
// saves: y's data (not the Tensor handle that owns this node: no cycles)
Tensor tanh(const Tensor& x) {
  profiler::OpScope prof("tanh");
  Tensor y = unary_map("tanh", x, [](auto v) { return std::tanh(v); });
  if (!needs_grad({x})) return y;
  SavedTensor sy(y);
  return record("tanh", y, {x}, [sy](const Tensor& dy) -> TensorList {
    Tensor yv = sy.get("tanh");
    return {binary_map("tanh_backward", dy, yv, [](auto g, auto t) { return g * (1 - t * t); })};
  });
}

// y = 1 / (1 + e^-x)
// dx = dy * y * (1 - y)
// saves: y
Tensor sigmoid(const Tensor& x) {
  profiler::OpScope prof("sigmoid");
  // For very negative x, e^-x overflows to inf and 1/(1+inf) = 0, which is the
  // right limit, so the one formula is stable on both sides.
  Tensor y = unary_map("sigmoid", x, [](auto v) { return 1 / (1 + std::exp(-v)); });
  if (!needs_grad({x})) return y;
  SavedTensor sy(y);
  return record("sigmoid", y, {x}, [sy](const Tensor& dy) -> TensorList {
    Tensor yv = sy.get("sigmoid");
    return {binary_map("sigmoid_backward", dy, yv, [](auto g, auto s) { return g * s * (1 - s); })};
  });
}

// y = max(x, 0)
// dx = dy where x > 0, else 0   (y > 0 exactly when x > 0, so y serves)
// saves: y
Tensor relu(const Tensor& x) {
  profiler::OpScope prof("relu");
  Tensor y = unary_map("relu", x, [](auto v) { return v > 0 ? v : decltype(v)(0); });
  if (!needs_grad({x})) return y;
  SavedTensor sy(y);
  return record("relu", y, {x}, [sy](const Tensor& dy) -> TensorList {
    Tensor yv = sy.get("relu");
    return {binary_map("relu_backward", dy, yv, [](auto g, auto r) { return r > 0 ? g : decltype(g)(0); })};
  });
}

// y = x * Phi(x),  Phi(x) = (1 + erf(x / sqrt 2)) / 2
// dx = dy * (Phi(x) + x * phi(x)),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
// saves: x
Tensor gelu(const Tensor& x) {
  profiler::OpScope prof("gelu");
  Tensor y = unary_map("gelu", x, [](auto v) {
    return v * (1 + std::erf(v * kInvSqrt2<decltype(v)>)) / 2;
  });
  if (!needs_grad({x})) return y;
  SavedTensor sx(x);
  return record("gelu", y, {x}, [sx](const Tensor& dy) -> TensorList {
    Tensor xv = sx.get("gelu");
    return {binary_map("gelu_backward", dy, xv, [](auto g, auto v) {
      using T = decltype(v);
      T cdf = (1 + std::erf(v * kInvSqrt2<T>)) / 2;
      T pdf = std::exp(-v * v / 2) * std::numbers::inv_sqrtpi_v<T> * kInvSqrt2<T>;
      return g * (cdf + v * pdf);
    })};
  });
}

// y = x (1 + tanh(u)) / 2 = x s,  u = sqrt(2/pi) (x + c x^3),  c = 0.044715,  s = sigmoid(2u)
// dx = dy * (s + 2 x s (1 - s) du/dx),  du/dx = sqrt(2/pi) (1 + 3 c x^2)
//   ((1 + tanh u) / 2 = sigmoid(2u), and its derivative in u is 2 s (1 - s))
// saves: x (the backward computes s again: kernels/activation.h says why)
// The loops are kernels (ops/kernels/activation.h): in a Transformer's MLP this
// runs on every hidden unit, and libm's tanh would cost more than the products.
Tensor gelu_tanh(const Tensor& x) {
  profiler::OpScope prof("gelu_tanh");
  check_floating("gelu_tanh", x);
  const Tensor xc = x.is_contiguous() ? x.detach() : copy_of(x);  // the kernels read flat memory
  Tensor y = make_tensor(x.shape(), x.dtype(), /*zero_fill=*/false);
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::gelu_tanh(xc.data_ptr<T>(), y.data_ptr<T>(), x.numel());
  });
  if (!needs_grad({x})) return y;
  SavedTensor sx(xc);
  return record("gelu_tanh", y, {x}, [sx](const Tensor& dy) -> TensorList {
    const Tensor xv = sx.get("gelu_tanh"), dyc = dy.is_contiguous() ? dy : copy_of(dy);
    Tensor dx = make_tensor(xv.shape(), xv.dtype(), /*zero_fill=*/false);
    dispatch_floating(xv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::gelu_tanh_backward(xv.data_ptr<T>(), dyc.data_ptr<T>(), dx.data_ptr<T>(), xv.numel());
    });
    return {dx};
  });
}

}  // namespace heed
