// The two maps behind every elementwise op: one tensor, or two tensors
// broadcast together, into a fresh contiguous result. An op passes its formula
// as a generic lambda, so one definition serves float and double; the loops are
// the elementwise kernels (ops/kernels/map.h):
//
//   Tensor y = unary_map("exp", x, [](auto v) { return std::exp(v); });
//   Tensor z = binary_map("mul", a, b, [](auto p, auto q) { return p * q; });
#pragma once

#include <string_view>

#include "heed/core/copy.h"
#include "heed/core/tensor.h"
#include "heed/ops/kernels/map.h"

namespace heed {

// Throws a DTypeError naming op unless t has a floating dtype.
void check_floating(std::string_view op, const Tensor& t);
// Throws unless a and b have the same dtype (heed never promotes silently).
void check_same_dtype(std::string_view op, const Tensor& a, const Tensor& b);

template <class F>
Tensor unary_map(std::string_view op, const Tensor& x, F f) {
  check_floating(op, x);
  Tensor y = make_tensor(x.shape(), x.dtype(), /*zero_fill=*/false);
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::map1(x.shape(), x.data_ptr<T>(), x.strides(), y.data_ptr<T>(), y.strides(), f);
  });
  return y;
}

template <class F>
Tensor binary_map(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  check_floating(op, a);
  check_same_dtype(op, a, b);
  Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor y = make_tensor(shape, a.dtype(), /*zero_fill=*/false);
  dispatch_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::map2(shape, a.data_ptr<T>(), broadcast_strides(a, shape), b.data_ptr<T>(), broadcast_strides(b, shape),
                  y.data_ptr<T>(), y.strides(), f);
  });
  return y;
}

// A tensor seen as [outer, size, inner] around `dim`: outer is the product of the
// sizes before dim, inner of those after. The `size` elements along dim that
// share every other index (a softmax's row, the entries index_select picks from)
// are then x[o, :, i], inner apart. A 0-d shape is one row of one element.
struct AroundDim {
  int64_t outer = 1, size = 1, inner = 1;
};
AroundDim around_dim(const Shape& s, int64_t dim);

}  // namespace heed
