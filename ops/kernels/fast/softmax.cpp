// softmax and log_softmax, fast: the row kernels keep the max and the sums in
// vector lanes and use a vectorizable exp in float; rows are shared between the
// threads, and rows along an outer dim are walked in tiles. The math is the
// reference's (reference/softmax.cpp); tests/kernels/test_softmax.cpp checks
// the two agree.
#include <algorithm>
#include <cmath>
#include <limits>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/fast/fast_math.h"
#include "heed/ops/kernels/fast/target_clones.h"
#include "heed/ops/kernels/softmax.h"

namespace heed::kernels::fast {

namespace {

// A tensor seen as [outer, size, inner] around the softmax's dim.
struct Rows {
  int64_t outer = 1, size = 1, inner = 1;
};

// e^x: fast_math.h's exp in float, which vectorizes; libm's in double
// (float64 is for gradchecks, where the last bit matters more than speed).
inline float exp_of(float x) { return exp_fast(x); }
inline double exp_of(double x) { return std::exp(x); }

// ---- contiguous rows (dim = -1, the common case) -------------------------------
//
// A loop that carries one running max or sum from element to element cannot be
// vectorized: each step waits for the one before, and the compiler may not
// reorder float additions. So the sums keep kLanes running values, element d
// going to lane d % kLanes, combined at the end: kLanes independent chains, the
// lanes of one vector register. The order is written here, so the result is the
// same on every run and on every CPU. (The max keeps a vector of them too.)
constexpr int64_t kLanes = 8;

// The max of x[0, D). It ignores NaN (m < NaN is false, so m stays), but a NaN
// still reaches the sum below and turns its whole row NaN, as in PyTorch. A row
// of all -inf gives -inf - (-inf) = NaN: also PyTorch's answer.
//
// A max is exact, so any grouping gives the same answer; the loop runs on a GCC
// vector of 64 bytes (16 floats, one AVX-512 register; two or four registers on
// the narrower CPUs) because GCC compiled the same loop over std::max as one
// scalar compare at a time.
template <class T>
struct Vector64 {
  typedef T type __attribute__((vector_size(64)));
};

template <class T>
[[gnu::always_inline]] inline T row_max(const T* x, int64_t D) {
  using V = typename Vector64<T>::type;
  constexpr int64_t kWidth = sizeof(V) / sizeof(T);
  V lane = V{} - std::numeric_limits<T>::infinity();
  int64_t d = 0;
  for (; d + kWidth <= D; d += kWidth) {
    V v;
    __builtin_memcpy(&v, x + d, sizeof(V));
    lane = lane < v ? v : lane;
  }
  T m = -std::numeric_limits<T>::infinity();
  for (; d < D; ++d) m = std::max(m, x[d]);
  for (int64_t j = 0; j < kWidth; ++j) m = std::max(m, lane[j]);
  return m;
}

// sum_d term(d) for d in [0, D), in double: D terms of up to 1 each.
template <class F>
[[gnu::always_inline]] inline double row_sum(int64_t D, F term) {
  double lane[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= D; d += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) lane[j] += term(d + j);
  for (; d < D; ++d) lane[0] += term(d);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// The rows go through the steps below a few at a time: each step for all of a
// chunk's rows before the next step. One row's steps form a chain (its max,
// then its exponentials, then their sum, then 1 / sum, then the scaling), each
// waiting for the one before, and a short row (a causal block's 32 keys) spends
// most of its time in those waits. Different rows' chains are independent, so
// a step taken for kChunk rows at once gives the core kChunk of them to overlap.
// Every number is computed as it would be row by row, in the same order.
constexpr int64_t kChunk = 8;

// y = softmax (or log_softmax when kLog) of rows [0, rows) (rows <= kChunk, ld
// apart). y may be x: every pass that writes y[d] has read x[d] first.
template <bool kLog, class T>
[[gnu::always_inline]] inline void softmax_chunk(const T* x, T* y, int64_t rows, int64_t D, int64_t ld) {
  T m[kChunk];
  double total[kChunk];
  for (int64_t r = 0; r < rows; ++r) m[r] = row_max(x + r * ld, D);
  // log_softmax = (x - m) - log(sum exp(x - m)); no exp is ever undone by a log,
  // so a tiny probability keeps its exact log (-2000 rather than log(0) = -inf).
  // Its exponentials go through y first unless y is x (then y must keep x for
  // the last pass): a loop of their own vectorizes, while inside row_sum's eight
  // lanes the exp stayed scalar code (bench/RESULTS.md has the timings). The
  // same terms either way.
  if (!kLog || y != x) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < D; ++d) y[r * ld + d] = exp_of(x[r * ld + d] - m[r]);
    for (int64_t r = 0; r < rows; ++r)
      total[r] = row_sum(D, [&](int64_t d) { return static_cast<double>(y[r * ld + d]); });
  } else {
    for (int64_t r = 0; r < rows; ++r)
      total[r] = row_sum(D, [&](int64_t d) { return static_cast<double>(exp_of(x[r * ld + d] - m[r])); });
  }
  for (int64_t r = 0; r < rows; ++r) {
    if constexpr (kLog) {
      const T log_total = static_cast<T>(std::log(total[r]));
      for (int64_t d = 0; d < D; ++d) y[r * ld + d] = (x[r * ld + d] - m[r]) - log_total;
    } else {
      const T inv = static_cast<T>(1.0 / total[r]);
      for (int64_t d = 0; d < D; ++d) y[r * ld + d] *= inv;
    }
  }
}

// dx for rows [0, rows) (rows <= kChunk), fused into two passes instead of a
// chain of ops (each of which would allocate a full-size temporary). dx may be dy.
//   softmax:      y_j = e^{x_j} / S,  dy_j/dx_k = y_j (delta_jk - y_k)
//                 => dx_k = sum_j dy_j y_j (delta_jk - y_k) = y_k (dy_k - sum_j dy_j y_j)
//   log_softmax:  y_j = x_j - log S,  dy_j/dx_k = delta_jk - softmax_k
//                 => dx_k = dy_k - softmax_k sum_j dy_j,  softmax_k = e^{y_k}
template <bool kLog, class T>
[[gnu::always_inline]] inline void softmax_backward_chunk(const T* y, const T* dy, T* dx, int64_t rows, int64_t D,
                                                          int64_t ld) {
  T c[kChunk];  // per row: sum_d dy*y (softmax) or sum_d dy (log_softmax)
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * ld;
    const T* gr = dy + r * ld;
    c[r] = static_cast<T>(row_sum(D, [&](int64_t d) { return static_cast<double>(kLog ? gr[d] : gr[d] * yr[d]); }));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * ld;
    const T* gr = dy + r * ld;
    T* xr = dx + r * ld;
    for (int64_t d = 0; d < D; ++d) {
      if constexpr (kLog) xr[d] = gr[d] - exp_of(yr[d]) * c[r];
      else xr[d] = yr[d] * (gr[d] - c[r]);
    }
  }
}

// ---- strided rows (dim is not the last) ------------------------------------------
//
// When inner > 1, rows (o, i) and (o, i + 1) are neighbours in memory, so a task
// takes a tile of up to kTile of them and steps through d for all at once: each
// step reads kTile adjacent elements (a cache line or two) instead of jumping
// `inner` elements for every single one. The loops over j (the tile's rows)
// vectorize as they are: each row has its own max and sum.
constexpr int64_t kTile = 32;

// The same math as the row kernels above, for one tile: x, y are the tile's first
// element; element d of row j is at [d * step + j], j < width.
template <bool kLog, class T>
void softmax_tile(const T* x, T* y, int64_t D, int64_t step, int64_t width) {
  T m[kTile];
  double total[kTile];
  for (int64_t j = 0; j < width; ++j) {
    m[j] = -std::numeric_limits<T>::infinity();
    total[j] = 0;
  }
  for (int64_t d = 0; d < D; ++d)
    for (int64_t j = 0; j < width; ++j) m[j] = std::max(m[j], x[d * step + j]);
  if constexpr (kLog) {
    for (int64_t d = 0; d < D; ++d)
      for (int64_t j = 0; j < width; ++j) total[j] += exp_of(x[d * step + j] - m[j]);
    T log_total[kTile];
    for (int64_t j = 0; j < width; ++j) log_total[j] = static_cast<T>(std::log(total[j]));
    for (int64_t d = 0; d < D; ++d)
      for (int64_t j = 0; j < width; ++j) y[d * step + j] = (x[d * step + j] - m[j]) - log_total[j];
  } else {
    for (int64_t d = 0; d < D; ++d)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t k = d * step + j;
        y[k] = exp_of(x[k] - m[j]);
        total[j] += y[k];
      }
    T inv[kTile];
    for (int64_t j = 0; j < width; ++j) inv[j] = static_cast<T>(1.0 / total[j]);
    for (int64_t d = 0; d < D; ++d)
      for (int64_t j = 0; j < width; ++j) y[d * step + j] *= inv[j];
  }
}

template <bool kLog, class T>
void softmax_backward_tile(const T* y, const T* dy, T* dx, int64_t D, int64_t step, int64_t width) {
  double dot[kTile] = {};
  for (int64_t d = 0; d < D; ++d)
    for (int64_t j = 0; j < width; ++j) {
      const int64_t k = d * step + j;
      dot[j] += kLog ? dy[k] : dy[k] * y[k];
    }
  T c[kTile];
  for (int64_t j = 0; j < width; ++j) c[j] = static_cast<T>(dot[j]);
  for (int64_t d = 0; d < D; ++d)
    for (int64_t j = 0; j < width; ++j) {
      const int64_t k = d * step + j;
      if constexpr (kLog) dx[k] = dy[k] - exp_of(y[k]) * c[j];
      else dx[k] = y[k] * (dy[k] - c[j]);
    }
}

// Calls f(base, width) for every tile: the tile's rows start at base + j (j < width),
// and element d of row j is at base + j + d * inner. Tiles cover disjoint elements,
// so they run on any thread without colliding.
template <class F>
void for_each_tile(const Rows& rows, F f) {
  const int64_t tiles_per_outer = (rows.inner + kTile - 1) / kTile;
  const int64_t tiles = rows.outer * tiles_per_outer;
  parallel_for(tiles, rows.outer * rows.size * rows.inner >= kParallelGrain, [&](int64_t t) {
    const int64_t o = t / tiles_per_outer, i0 = (t % tiles_per_outer) * kTile;
    f(o * rows.size * rows.inner + i0, std::min(kTile, rows.inner - i0));
  });
}

// Contiguous rows go to the compiled row loops in blocks of rows (a task per
// block, so that a thread's share of rows costs one call); the rest by tiles.
// Blocks and tiles cover disjoint rows, so they run on any thread.
template <class F>
void for_each_row_block(const Rows& rows, F f) {
  constexpr int64_t kBlockElements = 16384;
  const int64_t per_block = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(rows.size, 1));
  const int64_t blocks = (rows.outer + per_block - 1) / per_block;
  parallel_for(blocks, rows.outer * rows.size >= kParallelGrain, [&](int64_t b) {
    const int64_t r0 = b * per_block;
    f(r0 * rows.size, std::min(per_block, rows.outer - r0));
  });
}

// The loops over rows (of D contiguous elements, ld apart), which the entry
// points below compile for three CPUs.
template <class T>
[[gnu::always_inline]] inline void forward_rows(const T* x, T* y, int64_t rows, int64_t D, int64_t ld, bool log) {
  for (int64_t r = 0; r < rows; r += kChunk) {
    const int64_t n = std::min(kChunk, rows - r);
    if (log) softmax_chunk<true>(x + r * ld, y + r * ld, n, D, ld);
    else softmax_chunk<false>(x + r * ld, y + r * ld, n, D, ld);
  }
}
template <class T>
[[gnu::always_inline]] inline void backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t D, int64_t ld,
                                                 bool log) {
  for (int64_t r = 0; r < rows; r += kChunk) {
    const int64_t n = std::min(kChunk, rows - r);
    if (log) softmax_backward_chunk<true>(y + r * ld, dy + r * ld, dx + r * ld, n, D, ld);
    else softmax_backward_chunk<false>(y + r * ld, dy + r * ld, dx + r * ld, n, D, ld);
  }
}

}  // namespace

// The row loops, compiled for AVX-512, AVX2 and baseline x86-64 (GCC's
// target_clones, of external functions only, hence outside the anonymous
// namespace; always_inline above puts a copy of the row kernels in each, and
// -ffp-contract=off makes all three compute the same numbers). The loader picks
// the one the CPU runs.
namespace detail {
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void rows_forward(const float* x, float* y, int64_t rows, int64_t D, int64_t ld, bool log) {
  forward_rows(x, y, rows, D, ld, log);
}
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void rows_forward(const double* x, double* y, int64_t rows, int64_t D, int64_t ld, bool log) {
  forward_rows(x, y, rows, D, ld, log);
}
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void rows_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t D, int64_t ld, bool log) {
  backward_rows(y, dy, dx, rows, D, ld, log);
}
HEED_TARGET_CLONES("avx512f", "avx2", "default")
void rows_backward(const double* y, const double* dy, double* dx, int64_t rows, int64_t D, int64_t ld, bool log) {
  backward_rows(y, dy, dx, rows, D, ld, log);
}
}  // namespace detail

namespace {

template <bool kLog, class T>
void forward_all(const T* x, T* y, const Rows& rows) {
  const int64_t D = rows.size, I = rows.inner;
  if (I == 1)
    return for_each_row_block(
        rows, [&](int64_t base, int64_t n) { detail::rows_forward(x + base, y + base, n, D, D, kLog); });
  for_each_tile(rows, [&](int64_t base, int64_t width) { softmax_tile<kLog>(x + base, y + base, D, I, width); });
}

template <bool kLog, class T>
void backward_all(const T* y, const T* dy, T* dx, const Rows& rows) {
  const int64_t D = rows.size, I = rows.inner;
  if (I == 1)
    return for_each_row_block(
        rows, [&](int64_t base, int64_t n) { detail::rows_backward(y + base, dy + base, dx + base, n, D, D, kLog); });
  for_each_tile(rows, [&](int64_t base, int64_t width) {
    softmax_backward_tile<kLog>(y + base, dy + base, dx + base, D, I, width);
  });
}

}  // namespace

template <class T>
void softmax(const T* x, T* y, int64_t O, int64_t D, int64_t I, bool log) {
  const Rows rows{O, D, I};
  if (log) forward_all<true>(x, y, rows);
  else forward_all<false>(x, y, rows);
}

template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t O, int64_t D, int64_t I, bool log) {
  const Rows rows{O, D, I};
  if (log) backward_all<true>(y, dy, dx, rows);
  else backward_all<false>(y, dy, dx, rows);
}

template <class T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t D, int64_t ld, bool log) {
  detail::rows_forward(x, y, rows, D, ld, log);
}

template <class T>
void softmax_backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t D, int64_t ld, bool log) {
  detail::rows_backward(y, dy, dx, rows, D, ld, log);
}

HEED_SOFTMAX_KERNELS_FOR(float)
HEED_SOFTMAX_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
