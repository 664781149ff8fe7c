// The two loops behind every elementwise op: map one tensor, or map two
// tensors broadcast together, into a fresh contiguous result. Kernels pass a
// generic lambda, so one definition serves float and double:
//
//   Tensor y = unary_map("exp", x, [](auto v) { return std::exp(v); });
//   Tensor z = binary_map("mul", a, b, [](auto p, auto q) { return p * q; });
#pragma once

#include <string_view>

#include "heed/core/copy.h"
#include "heed/core/iterate.h"
#include "heed/core/tensor.h"

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
    const T* in = x.data_ptr<T>();
    T* out = y.data_ptr<T>();
    if (x.is_contiguous()) {  // the common case: one flat, vectorizable loop
      parallel_for(x.numel(), x.numel() >= kParallelGrain,
                   [&](int64_t i) { out[i] = static_cast<T>(f(in[i])); });
    } else {
      for_each_offset<2>(x.shape(), {&x.strides(), &y.strides()},
                         [&](int64_t i, int64_t o) { out[o] = static_cast<T>(f(in[i])); });
    }
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

// True when every element of t is the same memory cell: one element, or one
// expanded with stride 0 along every dim of size > 1 (and not empty).
bool is_one_value(const Tensor& t);

// True when t is contiguous and shaped like `to` except for a last dim of 1
// (and `to`'s last dim is not empty): [..., N, 1] against [..., N, M].
bool is_row_column(const Tensor& t, const Shape& to);

template <class F>
Tensor binary_map(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  check_floating(op, a);
  check_same_dtype(op, a, b);
  Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor y = make_tensor(shape, a.dtype(), /*zero_fill=*/false);
  dispatch_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data_ptr<T>();
    const T* pb = b.data_ptr<T>();
    T* out = y.data_ptr<T>();
    const int64_t n = y.numel();
    if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
      parallel_for(n, n >= kParallelGrain, [&](int64_t i) { out[i] = static_cast<T>(f(pa[i], pb[i])); });
    } else if (is_one_value(a) && b.shape() == shape && b.is_contiguous()) {
      // One side a single number, or one number expanded with stride 0 (the
      // gradient mean() sends back): a flat loop with it held in a register.
      const T sa = pa[0];
      parallel_for(n, n >= kParallelGrain, [&](int64_t i) { out[i] = static_cast<T>(f(sa, pb[i])); });
    } else if (is_one_value(b) && a.shape() == shape && a.is_contiguous()) {
      const T sb = pb[0];
      parallel_for(n, n >= kParallelGrain, [&](int64_t i) { out[i] = static_cast<T>(f(pa[i], sb)); });
    } else if (is_row_column(a, shape) && b.shape() == shape && b.is_contiguous()) {
      // a is [..., N, 1] against b's [..., N, M]: one value per row, held while
      // the row runs (a prediction against a row of targets, a row's max in softmax).
      const int64_t m = shape.back(), rows = n / m;
      parallel_for(rows, n >= kParallelGrain, [&](int64_t r) {
        const T sa = pa[r];
        for (int64_t j = 0; j < m; ++j) out[r * m + j] = static_cast<T>(f(sa, pb[r * m + j]));
      });
    } else if (is_row_column(b, shape) && a.shape() == shape && a.is_contiguous()) {
      const int64_t m = shape.back(), rows = n / m;
      parallel_for(rows, n >= kParallelGrain, [&](int64_t r) {
        const T sb = pb[r];
        for (int64_t j = 0; j < m; ++j) out[r * m + j] = static_cast<T>(f(pa[r * m + j], sb));
      });
    } else {
      Strides sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
      for_each_offset<3>(shape, {&sa, &sb, &y.strides()}, [&](int64_t i, int64_t j, int64_t o) {
        out[o] = static_cast<T>(f(pa[i], pb[j]));
      });
    }
  });
  return y;
}

}  // namespace heed
