// The elementwise kernels as plain loops (ops/kernels/map.h says what they compute).
#pragma once

#include <array>
#include <cstdint>

#include "heed/core/shape.h"

namespace heed::kernels::reference {

// Calls body(offsets) for every index of `shape`, in row-major order: offsets[k]
// is where that element lives in operand k. The index is an odometer, last dim
// fastest; each step moves every offset by its operand's stride, and a dim that
// rolls over takes back the strides it added.
template <size_t N, class Body>
void walk(const Shape& shape, const std::array<const Strides*, N>& strides, Body body) {
  const int64_t n = numel(shape), nd = static_cast<int64_t>(shape.size());
  std::array<int64_t, N> offsets{};
  Shape index(shape.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    body(offsets);
    for (int64_t d = nd - 1; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k) offsets[k] += (*strides[k])[d];
      if (++index[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= (*strides[k])[d] * shape[d];
      index[d] = 0;
    }
  }
}

template <class T, class F>
void map1(const Shape& shape, const T* a, const Strides& sa, T* out, const Strides& so, F f) {
  walk<2>(shape, {&sa, &so}, [&](const std::array<int64_t, 2>& o) { out[o[1]] = static_cast<T>(f(a[o[0]])); });
}

template <class T, class F>
void map2(const Shape& shape, const T* a, const Strides& sa, const T* b, const Strides& sb, T* out,
          const Strides& so, F f) {
  walk<3>(shape, {&sa, &sb, &so},
          [&](const std::array<int64_t, 3>& o) { out[o[2]] = static_cast<T>(f(a[o[0]], b[o[1]])); });
}

}  // namespace heed::kernels::reference
