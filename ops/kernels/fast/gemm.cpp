// The fast matrix product: one-row products in plain loops, a few rows by a
// big matrix on panel_gemm (few_rows_gemm.h), big ones on panel_gemm too where
// OpenBLAS runs narrower vectors than the CPU has (wide_gemm.h), the rest
// through OpenBLAS (cblas_sgemm / cblas_dgemm), with heed splitting big ones
// between its OpenMP threads.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/fast/blas_core.h"
#include "heed/ops/kernels/fast/few_rows_gemm.h"
#include "heed/ops/kernels/fast/small_gemm.h"
#include "heed/ops/kernels/fast/wide_gemm.h"
#include "heed/ops/kernels/gemm.h"

namespace heed::kernels::fast {

namespace {

// The two BLAS entry points under one name, so that what calls them is written once.
void cblas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}
void cblas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* a, int64_t lda,
                const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

// Who threads a big product: heed, not BLAS.
//
// OpenBLAS threads one product by having its threads share packed panels of the
// operands, and they wait for each other at every panel: many small
// synchronizations per call, each a round trip between the cores. heed instead
// cuts C's rows into blocks and makes one single-threaded BLAS call per block
// (inside a parallel region the OpenMP build of OpenBLAS runs on the calling
// thread): the blocks have nothing in common but the operand they all read, so
// the whole product costs one fork and one join. bench/RESULTS.md has the
// measurements (note 3).
//
// The cut depends on the sizes and processor_count() (core/parallel.h), the
// processors this process may run on, never on the thread count. OpenBLAS picks
// its kernel by the shape of a call, so an element computed in a call of 40
// rows can differ in its last bits from the same element computed in a call of
// 200; and a call OpenBLAS threads itself blocks K differently from a call on
// one thread. So every call heed makes runs on one thread, and 1, 2 or 16
// threads make the same calls, deciding only which thread makes which: the
// bits do not depend on the thread count (tests/test_determinism.cpp;
// bench/RESULTS.md, "bitwise determinism", has the measurements). With as many
// threads as processors, each thread makes one call; with fewer, some make
// several, each packing its own copy of the operand the blocks share.
//
// Rows where there are enough of them: C and A are row-major, so a block of
// rows is a contiguous block of both (whole tiles of 16 rows, at least 32). A
// product of few rows is cut by columns instead (at least 64 each). Small
// products (under 2^19 multiply-adds) are not cut: there the fork costs as
// much as it saves. Except where op(B) is big: a product of a few rows uses
// each of B's N K elements a few times only, so its time is the time to read
// B from memory, not its multiply-adds (below 2^19 of them, with 2^17 or more
// elements of B, it has at most 3 rows). 2^17 elements (512 KiB of float, a
// weight matrix of a Linear(512, 256)) take tens of microseconds to read, and
// two cores read them in about half that (bench/RESULTS.md: W8, where every
// product of a generated token has one row).
constexpr int64_t kSplitWork = int64_t{1} << 19;
constexpr int64_t kSplitOperand = int64_t{1} << 17;
constexpr int64_t kMinBlockRows = 32;
constexpr int64_t kMinBlockCols = 64;

// How a product is cut: blocks of `rows` rows of C and `cols` columns (at least
// one of the two whole). `ways` is how many blocks to aim for.
struct Cut {
  int64_t rows, cols;
};

// n in at most `ways` blocks of at least `least`, each a whole number of 16
// (so a block's edge never cuts the tile BLAS's kernel computes at once).
int64_t block_of(int64_t n, int64_t least, int64_t ways) {
  const int64_t blocks = std::min(ways, n / least);
  if (blocks < 2) return n;
  return ((n + blocks - 1) / blocks + 15) / 16 * 16;
}

Cut cut_of(int64_t M, int64_t N, int64_t K, int64_t ways = processor_count()) {
  if (M * N * K < kSplitWork && N * K < kSplitOperand) return {M, N};
  const int64_t rows = block_of(M, kMinBlockRows, ways);
  if (rows < M) return {rows, N};
  return {M, block_of(N, kMinBlockCols, ways)};
}

// Whether heed's threads share out `blocks` blocks (not when the threads are
// busy already: then the blocks go one after another on this thread).
bool heed_threads(int64_t blocks) { return blocks > 1 && omp_get_max_threads() > 1 && !omp_in_parallel(); }

// op(A)'s rows [first, first + n) as BLAS sees them: rows of A as stored, or
// columns of A^T.
template <class T>
const T* rows_of(const T* a, bool ta, int64_t lda, int64_t first) {
  return ta ? a + first : a + first * lda;
}
// op(B)'s columns [first, first + n): columns of B as stored, or rows of B^T.
template <class T>
const T* cols_of(const T* b, bool tb, int64_t ldb, int64_t first) {
  return tb ? b + first * ldb : b + first;
}

// OpenBLAS's OpenMP build spreads a call made outside a parallel region over
// omp_get_max_threads() threads (openblas_set_num_threads(1) does not stop it:
// each call reads OpenMP's count again). So for the call's length this
// thread's count is 1. A product under 2^16 multiply-adds needs no guard: no
// OpenBLAS threads one (its threshold is 2^18), and at about 14 ns the guard
// would be a visible share of such a call.
class OneThreadForBlas {
 public:
  explicit OneThreadForBlas(int64_t work)
      : saved_(work < (int64_t{1} << 16) || omp_in_parallel() ? 0 : omp_get_max_threads()) {
    if (saved_ > 1) omp_set_num_threads(1);
  }
  ~OneThreadForBlas() {
    if (saved_ > 1) omp_set_num_threads(saved_);
  }
  OneThreadForBlas(const OneThreadForBlas&) = delete;
  OneThreadForBlas& operator=(const OneThreadForBlas&) = delete;

 private:
  int saved_;
};

// One BLAS call. With beta == 0 OpenBLAS zeroes C itself, one column at a time
// (as it sees a row-major C): for a [10, 50] output, fifty memset calls of 40
// bytes. A C whose rows are back to back is zeroed here in one call instead, and
// BLAS told to add. (Per call, so that each thread of a split product zeroes
// its own rows while the others do theirs.)
template <class T>
void blas_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc) {
  if (beta == T(0) && ldc == N) {
    std::memset(c, 0, static_cast<size_t>(M * N) * sizeof(T));
    beta = 1;
  }
  OneThreadForBlas one_thread(M * N * K);
  cblas_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Block i of product g cut by `cut` (blocks numbered along the rows, or along
// the columns), as one BLAS call.
template <class T>
void block_call(const GemmArgs<T>& g, const Cut& cut, int64_t i) {
  const int64_t along_cols = (g.N + cut.cols - 1) / cut.cols;
  const int64_t r = i / along_cols * cut.rows, col = i % along_cols * cut.cols;
  const int64_t m = std::min(cut.rows, g.M - r), n = std::min(cut.cols, g.N - col);
  blas_call(g.ta, g.tb, m, n, g.K, g.alpha, rows_of(g.a, g.ta, g.lda, r), g.lda, cols_of(g.b, g.tb, g.ldb, col),
            g.ldb, g.beta, g.c + r * g.ldc + col, g.ldc);
}
template <class T>
int64_t block_count(const GemmArgs<T>& g, const Cut& cut) {
  return (g.M + cut.rows - 1) / cut.rows * ((g.N + cut.cols - 1) / cut.cols);
}

// Where a product goes. BLAS gets it unless it is empty (nothing to do), has
// K == 0 (A B is an empty sum, and BLAS would reject the leading dimensions),
// has a size beyond INT_MAX (BLAS counts with 32-bit ints, in Debian's OpenBLAS;
// the plain loops handle both), or is small enough for small_gemm to win, or
// has few enough rows for few_rows_gemm to, or runs faster on panel_gemm's
// tile than on OpenBLAS's narrow kernels (wide_gemm).
enum class Route { kNothing, kPlainLoops, kSmallGemm, kFewRows, kWide, kBlas };
template <class T>
Route route_of(const GemmArgs<T>& g) {
  if (g.M == 0 || g.N == 0) return Route::kNothing;
  if (g.K == 0 || std::max({g.M, g.N, g.K, g.lda, g.ldb, g.ldc}) > INT_MAX) return Route::kPlainLoops;
  if (small_gemm_wins(g.M, g.N, g.K, g.tb, g.ldb)) return Route::kSmallGemm;
  if (few_rows_gemm_wins(g.ta, g.tb, g.M, g.N, g.K, g.alpha)) return Route::kFewRows;
  if (wide_gemm_wins(g.M, g.N, g.K, g.alpha)) return Route::kWide;
  return Route::kBlas;
}

// A few rows times a big matrix (few_rows_gemm.h), its columns in blocks that
// the threads share out when the product is big enough to cut: each block
// packs what it needs (if anything) in its own scratch, and writes only its own
// columns of C. (Not the rows: every block would then read all of B, which is
// most of the memory.) The scratch is allocated here, before the blocks'
// parallel region, and left unset: each block writes its own before reading it.
//
// Its bits do not depend on the cut (few_rows_gemm.h), so unlike cut_of() the
// cut follows the threads that will run the blocks: on one thread, one block.
void few_rows_product(const GemmArgs<float>& g) {
  const int ways = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t cols = g.M * g.N * g.K < kSplitWork ? g.N : block_of(g.N, kMinBlockCols, ways);
  const int64_t blocks = (g.N + cols - 1) / cols, per_block = few_rows_scratch(g.tb, g.M, g.K);
  const auto scratch = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(blocks * per_block));
  parallel_for(blocks, heed_threads(blocks), [&](int64_t i) {
    few_rows_gemm(g.ta, g.tb, g.M, i * cols, std::min(g.N, (i + 1) * cols), g.K, g.alpha, g.a, g.lda, g.b, g.ldb,
                  g.beta, g.c, g.ldc, scratch.get() + i * per_block);
  });
}

// One product, for every size, cut by `cut`: its blocks shared out between the
// threads, or one after another on this thread.
template <class T>
void product(const GemmArgs<T>& g, const Cut& cut) {
  const auto [ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc] = g;
  switch (route_of(g)) {
    case Route::kNothing:
      return;
    case Route::kPlainLoops:
      reference::gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case Route::kSmallGemm:
      small_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case Route::kFewRows:
      if constexpr (std::is_same_v<T, float>) {
        few_rows_product(g);
        return;
      }
      break;  // (few_rows_gemm_wins() is false for double: BLAS)
    case Route::kWide:
      if constexpr (std::is_same_v<T, float>) {
        wide_gemm(ta, tb, M, N, K, a, lda, b, ldb, beta, c, ldc);
        return;
      }
      break;  // (and so is wide_gemm_wins())
    case Route::kBlas:
      break;
  }
  warn_once_if_blas_core_is_behind();
  const int64_t blocks = block_count(g, cut);
  // each block writes only its own block of C (and zeroes only that)
  parallel_for(blocks, heed_threads(blocks), [&](int64_t i) { block_call(g, cut, i); });
}

template <class T>
void product(const GemmArgs<T>& g) {
  product(g, cut_of(g.M, g.N, g.K));
}

// Two products side by side. Cut by rows, one product makes every thread pack
// its own copy of the whole of B; two independent products, each cut for half
// of the processors, pack less twice and share no memory they write, and both
// cost one fork and one join. (Measured: bench/RESULTS.md, note 6.) The cut is
// fixed as for one product (the same whatever the thread count, though not the
// same as each product's own cut).
template <class T>
void pair(const GemmArgs<T>& first, const GemmArgs<T>& second) {
  // Two products for few_rows_gemm, side by side, each whole on one thread:
  // its bits do not depend on the cut.
  if (route_of(first) == Route::kFewRows && route_of(second) == Route::kFewRows) {
    // each product writes only its own C
    parallel_for(2, heed_threads(2), [&](int64_t i) { product(i == 0 ? first : second); });
    return;
  }
  // Other products BLAS does not get go to product() whole.
  if (route_of(first) != Route::kBlas || route_of(second) != Route::kBlas) {
    product(first);
    product(second);
    return;
  }
  if (first.M * first.N * first.K < kSplitWork || second.M * second.N * second.K < kSplitWork) {
    product(first);  // too small to share: one after the other
    product(second);
    return;
  }
  warn_once_if_blas_core_is_behind();
  // The processors in two groups, one per product.
  const int64_t ways = processor_count();
  const Cut cut1 = cut_of(first.M, first.N, first.K, (ways + 1) / 2);
  const Cut cut2 = cut_of(second.M, second.N, second.K, std::max<int64_t>(1, ways / 2));
  const int64_t blocks1 = block_count(first, cut1), blocks = blocks1 + block_count(second, cut2);
  // each block writes only its own block of its own C
  parallel_for(blocks, heed_threads(blocks), [&](int64_t i) {
    if (i < blocks1) block_call(first, cut1, i);
    else block_call(second, cut2, i - blocks1);
  });
}

// One product of a batch entry (gemm.h: entry_gemm): whole when the entries are
// shared out, else cut like any product.
template <class T>
void entry_product(const GemmArgs<T>& g, bool shared_out) {
  product(g, shared_out ? Cut{g.M, g.N} : cut_of(g.M, g.N, g.K));
}

// Two ways to use the threads on a batch: share out the entries, each product
// whole on one thread (one fork and join for the batch), or go entry by entry
// and let product() cut each one between the threads. Products too small to cut
// are always shared out; big ones only when the entries divide evenly between
// the processors or are many (then the uneven part is at most a quarter of a
// processor's work). The choice follows processor_count(), not the thread
// count, and a product is whole in the one way and cut in the other: so the
// calls, and the bits, do not depend on the thread count.
template <class T>
void batch(const GemmArgs<T>& g, int64_t count, const int64_t* a_offsets, const int64_t* b_offsets) {
  const int64_t ways = processor_count();
  const bool even = count % ways == 0 || count >= 4 * ways;
  const Cut cut = cut_of(g.M, g.N, g.K);
  const bool shared_out = count > 1 && count * g.M * g.N * g.K >= kParallelGrain && (even || block_count(g, cut) == 1);
  // entry e writes only its own block of C
  parallel_for(count, shared_out, [&](int64_t e) {
    entry_product(GemmArgs<T>{g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.a + a_offsets[e], g.lda, g.b + b_offsets[e],
                              g.ldb, g.beta, g.c + e * g.M * g.N, g.ldc},
                  shared_out);
  });
}

}  // namespace

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  product(GemmArgs<T>{ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc});
}
template <class T>
void entry_gemm(bool shared_out, bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  entry_product(GemmArgs<T>{ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc}, shared_out);
}
template <class T>
void gemm_pair(const GemmArgs<T>& first, const GemmArgs<T>& second) {
  pair(first, second);
}
template <class T>
void gemm_batch(const GemmArgs<T>& g, int64_t count, const int64_t* a_offsets, const int64_t* b_offsets) {
  batch(g, count, a_offsets, b_offsets);
}

std::string gemm_library() {
  return std::string(openblas_get_config()) + " (kernel: " + openblas_get_corename() + ")";
}
int gemm_threads() { return omp_get_max_threads(); }

HEED_GEMM_KERNELS_FOR(float)
HEED_GEMM_KERNELS_FOR(double)
template void entry_gemm(bool, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                         int64_t, float, float*, int64_t);
template void entry_gemm(bool, bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                         int64_t, double, double*, int64_t);

}  // namespace heed::kernels::fast
