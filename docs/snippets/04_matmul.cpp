// Chapter 4: matmul's backward is two more matmuls with transposed operands,
// and transposed views go to BLAS as flags, not copies.
#include "check.h"

#include <heed/ops/blas.h>

#include <chrono>

using namespace heed;
using tour::check;

namespace {

// C = A B with three plain loops: what BLAS replaces.  a: [M, K], b: [K, N]
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  Tensor c = Tensor::zeros({M, N});
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) pc[i * N + j] += pa[i * K + k] * pb[k * N + j];
  return c;
}

// The best of three runs of f, in seconds (the first run also pays for warm-up).
double seconds_of(const auto& f) {
  double best = 1e30;
  for (int run = 0; run < 3; ++run) {
    auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

int main() {
  manual_seed(0);
  // [backward]
  Tensor A = Tensor::randn({5, 3}, kFloat64).requires_grad_();
  Tensor B = Tensor::randn({3, 4}, kFloat64).requires_grad_();
  Tensor G = Tensor::randn({5, 4}, kFloat64);  // plays dL/dC
  (matmul(A, B) * G).sum().backward();         // L = sum(C * G), so dL/dC = G
  check(tour::max_diff(A.grad(), matmul(G, B.detach().t())) < 1e-12, "dA = dC B^T");
  check(tour::max_diff(B.grad(), matmul(A.detach().t(), G)) < 1e-12, "dB = A^T dC");

  // A weight shared by a batch: its gradient is the sum over the batch entries,
  // which is one product if the entries' rows are stacked.
  Tensor X = Tensor::randn({2, 5, 3}, kFloat64);
  Tensor W = Tensor::randn({3, 4}, kFloat64).requires_grad_();
  Tensor GX = Tensor::randn({2, 5, 4}, kFloat64);
  (matmul(X, W) * GX).sum().backward();
  check(tour::max_diff(W.grad(), matmul(X.reshape({10, 3}).t(), GX.reshape({10, 4}))) < 1e-12,
        "dW = sum over the batch of X_i^T dC_i = [B*T, K]^T [B*T, N]");
  // [end backward]

  // [flags]
  Tensor a = Tensor::randn({64, 32}, kFloat64), b = Tensor::randn({48, 32}, kFloat64);
  Tensor bt = b.t();  // [32, 48], strides (1, 32): a row-major [48, 32] read transposed
  check(blas_can_read(bt), "BLAS reads a transposed view in place (a transpose flag)");
  check(tour::max_diff(matmul(a, bt), matmul(a, bt.contiguous())) < 1e-12, "a @ b.t() equals a @ (a copy of b.t())");
  Tensor every_other = Tensor::randn({8, 8}).slice(1, 0, 8, 2);  // strides (8, 2): neither is 1
  check(!blas_can_read(every_other), "a strided slice is not a BLAS layout: gemm copies it first");
  // [end flags]

  // [speed]
  const int64_t n = 512;
  Tensor p = Tensor::randn({n, n}), q = Tensor::randn({n, n});
  Tensor slow, fast;
  double t_naive = seconds_of([&] { slow = naive_matmul(p, q); });
  double t_blas = seconds_of([&] { fast = matmul(p, q); });
  const double flops = 2.0 * n * n * n;  // a multiply and an add per (i, j, k)
  std::cout << "        naive loops: " << flops / t_naive / 1e9 << " GFLOP/s, OpenBLAS: "
            << flops / t_blas / 1e9 << " GFLOP/s on " << blas_threads() << " thread(s)\n"
            << "        " << blas_info() << "\n";
  check(tour::max_diff(slow, fast) < 1e-3, "the loops and BLAS agree (up to float32 rounding)");
  // [end speed]
  return tour::failures();
}
