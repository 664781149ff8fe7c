// small_gemm against OpenBLAS, product by product: the measurement behind
// small_gemm_wins() in ops/kernels/fast/small_gemm.h. For each shape [M, K] x [K, N] and each
// transpose combination it prints the best-of-5 time per call of both, their
// ratio (above 1: the plain loops are faster) and the largest difference in the
// results. Run: OMP_NUM_THREADS=2 ./build-bench/bench/small_gemm_bench
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "heed/ops/kernels/fast/small_gemm.h"
#include "timing.h"

namespace {

// In nanoseconds per call.
template <class F>
double ns_per_call(F f) {
  return bench::best_seconds_per_call(f) * 1e9;
}

}  // namespace

int main() {
  // The products of the benchmark workloads (W1: [10, 50] layers; W5: a [1, 10]
  // sample; W4: one query against 20 keys of width 128; outer products, K = 1, from
  // the backward of a one-sample layer) and a few square ones.
  const int shapes[][3] = {{1, 10, 10},   {1, 5, 10},   {1, 50, 50},  {1, 20, 128}, {1, 128, 20},
                           {1, 256, 128}, {1, 512, 160}, {10, 1, 50}, {10, 50, 50}, {10, 10, 50},
                           {50, 50, 10},  {2, 50, 50},  {5, 10, 1},   {10, 10, 1},  {10, 5, 1},
                           {50, 50, 1},  {32, 32, 32}, {64, 64, 64}};
  std::mt19937 gen(0);
  std::normal_distribution<float> normal;
  std::printf("   M    N    K  ta tb   small_gemm       OpenBLAS   BLAS/small  max |diff|  small_gemm_wins\n");
  for (const auto& s : shapes) {
    const int M = s[0], N = s[1], K = s[2];
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        std::vector<float> a(M * K), b(K * N), c_small(M * N), c_blas(M * N);
        for (float& v : a) v = normal(gen);
        for (float& v : b) v = normal(gen);
        const int lda = ta ? M : K, ldb = tb ? K : N;
        const double t_small = ns_per_call([&] {
          heed::kernels::fast::small_gemm(ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f, c_small.data(), N);
        });
        const double t_blas = ns_per_call([&] {
          cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                      1.f, a.data(), lda, b.data(), ldb, 0.f, c_blas.data(), N);
        });
        double diff = 0;
        for (int i = 0; i < M * N; ++i) diff = std::max(diff, static_cast<double>(std::abs(c_small[i] - c_blas[i])));
        std::printf("%4d %4d %4d  %d  %d  %9.0f ns  %9.0f ns  %9.2fx  %10.1e  %s\n", M, N, K, ta, tb, t_small, t_blas,
                    t_blas / t_small, diff, heed::kernels::fast::small_gemm_wins(M, N, K, tb, ldb) ? "yes" : "no");
      }
    }
  }
}
