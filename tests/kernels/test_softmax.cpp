// The fast softmax kernels (ops/kernels/fast/softmax.cpp: vector lanes, a fast
// exp in float, threads, tiles) against the reference loops.
//
// Tolerances. float: the fast exp is within 2 ulp (test_fast_math.cpp) and the
// sums are added in another order, so outputs agree to 2e-6 of their size, and
// log_softmax to 1e-6 absolute (an error in the log of the sum). The backward's
// row sums differ the same way: 1e-5 relative, 1e-6 absolute. double: both use
// libm's exp, so only the order of the additions differs: 1e-12.
#include <cmath>
#include <limits>
#include <tuple>

#include "heed/ops/kernels/softmax.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

template <class T>
void run_case(int64_t O, int64_t D, int64_t I, bool log, uint64_t seed) {
  const bool is_float = sizeof(T) == 4;
  const int64_t n = O * D * I;
  std::vector<T> x = random_values<T>(n, seed, 3.0);
  if (n > 2) {
    x[0] = -std::numeric_limits<T>::infinity();  // a hidden score: weight exactly 0
    x[1] = 60;                                   // a logit large enough to overflow an exp without the max
  }
  const std::string what = msg(log ? "log_softmax" : "softmax", " O ", O, " D ", D, " I ", I);
  std::vector<T> fast(n), ref(n);
  kernels::fast::softmax(x.data(), fast.data(), O, D, I, log);
  kernels::reference::softmax(x.data(), ref.data(), O, D, I, log);
  check_kernel(what, fast, ref, is_float ? 2e-6 : 1e-12, is_float ? (log ? 1e-6 : 1e-9) : 1e-13);
  std::vector<T> in_place = x;  // y may be x
  kernels::fast::softmax(in_place.data(), in_place.data(), O, D, I, log);
  check_kernel(what + " in place", in_place, fast, 0, 0);

  // The backward, from the reference's output (so only the backward differs).
  const std::vector<T> dy = random_values<T>(n, seed + 1);
  std::vector<T> dx_fast(n), dx_ref(n);
  kernels::fast::softmax_backward(ref.data(), dy.data(), dx_fast.data(), O, D, I, log);
  kernels::reference::softmax_backward(ref.data(), dy.data(), dx_ref.data(), O, D, I, log);
  check_kernel(what + " backward", dx_fast, dx_ref, is_float ? 1e-5 : 1e-12, is_float ? 1e-6 : 1e-13);
}

}  // namespace

TEST_CASE("kernels/softmax: fast equals reference along every dim, forward and backward") {
  uint64_t seed = 1;
  with_threads({1, 2}, [&] {
    std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes;
    for (int64_t D : kKernelSizes)
      for (int64_t O : {1, 7, 33})
        for (int64_t I : {1, 8, 9}) shapes.emplace_back(O, D, I);
    shapes.emplace_back(1000, 33, 1);  // enough rows for the threads
    shapes.emplace_back(3, 9, 1000);   // a wide outer dim: many tiles
    for (auto [O, D, I] : shapes)
      for (bool log : {false, true}) {
        run_case<float>(O, D, I, log, seed++);
        run_case<double>(O, D, I, log, seed++);
      }
  });
}

TEST_CASE("kernels/softmax_rows: fast equals reference on contiguous rows") {
  for (int64_t D : kKernelSizes)
    for (int64_t rows : {1, 9}) {
      const std::vector<float> x = random_values<float>(rows * D, 40 + D, 3.0), dy = random_values<float>(rows * D, 41);
      std::vector<float> fast(rows * D), ref(rows * D), dfast(rows * D), dref(rows * D);
      kernels::fast::softmax_rows(x.data(), fast.data(), rows, D, D, false);
      kernels::reference::softmax_rows(x.data(), ref.data(), rows, D, D, false);
      check_kernel(msg("rows ", rows, " D ", D), fast, ref, 2e-6, 1e-9);
      kernels::fast::softmax_backward_rows(ref.data(), dy.data(), dfast.data(), rows, D, D, false);
      kernels::reference::softmax_backward_rows(ref.data(), dy.data(), dref.data(), rows, D, D, false);
      check_kernel(msg("rows backward ", rows, " D ", D), dfast, dref, 1e-5, 1e-6);
    }
}
