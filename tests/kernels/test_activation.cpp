// The fast GELU kernels (ops/kernels/fast/activation.cpp: tanh from the
// vectorizable expm1, blocks of elements shared between threads) against the
// reference loops with libm's tanh.
//
// Tolerance, float: the fast sigmoid is within a few ulp of one from libm's exp
// (fast_math.h), and the kernels use the sigmoid form, which has no
// cancellation, so y and dx agree to 1e-5 relative (1e-6 absolute near 0).
// double: both are the reference loop.
#include "heed/ops/kernels/activation.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

template <class T>
void run_case(int64_t n, uint64_t seed) {
  const std::string what = msg("gelu_tanh n ", n, sizeof(T) == 4 ? " float" : " double");
  // Normal with std 4: both tails (y -> 0 and y -> x) and the curve between.
  const std::vector<T> x = random_values<T>(n, seed, 4.0), dy = random_values<T>(n, seed + 1);
  std::vector<T> fy(n), ry(n), fdx(n), rdx(n);
  kernels::fast::gelu_tanh(x.data(), fy.data(), n);
  kernels::reference::gelu_tanh(x.data(), ry.data(), n);
  check_kernel(what + " y", fy, ry, 1e-5, 1e-6);
  kernels::fast::gelu_tanh_backward(x.data(), dy.data(), fdx.data(), n);
  kernels::reference::gelu_tanh_backward(x.data(), dy.data(), rdx.data(), n);
  check_kernel(what + " dx", fdx, rdx, 1e-5, 1e-6);
}

}  // namespace

TEST_CASE("kernels/gelu_tanh: fast equals reference") {
  uint64_t seed = 1;
  with_threads({1, 2, 3}, [&] {
    // 100003: many blocks of the fast kernel, the last one short, shared between threads
    for (int64_t n : {1, 7, 8, 9, 33, 1000, 100003}) {
      run_case<float>(n, seed++);
      run_case<double>(n, seed++);
    }
  });
}
