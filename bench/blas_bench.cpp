// The machine's limit for matrix products, measured by calling OpenBLAS directly
// (no framework around it), with the same timing method as the framework
// benchmarks (timing.h):
//
//   time sgemm_<n>  one n x n x n sgemm, for a few n; the fastest GFLOP/s of these
//                   is "the machine's measured OpenBLAS sgemm peak" run.sh reports
//   time W6_blas    W6's three products, C = A B, dA = dC B^T, dB = A^T dC, at
//                   N = 1024: what heed's W6 is compared with ("within 5%")
//
//   blas_bench [--budget SECONDS]
//
// Threads: OpenBLAS's (the OpenMP build: OMP_NUM_THREADS, else every core).
#include <cblas.h>

#include <cstdio>
#include <random>
#include <vector>

#include "timing.h"
#include "workloads.h"

namespace {

std::vector<float> random_matrix(int64_t n, std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> m(static_cast<size_t>(n * n));
  for (float& v : m) v = normal(gen);
  return m;
}

// C[n, n] = op(A) op(B), row-major, every matrix n x n.
void sgemm(bool trans_a, bool trans_b, int n, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, n, n, n,
              1.0f, a, n, b, n, 0.0f, c, n);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv);
  const int threads = openblas_get_num_threads();
  std::printf("info\t-\tOpenBLAS direct, %d threads, %s\n", threads, openblas_get_config());
  std::mt19937 gen(0);

  for (int n : {256, 512, 1024, 2048}) {
    std::vector<float> a = random_matrix(n, gen), b = random_matrix(n, gen), c(a.size());
    const bench::Timing t = bench::measure([&] { sgemm(false, false, n, a.data(), b.data(), c.data()); },
                                           args.budget_s);
    bench::print_time("sgemm_" + std::to_string(n), t, 2.0 * n * n * n / 1e9, threads);
  }

  // W6: forward C = A B; backward with dC = d(sum C)/dC = all ones.
  const int n = static_cast<int>(bench::kW6N);
  std::vector<float> a = random_matrix(n, gen), b = random_matrix(n, gen);
  std::vector<float> dc(a.size(), 1.0f), c(a.size()), da(a.size()), db(a.size());
  const bench::Timing t = bench::measure(
      [&] {
        sgemm(false, false, n, a.data(), b.data(), c.data());   // C  = A B
        sgemm(false, true, n, dc.data(), b.data(), da.data());  // dA = dC B^T
        sgemm(true, false, n, a.data(), dc.data(), db.data());  // dB = A^T dC
      },
      args.budget_s);
  bench::print_time("W6_blas", t, bench::w6_gflop(), threads);
  return 0;
}
