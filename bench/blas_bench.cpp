// The machine's limit for matrix products, measured by calling OpenBLAS directly
// (no framework around it), with the same timing method as the framework
// benchmarks (timing.h):
//
//   time sgemm_<n>  one n x n x n sgemm, for a few n; the fastest GFLOP/s of these
//                   is "the machine's measured OpenBLAS sgemm peak" run.sh reports
//   time W6_blas    W6's three products, C = A B, dA = dC B^T, dB = A^T dC, at
//                   N = 1024: what heed's W6 is compared with ("within 5%")
//   time W2_blas    W2's matrix products alone (B = 16, T = 128, C = 256), in the
//                   arrangement heed uses (one [C, 3C] projection with v_proj
//                   folded into out_proj; attention batch entries shared out
//                   between threads): the floor under heed's W2 step
//
// Each of them twice, for the two ways to thread one product:
//   (plain name)   OpenBLAS's own threads (the OpenMP build: OMP_NUM_THREADS,
//                  else every core), one call per product;
//   <name>_rows    the way heed's gemm does it (ops/blas.cpp): the product's
//                  rows cut into one share per thread, each share one
//                  single-threaded OpenBLAS call. Written out here again, with
//                  plain OpenMP, so that this program measures OpenBLAS and no
//                  heed code.
//
//   blas_bench [--budget SECONDS]
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
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

// true: products of at least 2^19 multiply-adds, with 32 rows or more per
// thread, are split by rows (the <name>_rows timings); false: OpenBLAS threads
// every product itself.
bool g_split_rows = false;

// C[M, N] = alpha op(A) op(B), row-major; lda, ldb, ldc the row strides.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* a, int lda, const float* b,
           int ldb, float* c, int ldc) {
  auto call = [&](int first, int rows) {
    const float* a_rows = trans_a ? a + first : a + static_cast<int64_t>(first) * lda;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, rows, N,
                K, alpha, a_rows, lda, b, ldb, 0.0f, c + static_cast<int64_t>(first) * ldc, ldc);
  };
  const int shares = std::min(omp_get_max_threads(), M / 32);
  if (!g_split_rows || omp_in_parallel() || int64_t{M} * N * K < (1 << 19) || shares < 2) {
    call(0, M);
    return;
  }
  const int rows = ((M + shares - 1) / shares + 15) / 16 * 16;  // whole blocks of 16 rows
#pragma omp parallel for
  for (int first = 0; first < M; first += rows) call(first, std::min(rows, M - first));
}

// W2's products, forward and backward, as heed's nn::SelfAttention does them
// (v_proj folded into out_proj, nn/attention.cpp), for x [B*T, C] (R = B*T
// rows). No softmax, no bias, no loss: the products alone, on arbitrary numbers.
struct W2Products {
  static constexpr int B = bench::kW2Batch, T = 128, C = bench::kW2Dim, R = B * T;
  std::vector<float> x, w_qkv, w_o, w_v, qkv, y, dy, dqkv, dw_qkv, dw_o, dw_v, p;
  explicit W2Products(std::mt19937& gen) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto make = [&](size_t n) { std::vector<float> v(n); for (float& e : v) e = normal(gen); return v; };
    x = make(R * C), w_qkv = make(3 * C * C), w_o = make(C * C), w_v = make(C * C), dy = make(R * C);
    qkv.resize(R * 3 * C), y.resize(R * C), dqkv.resize(R * 3 * C);
    dw_qkv.resize(3 * C * C), dw_o.resize(C * C), dw_v.resize(C * C);
    p = make(static_cast<size_t>(B) * T * T);
  }
  void step() {
    const float scale = 1.0f / 16.0f;
    float* w_vo = w_qkv.data() + 2 * C * C;                                                 // rows 2C..3C
    sgemm(false, false, C, C, C, 1, w_o.data(), C, w_v.data(), C, w_vo, C);                // Wo Wv
    sgemm(false, true, R, 3 * C, C, 1, x.data(), C, w_qkv.data(), C, qkv.data(), 3 * C);  // qkv' = x Wqkv'^T
#pragma omp parallel for
    for (int b = 0; b < B; ++b) {
      const float* q = qkv.data() + b * T * 3 * C;  // rows 3C apart; k at +C, v' at +2C
      float* pb = p.data() + b * T * T;
      sgemm(false, true, T, T, C, scale, q, 3 * C, q + C, 3 * C, pb, T);                 // S = scale q k^T
      sgemm(false, false, T, C, T, 1, pb, T, q + 2 * C, 3 * C, y.data() + b * T * C, C);  // y = P v'
    }
#pragma omp parallel
    {
      std::vector<float> ds(T * T);  // each thread's dS
#pragma omp for
      for (int b = 0; b < B; ++b) {
        const float* q = qkv.data() + b * T * 3 * C;
        float* dq = dqkv.data() + b * T * 3 * C;
        const float* pb = p.data() + b * T * T;
        const float* dout = dy.data() + b * T * C;
        sgemm(false, true, T, T, C, 1, dout, C, q + 2 * C, 3 * C, ds.data(), T);    // dP = dy v'^T
        sgemm(true, false, T, C, T, 1, pb, T, dout, C, dq + 2 * C, 3 * C);          // dv' = P^T dy
        sgemm(false, false, T, C, T, scale, ds.data(), T, q + C, 3 * C, dq, 3 * C);  // dq = scale dS k
        sgemm(true, false, T, C, T, scale, ds.data(), T, q, 3 * C, dq + C, 3 * C);   // dk = scale dS^T q
      }
    }
    sgemm(true, false, 3 * C, C, R, 1, dqkv.data(), 3 * C, x.data(), C, dw_qkv.data(), C);  // dWqkv' = dqkv'^T x
    const float* dw_vo = dw_qkv.data() + 2 * C * C;
    sgemm(false, true, C, C, C, 1, dw_vo, C, w_v.data(), C, dw_o.data(), C);   // dWo = dW' Wv^T
    sgemm(true, false, C, C, C, 1, w_o.data(), C, dw_vo, C, dw_v.data(), C);   // dWv = Wo^T dW'
  }
};

// C[n, n] = op(A) op(B), row-major, every matrix n x n.
void sgemm(bool trans_a, bool trans_b, int n, const float* a, const float* b, float* c) {
  sgemm(trans_a, trans_b, n, n, n, 1.0f, a, n, b, n, c, n);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv);
  const int threads = openblas_get_num_threads();
  std::printf("info\t-\tOpenBLAS direct, %d threads, %s\n", threads, openblas_get_config());
  std::mt19937 gen(0);

  // The same figures with OpenBLAS's threads, then split by rows.
  for (bool split : {false, true}) {
    g_split_rows = split;
    const std::string suffix = split ? "_rows" : "";
    for (int n : {256, 512, 1024, 2048}) {
      std::vector<float> a = random_matrix(n, gen), b = random_matrix(n, gen), c(a.size());
      const bench::Timing t = bench::measure([&] { sgemm(false, false, n, a.data(), b.data(), c.data()); },
                                             args.budget_s);
      bench::print_time("sgemm_" + std::to_string(n) + suffix, t, 2.0 * n * n * n / 1e9, threads);
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
    bench::print_time("W6_blas" + suffix, t, bench::w6_gflop(), threads);

    W2Products w2(gen);
    bench::print_time("W2_blas" + suffix, bench::measure([&] { w2.step(); }, args.budget_s),
                      bench::w2_folded_gflop(W2Products::T), threads);
  }
  return 0;
}
