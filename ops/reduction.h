// The view every reduction works on, and the one loop over it.
//
// Every reduction is the same problem in disguise. View the input as [O, R, I]
// (outer, reduced, inner): the reduced dims in the middle, the kept dims split
// around them. The output is [O, I], and output element (o, i) combines the R
// elements x[o, :, i]. Two ways to get that view:
//   - x is contiguous and the reduced dims sit next to each other: it already is
//     that view (sum over dim 1 of [B, T, C] is O = B, R = T, I = C), no copy;
//   - otherwise permute the reduced dims to the end and copy: [O, R, 1].
// One loop (run_reduction) then walks the view, and each op only says how to
// start, add to, merge and finish its accumulator (ops/reduce.cpp). The sums of
// floats take the summing kernels instead (ops/kernels/reduce.h) where the view
// has their shape.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "heed/core/parallel.h"
#include "heed/core/tensor.h"

namespace heed {

// The dims to reduce, wrapped into [0, ndim) and sorted. A repeated dim is a
// ValueError. A 0-d tensor accepts dim 0 or -1 (as in PyTorch) but has no dim to
// walk, so the list comes back empty: its one element is reduced over nothing.
std::vector<int64_t> reduce_dims(const char* op, const Tensor& x, const std::vector<int64_t>& dims);
std::vector<int64_t> all_dims(const Tensor& x);
// x's shape with the reduced dims set to 1 (keepdim) or removed.
Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim);

// The input seen as [outer, reduced, inner]: element (o, r, i) is
// data[(o * reduced + r) * inner + i], and data is contiguous. The output, [outer,
// inner] row-major, lists the kept dims in their original order, which is exactly
// the layout of a contiguous tensor of reduced_shape(...).
struct ReduceView {
  Tensor data;
  int64_t outer = 1, reduced = 1, inner = 1;
};

// dims: sorted, from reduce_dims. No autograd is recorded: x is detached first.
// any_order: the op does not care in which order the reduced elements come (a
// sum), so the reduced dims may be walked in memory order, and a transposed or
// permuted input is read where it lies instead of being copied. (Not for argmax
// and argmin, whose index counts in the tensor's own order, nor max and min,
// whose ties keep the first index.)
ReduceView plan_reduction(const Tensor& x, const std::vector<int64_t>& dims, bool any_order = false);

// ---- the one reduction kernel -------------------------------------------------------

// Inner columns reduced together by one task when inner > 1. Walking r in the outer
// loop and a block of columns in the inner one reads each row of the block
// contiguously; walking one column at a time would jump `inner` elements per step.
constexpr int64_t kColumnBlock = 64;

// A full reduction has a single output, so splitting outputs across threads gives
// no parallelism. Instead [0, n) is cut into chunks of at least kParallelGrain
// elements, each chunk is reduced on its own thread into partial[c], and the
// partials are merged in chunk order. The chunk count depends only on n, not on
// the number of threads, so the result is the same on any machine, and "first
// index on ties" still holds (an earlier chunk holds earlier indices).
template <class T, class Op>
typename Op::Acc reduce_flat(const T* in, int64_t n, const Op& op) {
  using Acc = typename Op::Acc;
  const int64_t chunks = std::clamp<int64_t>(n / kParallelGrain, 1, 256);
  if (chunks == 1) {  // the same loop, without the vector of partials (small inputs are the common case)
    Acc a = op.start();
    for (int64_t r = 0; r < n; ++r) op.add(a, in[r], r);
    return a;
  }
  std::vector<Acc> partial(chunks);
  // each c writes only partial[c]
  parallel_for(chunks, chunks > 1, [&](int64_t c) {
    const int64_t begin = c * n / chunks, end = (c + 1) * n / chunks;
    Acc a = op.start();
    for (int64_t r = begin; r < end; ++r) op.add(a, in[r], r);
    partial[c] = a;
  });
  Acc total = partial[0];
  for (int64_t c = 1; c < chunks; ++c) op.merge(total, partial[c]);
  return total;
}

// Runs `op` over the [O, R, I] view p: output element k = o * I + i gets
// op.finish(acc, k) after op.add(acc, x[o, r, i], r) for r = 0..R-1.
//
// An Op has: using Acc = ...; Acc start(); add(Acc&, T value, int64_t r);
// merge(Acc& a, const Acc& b) (b covers later r than a); finish(const Acc&, int64_t k).
template <class T, class Op>
void run_reduction(const ReduceView& p, const Op& op) {
  using Acc = typename Op::Acc;
  const T* in = p.data.template data_ptr<T>();
  const int64_t O = p.outer, R = p.reduced, I = p.inner;
  const bool parallel = O * R * I >= kParallelGrain;

  if (O * I == 1) {  // one output (a full reduction): split the run itself
    op.finish(reduce_flat(in, R, op), 0);
    return;
  }
  if (I == 1) {  // the common case: output o reduces the contiguous run in[o*R, (o+1)*R)
    // each o writes only output o
    parallel_for(O, parallel, [&](int64_t o) {
      Acc a = op.start();
      for (int64_t r = 0; r < R; ++r) op.add(a, in[o * R + r], r);
      op.finish(a, o);
    });
    return;
  }
  // I > 1: a task is (o, a block of up to kColumnBlock columns); each task writes
  // only its own outputs, so tasks run on any thread without colliding.
  const int64_t blocks = (I + kColumnBlock - 1) / kColumnBlock;
  parallel_for(O * blocks, parallel, [&](int64_t t) {
    const int64_t o = t / blocks, i0 = (t % blocks) * kColumnBlock;
    const int64_t width = std::min(kColumnBlock, I - i0);
    Acc acc[kColumnBlock];
    for (int64_t j = 0; j < width; ++j) acc[j] = op.start();
    for (int64_t r = 0; r < R; ++r) {
      const T* row = in + (o * R + r) * I + i0;
      for (int64_t j = 0; j < width; ++j) op.add(acc[j], row[j], r);
    }
    for (int64_t j = 0; j < width; ++j) op.finish(acc[j], o * I + i0 + j);
  });
}

// ---- the ops' accumulators ------------------------------------------------------------

// sum / divisor. Floats add up in double: a float32 running sum of a million
// terms keeps only ~7 digits, so small terms added late would vanish. int64 sums
// stay int64 (exact). divisor is 1 for sum, n for mean, n - correction for var.
template <class T>
struct SumOp {
  // Integers add up modulo 2^64, as PyTorch's int64 sum wraps around. The sum runs
  // in uint64, where wrapping is defined; in int64 an overflow is undefined
  // behaviour (the compiler may assume it never happens).
  using Acc = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;
  T* out;
  double divisor = 1;
  Acc start() const { return 0; }
  void add(Acc& a, T v, int64_t) const { a += static_cast<Acc>(v); }
  void merge(Acc& a, const Acc& b) const { a += b; }
  void finish(const Acc& a, int64_t k) const {
    if constexpr (std::is_integral_v<T>) out[k] = static_cast<T>(a);  // modulo 2^64 (C++20)
    else out[k] = static_cast<T>(a / divisor);
  }
};

// The largest (kMax) or smallest element and its index. Ties keep the first index
// (a later equal value is not "better"). NaN beats every number, so a NaN anywhere
// makes the result NaN with the first NaN's index, as in PyTorch (v != v is the
// NaN test that also compiles for int64, where it is always false).
template <class T, bool kMax>
struct ExtremeOp {
  struct Acc {
    T value{};
    int64_t index = -1;  // -1: nothing seen yet
  };
  T* values = nullptr;          // either output may be absent
  int64_t* indices = nullptr;
  static bool better(T v, T best) {
    if (v != v) return best == best;
    return kMax ? v > best : v < best;
  }
  Acc start() const { return {}; }
  void add(Acc& a, T v, int64_t r) const {
    if (a.index < 0 || better(v, a.value)) a = {v, r};
  }
  void merge(Acc& a, const Acc& b) const {
    if (b.index >= 0 && (a.index < 0 || better(b.value, a.value))) a = b;
  }
  void finish(const Acc& a, int64_t k) const {
    if (values) values[k] = a.value;
    if (indices) indices[k] = a.index;
  }
};

}  // namespace heed
