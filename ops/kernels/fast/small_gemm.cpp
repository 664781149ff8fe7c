#include "heed/ops/kernels/fast/small_gemm.h"

#include <cstddef>
#include <vector>

#include "heed/ops/kernels/fast/target_clones.h"

namespace heed::kernels::fast {

namespace {

// x . y over k contiguous elements. A single running sum would be a chain the
// compiler may not split (float addition is not associative), so element p of
// each run of kLanes goes to running sum p % kLanes: independent chains, the
// lanes of a vector register. The fewer than kLanes left over make one short
// chain of their own, and everything is added up at the end. The order is
// written here rather than left to the vectorizer (`omp simd reduction` would
// let each compiled copy choose its own order, and the SSE2 and AVX2 copies
// would differ in the last bits), so every copy gives the same result. The
// leftovers go to one chain of their own rather than being spread over the
// lanes: on the short rows these products have, the spreading costs more than
// the additions.
constexpr int64_t kLanes = 8;

// The end of a dot product whose kLanes running sums are in `lane` after the
// runs of kLanes up to p: the leftovers x[p..k) y[p..k) as one short chain,
// the lanes added pairwise (lane j += lane j + width), then the two together.
template <class T>
[[gnu::always_inline]] inline T dot_finish(T* lane, const T* x, const T* y, int64_t p, int64_t k) {
  T rest = 0;
  for (; p < k; ++p) rest += x[p] * y[p];
  for (int64_t width = kLanes / 2; width > 0; width /= 2)
    for (int64_t j = 0; j < width; ++j) lane[j] += lane[j + width];
  return lane[0] + rest;
}

template <class T>
[[gnu::always_inline]] inline T dot(const T* x, const T* y, int64_t k) {
  T lane[kLanes] = {};
  int64_t p = 0;
  for (; p + kLanes <= k; p += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) lane[j] += x[p + j] * y[p + j];
  return dot_finish(lane, x, y, p, k);
}

// dot()'s 8 lanes as one GCC vector (a typedef: `using` would drop the attribute).
template <class T>
struct Lanes8 {
  typedef T type __attribute__((vector_size(kLanes * sizeof(T))));
};

// Four dot products of x, with y0 .. y3, each summed exactly as dot() sums it.
// One dot product is a single chain of additions into its lanes: on AVX2 the 8
// lanes are one register, and each addition waits for the one before it
// (about 4 cycles), while the core could start two a cycle. Four at once give
// it four independent chains, with the same additions in the same order.
template <class T>
[[gnu::always_inline]] inline void dot4(const T* x, const T* const* y, int64_t k, T* out) {
  using V = typename Lanes8<T>::type;  // lane j is dot()'s lane[j]
  V lane0 = {}, lane1 = {}, lane2 = {}, lane3 = {};
  int64_t p = 0;
  for (; p + kLanes <= k; p += kLanes) {
    V xv, y0, y1, y2, y3;
    __builtin_memcpy(&xv, x + p, sizeof(V));
    __builtin_memcpy(&y0, y[0] + p, sizeof(V));
    __builtin_memcpy(&y1, y[1] + p, sizeof(V));
    __builtin_memcpy(&y2, y[2] + p, sizeof(V));
    __builtin_memcpy(&y3, y[3] + p, sizeof(V));
    lane0 += xv * y0, lane1 += xv * y1, lane2 += xv * y2, lane3 += xv * y3;
  }
  const V lanes[4] = {lane0, lane1, lane2, lane3};
  for (int q = 0; q < 4; ++q) {
    T lane[kLanes];
    __builtin_memcpy(lane, &lanes[q], sizeof(V));
    out[q] = dot_finish(lane, x, y[q], p, k);
  }
}

// The loops, for either dtype. always_inline puts a copy inside each target
// clone of the entry points below, so each copy is compiled for its CPU.
template <class T>
[[gnu::always_inline]] inline void small_gemm_loops(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                                    T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
                                                    T beta, T* c, int64_t ldc) {
  // op(A)'s row i, contiguous: read in place, or gathered once per row when A is
  // stored transposed (k elements per row, next to the n * k of the row's work).
  // A single column of B stored with stride 1 is contiguous whichever flag it has:
  // read it as the dot form's row 0.
  const bool dot_form = trans_b || (n == 1 && ldb == 1);
  // (on the stack up to 512 elements: these products are small, and a heap
  // allocation would cost as much as the gathering)
  constexpr int64_t kOnStack = 512;
  T stack_row[kOnStack];
  std::vector<T> heap_row(trans_a && dot_form && k > kOnStack ? static_cast<std::size_t>(k) : 0);
  T* gathered = k > kOnStack ? heap_row.data() : stack_row;
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (beta == T(0)) {
      for (int64_t j = 0; j < n; ++j) ci[j] = T(0);
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < n; ++j) ci[j] *= beta;
    }
    if (!dot_form) {
      // Row i of C gathers a_ip times row p of B, for every p: each step is an
      // axpy along a contiguous row. The row goes in blocks of 32 elements, each
      // block held in registers while p runs, so that it is not stored and
      // loaded back between one p and the next (a store and a reload of the
      // same address cost more than the multiply-add). Each element still gets
      // a_ip b_pj added for p = 0, 1, ... in that order.
      auto a_ip = [&](int64_t p) { return alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]); };
      using V = typename Lanes8<T>::type;
      constexpr int64_t kBlock = 4 * kLanes;
      int64_t j0 = 0;
      for (; j0 + kBlock <= n; j0 += kBlock) {
        V c0, c1, c2, c3;
        __builtin_memcpy(&c0, ci + j0, sizeof(V));
        __builtin_memcpy(&c1, ci + j0 + 8, sizeof(V));
        __builtin_memcpy(&c2, ci + j0 + 16, sizeof(V));
        __builtin_memcpy(&c3, ci + j0 + 24, sizeof(V));
        for (int64_t p = 0; p < k; ++p) {
          const T aip = a_ip(p);
          const T* bp = b + p * ldb + j0;
          V b0, b1, b2, b3;
          __builtin_memcpy(&b0, bp, sizeof(V));
          __builtin_memcpy(&b1, bp + 8, sizeof(V));
          __builtin_memcpy(&b2, bp + 16, sizeof(V));
          __builtin_memcpy(&b3, bp + 24, sizeof(V));
          c0 += aip * b0, c1 += aip * b1, c2 += aip * b2, c3 += aip * b3;
        }
        __builtin_memcpy(ci + j0, &c0, sizeof(V));
        __builtin_memcpy(ci + j0 + 8, &c1, sizeof(V));
        __builtin_memcpy(ci + j0 + 16, &c2, sizeof(V));
        __builtin_memcpy(ci + j0 + 24, &c3, sizeof(V));
      }
      for (int64_t p = 0; j0 < n && p < k; ++p) {  // the last columns, fewer than a block
        const T aip = a_ip(p);
        const T* bp = b + p * ldb;
#pragma omp simd
        for (int64_t j = j0; j < n; ++j) ci[j] += aip * bp[j];
      }
    } else {
      // B is stored [N, K]: column j of op(B) is row j of b, contiguous, so c_ij is
      // a dot product of two contiguous rows.
      const T* ai = a + i * lda;
      if (trans_a) {
        for (int64_t p = 0; p < k; ++p) gathered[p] = a[p * lda + i];
        ai = gathered;
      }
      int64_t j = 0;
      if (n >= 4) {  // (tested once, so that a one-column product goes straight to dot(): it measured faster)
        for (; j + 4 <= n; j += 4) {
          const T* y[4] = {b + j * ldb, b + (j + 1) * ldb, b + (j + 2) * ldb, b + (j + 3) * ldb};
          T sums[4];
          dot4(ai, y, k, sums);
          for (int q = 0; q < 4; ++q) ci[j + q] += alpha * sums[q];
        }
      }
      for (; j < n; ++j) ci[j] += alpha * dot(ai, b + j * ldb, k);
    }
  }
}

}  // namespace

HEED_TARGET_CLONES("avx2", "default")
void small_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  small_gemm_loops(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

HEED_TARGET_CLONES("avx2", "default")
void small_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  small_gemm_loops(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace heed::kernels::fast
