// The elementwise kernels, fast: the same results as reference/map.h, with the
// layouts elementwise ops meet most often walked as one flat loop, which the
// compiler vectorizes, and big ones shared between the threads.
#pragma once

#include <cstdint>

#include "heed/core/iterate.h"
#include "heed/core/parallel.h"
#include "heed/core/shape.h"

namespace heed::kernels::fast {

// True when strides s walk `shape` as one contiguous run from element 0
// (a size-1 dim may have any stride: no step is taken along it).
inline bool dense(const Shape& shape, const Strides& s) {
  int64_t expected = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    if (s[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

// True when every element is one memory cell: stride 0 along every dim of size > 1.
inline bool one_value(const Shape& shape, const Strides& s) {
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1 && s[d] != 0) return false;
  return true;
}

// True when s reads one value per row of the last dim, rows back to back:
// [..., N, 1] against [..., N, M] (a prediction against a row of targets, a
// row's max in softmax).
inline bool one_per_row(const Shape& shape, const Strides& s) {
  if (shape.empty() || shape.back() == 0 || (shape.back() != 1 && s.back() != 0)) return false;
  return dense(Shape(shape.begin(), shape.end() - 1), Strides(s.begin(), s.end() - 1));
}

template <class T, class F>
void map1(const Shape& shape, const T* a, const Strides& sa, T* out, const Strides& so, F f) {
  const int64_t n = numel(shape);
  if (dense(shape, sa) && dense(shape, so)) {  // the common case: one flat loop
    parallel_for(n, n >= kParallelGrain, [&](int64_t i) { out[i] = static_cast<T>(f(a[i])); });
    return;
  }
  for_each_offset<2>(shape, {&sa, &so}, [&](int64_t i, int64_t o) { out[o] = static_cast<T>(f(a[i])); });
}

// The out of map2 is dense in every flat case below (binary_map makes it so).
template <class T, class F>
void map2(const Shape& shape, const T* a, const Strides& sa, const T* b, const Strides& sb, T* out,
          const Strides& so, F f) {
  const int64_t n = numel(shape);
  const bool flat_out = dense(shape, so), a_dense = dense(shape, sa), b_dense = dense(shape, sb);
  if (flat_out && a_dense && b_dense) {
    parallel_for(n, n >= kParallelGrain, [&](int64_t i) { out[i] = static_cast<T>(f(a[i], b[i])); });
  } else if (flat_out && b_dense && n > 0 && one_value(shape, sa)) {
    // One side a single number, or one number expanded with stride 0 (the
    // gradient mean() sends back): a flat loop with it held in a register.
    const T va = a[0];
    parallel_for(n, n >= kParallelGrain, [&](int64_t i) { out[i] = static_cast<T>(f(va, b[i])); });
  } else if (flat_out && a_dense && n > 0 && one_value(shape, sb)) {
    const T vb = b[0];
    parallel_for(n, n >= kParallelGrain, [&](int64_t i) { out[i] = static_cast<T>(f(a[i], vb)); });
  } else if (flat_out && b_dense && one_per_row(shape, sa)) {
    // One value of a per row, held while the row runs.
    const int64_t m = shape.back(), rows = n / m;
    parallel_for(rows, n >= kParallelGrain, [&](int64_t r) {
      const T va = a[r];
      for (int64_t j = 0; j < m; ++j) out[r * m + j] = static_cast<T>(f(va, b[r * m + j]));
    });
  } else if (flat_out && a_dense && one_per_row(shape, sb)) {
    const int64_t m = shape.back(), rows = n / m;
    parallel_for(rows, n >= kParallelGrain, [&](int64_t r) {
      const T vb = b[r];
      for (int64_t j = 0; j < m; ++j) out[r * m + j] = static_cast<T>(f(a[r * m + j], vb));
    });
  } else {
    for_each_offset<3>(shape, {&sa, &sb, &so},
                       [&](int64_t i, int64_t j, int64_t o) { out[o] = static_cast<T>(f(a[i], b[j])); });
  }
}

}  // namespace heed::kernels::fast
