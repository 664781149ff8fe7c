// The fast matrix product: small products in plain loops, the rest through
// OpenBLAS (cblas_sgemm / cblas_dgemm), with heed splitting big ones between
// its OpenMP threads.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/fast/small_gemm.h"
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
// splits C's rows into one share per thread and makes one single-threaded BLAS
// call per share (inside a parallel region the OpenMP build of OpenBLAS runs on
// the calling thread): the shares have nothing in common but the operand they
// all read, so the whole product costs one fork and one join.
//
// Rows, not columns: C and A are row-major, so a share of rows is a contiguous
// block of both. Small products (under 2^19 multiply-adds, or under 32 rows a
// share) stay one call: there the fork costs as much as it saves.
// bench/RESULTS.md has the measurements (note 3).
constexpr int64_t kSplitWork = int64_t{1} << 19;
constexpr int64_t kShareRows = 32;

int64_t row_shares(int64_t M, int64_t N, int64_t K) {
  if (M * N * K < kSplitWork || omp_in_parallel()) return 1;  // small, or the threads are busy already
  return std::min<int64_t>(omp_get_max_threads(), M / kShareRows);
}

// The rows of each share when M rows are cut into `shares`: whole blocks of 16
// rows, so a thread's edge never cuts the block BLAS's kernel computes at once.
int64_t rows_per_share(int64_t M, int64_t shares) {
  const int64_t per = (M + shares - 1) / shares;
  return (per + 15) / 16 * 16;
}

// op(A)'s rows [first, first + n) as BLAS sees them: rows of A as stored, or
// columns of A^T.
template <class T>
const T* rows_of(const T* a, bool ta, int64_t lda, int64_t first) {
  return ta ? a + first : a + first * lda;
}

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
  cblas_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// One product on this thread (or, outside a parallel region, its rows split
// between the threads), for every size.
template <class T>
void product(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
             int64_t ldb, T beta, T* c, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0 || std::max({M, N, K, lda, ldb, ldc}) > INT_MAX) {
    // K == 0: A B is an empty sum and BLAS would reject the leading dimensions;
    // beyond INT_MAX: BLAS counts with 32-bit ints (Debian's OpenBLAS). The plain
    // loops handle both.
    reference::gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (small_gemm_wins(M, N, K, tb, ldb)) {
    small_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int64_t shares = row_shares(M, N, K);
  if (shares < 2) {
    blas_call(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int64_t rows = rows_per_share(M, shares);
  // each share writes only its own rows of C (and zeroes only those)
  parallel_for((M + rows - 1) / rows, true, [&](int64_t s) {
    const int64_t first = s * rows, n = std::min(rows, M - first);
    blas_call(ta, tb, n, N, K, alpha, rows_of(a, ta, lda, first), lda, b, ldb, beta, c + first * ldc, ldc);
  });
}

template <class T>
void product(const GemmArgs<T>& g) {
  product(g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
}

// Two products side by side. Split by rows, one product makes every thread pack
// its own copy of the whole of B for its share; two independent products on
// separate halves of the threads pack nothing twice and share no memory they
// write, and both cost one fork and one join. (Measured: bench/RESULTS.md, note 6.)
template <class T>
void pair(const GemmArgs<T>& first, const GemmArgs<T>& second) {
  const int64_t threads = omp_get_max_threads();
  if (threads < 2 || row_shares(first.M, first.N, first.K) < 2 || row_shares(second.M, second.N, second.K) < 2) {
    product(first);
    product(second);
    return;
  }
  // Each product's rows in one block per thread it gets. Inside the parallel
  // region each block is a single call on the thread that runs it.
  struct Block {
    const GemmArgs<T>* g;
    int64_t first, n;
  };
  std::vector<Block> blocks;
  auto cut = [&](const GemmArgs<T>& g, int64_t shares) {
    const int64_t rows = rows_per_share(g.M, shares);
    for (int64_t r = 0; r < g.M; r += rows) blocks.push_back({&g, r, std::min(rows, g.M - r)});
  };
  cut(first, (threads + 1) / 2);
  cut(second, threads / 2);
  // each block writes only its own rows of its own C
  parallel_for(static_cast<int64_t>(blocks.size()), true, [&](int64_t i) {
    const Block& k = blocks[i];
    const GemmArgs<T>& g = *k.g;
    product(g.ta, g.tb, k.n, g.N, g.K, g.alpha, rows_of(g.a, g.ta, g.lda, k.first), g.lda, g.b, g.ldb, g.beta,
            g.c + k.first * g.ldc, g.ldc);
  });
}

// Two ways to use the threads on a batch: share out the entries, each product
// whole on one thread (one fork and join for the batch), or go entry by entry
// and let product() split each one's rows. Products too small to split are
// always shared out; big ones only when the entries divide evenly between the
// threads or are many (then the uneven part is at most a quarter of a thread's work).
template <class T>
void batch(const GemmArgs<T>& g, int64_t count, const int64_t* a_offsets, const int64_t* b_offsets) {
  const int64_t threads = omp_get_max_threads();
  const bool even = count % threads == 0 || count >= 4 * threads;
  const bool shared_out =
      count > 1 && count * g.M * g.N * g.K >= kParallelGrain && (even || row_shares(g.M, g.N, g.K) < 2);
  // entry e writes only its own block of C
  parallel_for(count, shared_out, [&](int64_t e) {
    product(g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.a + a_offsets[e], g.lda, g.b + b_offsets[e], g.ldb, g.beta,
            g.c + e * g.M * g.N, g.ldc);
  });
}

}  // namespace

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  product(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
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

}  // namespace heed::kernels::fast
