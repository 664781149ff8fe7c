// Walking strided tensors: the one loop every elementwise kernel is built on.
//
// for_each_offset(shape, {&strides_a, &strides_b, ...}, f) calls
// f(offset_a, offset_b, ...) once per element of `shape`, where offset_k is where
// that element lives in operand k (in elements, relative to the operand's own
// offset). A broadcast operand simply has stride 0 in the dims it repeats.
//
// Two things make it fast enough to be the only loop:
//  - dims that are laid out back to back in every operand are merged first, so a
//    contiguous tensor of any shape is walked as one flat run;
//  - the outer rows are split across OpenMP threads when there is enough work.
//    Each row writes only its own output elements, so threads never collide
//    (callers must not use it for reductions into a shared slot).
#pragma once

#include <array>
#include <cstdint>
#include <tuple>

#include "heed/core/parallel.h"
#include "heed/core/shape.h"

namespace heed {

// f(base[0] + i, base[1] + i, ...): offsets that move with the loop index i,
// which the compiler can vectorize (a runtime stride times i it cannot).
template <size_t N, class F>
inline void call_at(F& f, const std::array<int64_t, N>& base, int64_t i) {
  std::apply([&](auto... o) { f((o + i)...); }, base);
}

template <size_t N, class F>
void for_each_offset(const Shape& shape, const std::array<const Strides*, N>& strides, F&& f) {
  int64_t n = numel(shape);
  if (n == 0) return;

  // Merge dims: dim d can join d+1 when, for every operand, stepping once in d is
  // the same as stepping size[d+1] times in d+1. Size-1 dims are dropped outright.
  Shape sizes;
  std::array<Strides, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = st[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) st[k].back() = (*strides[k])[d];
    } else {
      sizes.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) st[k].push_back((*strides[k])[d]);
    }
  }
  if (sizes.empty()) {  // a single element
    sizes.push_back(1);
    for (size_t k = 0; k < N; ++k) st[k].push_back(0);
  }

  const int64_t ndim = static_cast<int64_t>(sizes.size());
  if (ndim == 1) {  // one flat run (every contiguous case): split it across threads directly
    bool unit = true;
    for (size_t k = 0; k < N; ++k) unit = unit && st[k][0] == 1;
    if (unit) {  // offset i in every operand: a loop the compiler vectorizes
      const std::array<int64_t, N> zero{};
      parallel_for(n, n >= kParallelGrain, [&](int64_t i) { call_at(f, zero, i); });
      return;
    }
    parallel_for(n, n >= kParallelGrain, [&](int64_t i) {
      std::array<int64_t, N> off;
      for (size_t k = 0; k < N; ++k) off[k] = i * st[k][0];
      std::apply(f, off);
    });
    return;
  }
  const int64_t inner = sizes.back();
  const int64_t rows = n / inner;
  std::array<int64_t, N> inner_step;
  bool unit_inner = true;  // the innermost dim is contiguous in every operand
  for (size_t k = 0; k < N; ++k) {
    inner_step[k] = st[k].back();
    unit_inner = unit_inner && inner_step[k] == 1;
  }

  // Each row r is independent: its start offsets come from decomposing r over the
  // outer dims, and it touches only its own elements.
  parallel_for(rows, n >= kParallelGrain, [&](int64_t r) {
    std::array<int64_t, N> off{};
    int64_t rem = r;
    for (int64_t d = ndim - 2; d >= 0; --d) {
      int64_t i = rem % sizes[d];
      rem /= sizes[d];
      for (size_t k = 0; k < N; ++k) off[k] += i * st[k][d];
    }
    if (unit_inner) {
      // Rows of slices, or of a broadcast along an outer dim: the offsets are
      // off + i, a plain indexed loop that the compiler vectorizes (a running
      // offset stepped by a runtime stride keeps it scalar).
      for (int64_t i = 0; i < inner; ++i) call_at(f, off, i);
      return;
    }
    for (int64_t i = 0; i < inner; ++i) {
      std::apply(f, off);
      for (size_t k = 0; k < N; ++k) off[k] += inner_step[k];
    }
  });
}

}  // namespace heed
