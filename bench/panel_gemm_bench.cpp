// panel_gemm against OpenBLAS on an LSTM step's two products: the measurement
// behind ops/kernels/fast/panel_gemm.h. For W3's layer (B = 32, H = 256) and
// W4's encoder (B = 32, H = 128), on one thread:
//
//   forward   z[B, 4H] += h[B, H] W_hh^T     (W_hh [4H, H] row-major)
//   backward dh[B, H]  += dz[B, 4H] W_hh
//
// each as one OpenBLAS call; as the calls of two threads' fixed chunks, the way
// heed's LSTM made them before panel_gemm (a call per chunk and gate forward, a
// call per chunk backward: what a thread of two processors ran alone); and as
// panel_gemm with each copy this CPU runs, on W_hh packed beforehand. Packing
// W_hh (once per sequence) is timed apart. Best of 5 rounds, microseconds per
// product, and the largest difference from OpenBLAS's one call.
//
//   OMP_NUM_THREADS=1 ./build/bench/panel_gemm_bench
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "heed/ops/kernels/fast/panel_gemm.h"
#include "timing.h"

namespace {

namespace fast = heed::kernels::fast;

// In microseconds per call.
template <class F>
double us_per_call(F f) {
  return bench::best_seconds_per_call(f) * 1e6;
}

double max_diff(const std::vector<float>& x, const std::vector<float>& y) {
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, static_cast<double>(std::abs(x[i] - y[i])));
  return d;
}

const char* name_of(fast::PanelCopy copy) {
  switch (copy) {
    case fast::PanelCopy::kAvx512:
      return "AVX-512";
    case fast::PanelCopy::kAvx2:
      return "AVX2";
    case fast::PanelCopy::kBaseline:
      break;
  }
  return "baseline";
}

// One product C[M, N] += A[M, K] op(B), op(B) = B^T (tb) or B, B = W_hh.
struct Product {
  const char* name;
  bool tb;
  int64_t M, N, K;
};

void run(const Product& p, const std::vector<float>& a, const std::vector<float>& w, int64_t H) {
  const int64_t ldb = p.tb ? p.K : p.N, flops = 2 * p.M * p.N * p.K;
  const auto tb = p.tb ? CblasTrans : CblasNoTrans;
  std::vector<float> one(p.M * p.N, 0.0f), chunks = one;
  auto gflops = [&](double us) { return static_cast<double>(flops) / us / 1e3; };

  const double t_one = us_per_call([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, p.M, p.N, p.K, 1, a.data(), p.K, w.data(), ldb, 0, one.data(), p.N);
  });
  // Two chunks of H / 2 units; forward a call per chunk and gate (four gate blocks H apart).
  const int64_t half = H / 2, gates = p.tb ? 4 : 1, gate_stride = p.tb ? H : 0;
  const double t_chunks = us_per_call([&] {
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t g = 0; g < gates; ++g) {
        const int64_t col = g * gate_stride + c * half;
        const float* b = p.tb ? w.data() + col * ldb : w.data() + col;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, p.M, half, p.K, 1, a.data(), p.K, b, ldb, 0,
                    chunks.data() + col, p.N);
      }
  });
  std::vector<float> panels(fast::packed_size(p.K, p.N));
  const double t_pack = us_per_call([&] { fast::pack_panels(p.tb, p.K, p.N, w.data(), ldb, panels.data()); });
  std::printf("%-9s B %3ld  %4ld x %4ld x %4ld  OpenBLAS one call %7.1f us (%5.1f GF/s)  two chunks' calls %7.1f us"
              "  pack %6.1f us\n",
              p.name, static_cast<long>(p.M), static_cast<long>(p.M), static_cast<long>(p.N), static_cast<long>(p.K),
              t_one, gflops(t_one), t_chunks, t_pack);

  std::vector<fast::PanelCopy> copies = {fast::PanelCopy::kBaseline};
  if (fast::widest_panel_copy() != fast::PanelCopy::kBaseline) copies.push_back(fast::PanelCopy::kAvx2);
  if (fast::widest_panel_copy() == fast::PanelCopy::kAvx512) copies.push_back(fast::PanelCopy::kAvx512);
  for (fast::PanelCopy copy : copies) {
    std::vector<float> c(p.M * p.N);
    const double t = us_per_call([&] {
      std::fill(c.begin(), c.end(), 0.0f);
      fast::panel_gemm(copy, false, p.M, p.N, p.K, a.data(), p.K, fast::packed(panels.data(), p.K), c.data(), p.N);
    });
    std::printf("          panel_gemm %-8s %7.1f us (%5.1f GF/s), %.2fx OpenBLAS's one call, max |diff| %.2g\n",
                name_of(copy), t, gflops(t), t_one / t, max_diff(c, one));
  }
}

}  // namespace

int main() {
  std::mt19937 gen(0);
  std::normal_distribution<float> normal;
  auto random = [&](int64_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = normal(gen);
    return v;
  };
  const int64_t B = 32;
  for (int64_t H : {256, 128}) {
    const std::vector<float> w = random(4 * H * H), h = random(B * H), dz = random(B * 4 * H);
    run({"forward", true, B, 4 * H, H}, h, w, H);
    run({"backward", false, B, H, 4 * H}, dz, w, H);
  }
}
