// gemm over strided matrices, through OpenBLAS's C interface (cblas_sgemm / cblas_dgemm).
// The layout rules are in ops/blas.h; this file applies them in one place.
#include "heed/ops/blas.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>
#include <optional>
#include <vector>

#include "heed/core/parallel.h"
#include "heed/ops/map.h"
#include "heed/ops/small_gemm.h"

namespace heed {

namespace {

// How BLAS can read an [R, C] matrix in place, if it can.
struct Layout {
  bool transposed;  // stored as the row-major transpose [C, R]
  int64_t ld;       // the leading dimension: the step from one stored row to the next
};

std::optional<Layout> layout_of(const Tensor& m) {
  const int64_t rows = m.size(-2), cols = m.size(-1);
  const int64_t s0 = m.strides()[m.dim() - 2], s1 = m.strides()[m.dim() - 1];
  // A size-1 dim is never stepped along, so its stride does not matter: each
  // test accepts size 1 in place of the stride it wants. BLAS requires ld >= 1
  // and ld >= the stored row length (rows must not overlap), which also rules
  // out expand()'s stride 0 along a dim of size > 1.
  const int64_t min_ld_plain = std::max<int64_t>(cols, 1), min_ld_trans = std::max<int64_t>(rows, 1);
  // Row-major: element (i, j) at i*ld + j.
  if ((s1 == 1 || cols == 1) && (rows == 1 || s0 >= min_ld_plain))
    return Layout{false, rows == 1 ? min_ld_plain : s0};
  // The transpose of a row-major [C, R] matrix: element (i, j) at j*ld + i.
  if ((s0 == 1 || rows == 1) && (cols == 1 || s1 >= min_ld_trans))
    return Layout{true, cols == 1 ? min_ld_trans : s1};
  return std::nullopt;
}

// m viewed with its two dims swapped, without autograd (gemm is a kernel, not an op).
Tensor transposed_view(const Tensor& m) {
  return make_view(m, {m.size(1), m.size(0)}, {m.strides()[1], m.strides()[0]}, m.offset());
}

// One operand as BLAS sees it. `memory` keeps a contiguous copy alive when one was needed.
struct Operand {
  Tensor memory;
  CBLAS_TRANSPOSE trans;
  int64_t ld;
};

Operand operand(const Tensor& m) {
  if (auto l = layout_of(m)) return {m, l->transposed ? CblasTrans : CblasNoTrans, l->ld};
  Tensor c = m.detach().clone();  // detach: a kernel's scratch copy is not part of the graph
  return {c, CblasNoTrans, std::max<int64_t>(c.size(1), 1)};
}

// BLAS counts with 32-bit ints (Debian's OpenBLAS): refuse what would overflow.
void check_int_range(int64_t v, const char* what) {
  if (v > INT_MAX)
    throw ValueError(msg("gemm: ", what, " is ", v, ", larger than BLAS's 32-bit int allows (",
                         INT_MAX, ")"));
}

void check_operands(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.dim() != 2 || b.dim() != 2 || out.dim() != 2)
    throw ShapeError(msg("gemm: a is ", a.shape(), ", b is ", b.shape(), ", out is ", out.shape(),
                         "; all three must be 2-D"));
  check_floating("gemm", a);
  check_same_dtype("gemm", a, b);
  check_same_dtype("gemm", a, out);
  if (a.size(1) != b.size(0))
    throw ShapeError(msg("gemm: a is ", a.shape(), ", b is ", b.shape(), "; a's last dim (",
                         a.size(1), ") must equal b's first (", b.size(0), ")"));
  if (out.size(0) != a.size(0) || out.size(1) != b.size(1))
    throw ShapeError(msg("gemm: a is ", a.shape(), ", b is ", b.shape(), ", so out must be [",
                         a.size(0), ", ", b.size(1), "], but it is ", out.shape()));
}

// out = beta * out, the whole of gemm when K == 0 (A B is an empty sum: zeros).
// beta == 0 writes zeros rather than multiplying, so NaN in out does not survive.
void scale_in_place(const Tensor& out, double beta) {
  dispatch_floating(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(const_cast<void*>(out.raw_data_ptr()));
    for_each_offset<1>(out.shape(), {&out.strides()},
                       [&](int64_t o) { p[o] = beta == 0 ? T(0) : static_cast<T>(beta * p[o]); });
  });
}

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
// both read, so the whole product costs one fork and one join. Measured on the
// 2-core machine (bench/RESULTS.md, note 3), this took W2's [2048, 256] x
// [256, 256] products from 202 to 258 GFLOP/s with OpenBLAS's AVX2 kernels and
// from 338 to 487 with its AVX-512 ones, and a 128^3 product from 132 to 332
// (AVX-512).
//
// Rows, not columns: C and A are row-major, so a share of rows is a contiguous
// block of both (columns measured slower). Below about 2^19 multiply-adds, or
// with fewer than 32 rows a share, it went both ways (a 64^3 product: faster
// split with the AVX2 kernels, slower with the AVX-512 ones), so those stay one
// call.
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

template <class T>
void blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc) {
  if (M == 0 || N == 0) return;
  const int64_t shares = row_shares(M, N, K);
  if (shares < 2) {
    cblas_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int64_t rows = rows_per_share(M, shares);
  parallel_for((M + rows - 1) / rows, true, [&](int64_t s) {
    const int64_t first = s * rows, n = std::min(rows, M - first);
    // Row `first` of op(A): row `first` of A as stored, or column `first` of A^T.
    const T* a_rows = ta ? a + first : a + first * lda;
    cblas_gemm(ta, tb, n, N, K, alpha, a_rows, lda, b, ldb, beta, c + first * ldc, ldc);
  });
}

}  // namespace

std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch) {
  const int64_t nb = static_cast<int64_t>(batch.size()), lead = nb - (t.dim() - 2);
  Strides step(nb, 0);
  for (int64_t d = lead; d < nb; ++d)
    if (t.shape()[d - lead] != 1) step[d] = t.strides()[d - lead];
  std::vector<int64_t> offsets(numel(batch));
  std::vector<int64_t> index(nb, 0);
  int64_t off = t.offset();
  for (int64_t& o : offsets) {  // an odometer over the batch index, last dim fastest
    o = off;
    for (int64_t d = nb - 1; d >= 0; --d) {
      off += step[d];
      if (++index[d] < batch[d]) break;
      off -= step[d] * batch[d];
      index[d] = 0;
    }
  }
  return offsets;
}

bool blas_can_read(const Tensor& t) { return t.dim() >= 2 && layout_of(t).has_value(); }

bool gemm_is_split(int64_t M, int64_t N, int64_t K) { return row_shares(M, N, K) > 1; }

void gemm(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta) {
  check_operands(a, b, out);
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  if (M == 0 || N == 0) return;  // nothing to write (and BLAS would reject ld = 0)

  // BLAS writes C row-major. An out stored transposed is handled by the identity
  // C^T = B^T A^T: computing into out^T (row-major) fills out. Any other layout
  // goes through a contiguous scratch matrix.
  std::optional<Layout> lc = layout_of(out);
  if (!lc) {
    Tensor scratch = beta == 0 ? make_tensor(out.shape(), out.dtype(), false) : out.detach().clone();
    gemm(a, b, scratch, alpha, beta);
    copy_elements(out, scratch);
    return;
  }
  if (lc->transposed) {
    gemm(transposed_view(b), transposed_view(a), transposed_view(out), alpha, beta);
    return;
  }
  if (K == 0) {
    scale_in_place(out, beta);
    return;
  }

  Operand pa = operand(a), pb = operand(b);
  check_int_range(std::max({M, N, K}), "a matrix dim");
  check_int_range(std::max({pa.ld, pb.ld, lc->ld}), "a leading dimension (row stride)");
  void* c = const_cast<void*>(out.raw_data_ptr());
  const bool ta = pa.trans == CblasTrans, tb = pb.trans == CblasTrans;
  // With beta == 0 OpenBLAS zeroes C itself, one column at a time (as it sees a
  // row-major C): for a [10, 50] output, fifty memset calls of 40 bytes. A C whose
  // rows are back to back is zeroed here in one call instead, and BLAS told to add.
  const bool small = small_gemm_wins(M, N, K, tb, pb.ld);
  if (!small && beta == 0 && lc->ld == N) {
    std::memset(c, 0, static_cast<size_t>(M * N) * element_size(out.dtype()));
    beta = 1;
  }
  dispatch_floating(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa_data = static_cast<const T*>(pa.memory.raw_data_ptr());
    const T* pb_data = static_cast<const T*>(pb.memory.raw_data_ptr());
    if (small)  // a vector's product: plain loops beat BLAS's packing (ops/small_gemm.h)
      small_gemm(ta, tb, M, N, K, static_cast<T>(alpha), pa_data, pa.ld, pb_data, pb.ld, static_cast<T>(beta),
                 static_cast<T*>(c), lc->ld);
    else
      blas_gemm(ta, tb, M, N, K, static_cast<T>(alpha), pa_data, pa.ld, pb_data, pb.ld, static_cast<T>(beta),
                static_cast<T*>(c), lc->ld);
  });
}

// Two products side by side. Split by rows, one product makes every thread pack
// its own copy of the whole B for its share; two independent products on
// separate threads (half the threads each) pack nothing twice and share no
// memory they write, and both cost one fork and one join. Timed on W6's
// backward (two 1024^3 products, 2 threads, a small program alternating the two
// ways): 3.5-4.5% faster than the two products split one after the other with
// OpenBLAS's AVX-512 kernels, 0.5-1% with its AVX2 ones. heed's whole W6 step
// (forward, sum, backward): 1.5-2.5% faster with AVX-512, the same with AVX2.
void gemm_pair(const Tensor& a1, const Tensor& b1, const Tensor& out1, const Tensor& a2, const Tensor& b2,
               const Tensor& out2) {
  check_operands(a1, b1, out1);
  check_operands(a2, b2, out2);
  const int64_t threads = omp_get_max_threads();
  if (threads < 2 || !gemm_is_split(a1.size(0), b1.size(1), a1.size(1)) ||
      !gemm_is_split(a2.size(0), b2.size(1), a2.size(1))) {
    gemm(a1, b1, out1);
    gemm(a2, b2, out2);
    return;
  }
  // Each product's rows in one block per thread it gets. Inside the parallel
  // region each block's gemm is a single BLAS call on the thread that runs it.
  struct Block {
    Tensor a, out;
    const Tensor* b;
  };
  std::vector<Block> blocks;
  auto cut = [&](const Tensor& a, const Tensor& b, const Tensor& out, int64_t shares) {
    const int64_t M = a.size(0), rows = rows_per_share(M, shares);
    auto rows_of = [](const Tensor& m, int64_t first, int64_t n) {
      return make_view(m, {n, m.size(1)}, m.strides(), m.offset() + first * m.strides()[0]);
    };
    for (int64_t first = 0; first < M; first += rows) {
      const int64_t n = std::min(rows, M - first);
      blocks.push_back({rows_of(a, first, n), rows_of(out, first, n), &b});
    }
  };
  cut(a1, b1, out1, (threads + 1) / 2);
  cut(a2, b2, out2, threads / 2);
  std::exception_ptr error;  // the operands are checked, but a scratch copy could still fail to allocate
  // each block writes only its own rows of its own out
  parallel_for(static_cast<int64_t>(blocks.size()), true, [&](int64_t i) {
    try {
      gemm(blocks[i].a, *blocks[i].b, blocks[i].out);
    } catch (...) {
#pragma omp critical(heed_gemm_pair_error)
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

void gemm_raw(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  blas_gemm(trans_a, trans_b, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_raw(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* a,
              int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  blas_gemm(trans_a, trans_b, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

int blas_threads() { return openblas_get_num_threads(); }

std::string blas_info() {
  return msg(openblas_get_config(), " (kernel: ", openblas_get_corename(), ")");
}

}  // namespace heed
