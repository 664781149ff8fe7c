// The matrix product as the definition reads: C[i, j] = sum_p op(A)[i, p] op(B)[p, j].
#include "heed/ops/kernels/gemm.h"

namespace heed::kernels::reference {

// Row i of C is a sum of the rows of op(B), row p weighted by op(A)[i, p]. In
// this order (i, p, j) the innermost loop walks a row of C and a row of B, both
// contiguous when B is stored row-major, and the compiler turns it into vector
// code; the textbook order (i, j, p) would walk a column of B, one cache line per
// element.
template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c_i = c + i * ldc;
    for (int64_t j = 0; j < N; ++j) c_i[j] = beta == T(0) ? T(0) : beta * c_i[j];  // beta == 0: C's old value unread
    for (int64_t p = 0; p < K; ++p) {
      const T a_ip = alpha * (ta ? a[p * lda + i] : a[i * lda + p]);
      if (tb)
        for (int64_t j = 0; j < N; ++j) c_i[j] += a_ip * b[j * ldb + p];
      else
        for (int64_t j = 0; j < N; ++j) c_i[j] += a_ip * b[p * ldb + j];
    }
  }
}

template <class T>
void gemm_pair(const GemmArgs<T>& x, const GemmArgs<T>& y) {
  gemm(x.ta, x.tb, x.M, x.N, x.K, x.alpha, x.a, x.lda, x.b, x.ldb, x.beta, x.c, x.ldc);
  gemm(y.ta, y.tb, y.M, y.N, y.K, y.alpha, y.a, y.lda, y.b, y.ldb, y.beta, y.c, y.ldc);
}

template <class T>
void gemm_batch(const GemmArgs<T>& g, int64_t count, const int64_t* a_offsets, const int64_t* b_offsets) {
  for (int64_t e = 0; e < count; ++e)
    gemm(g.ta, g.tb, g.M, g.N, g.K, g.alpha, g.a + a_offsets[e], g.lda, g.b + b_offsets[e], g.ldb, g.beta,
         g.c + e * g.M * g.N, g.ldc);
}

std::string gemm_library() { return "reference kernels (HEED_REFERENCE_KERNELS): plain loops, no BLAS"; }
int gemm_threads() { return 1; }

HEED_GEMM_KERNELS_FOR(float)
HEED_GEMM_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
