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

// softmax_rows takes rows ld apart (attention's causal blocks pass ld > D) and
// steps through them a few at a time (softmax.cpp: kChunk). Each row must come
// out as the reference's, and with the same bits as when it is the only row of
// its call: the chunking reorders work between rows, never within one.
TEST_CASE("kernels/softmax_rows: fast equals reference on rows ld apart, and rows alone") {
  for (int64_t D : kKernelSizes)
    for (int64_t rows : {1, 9, 17})
      for (int64_t ld : {D, D + 3})
        for (bool log : {false, true}) {
          const int64_t n = rows * ld;
          std::vector<float> x = random_values<float>(n, 40 + D + ld, 3.0);
          if (D > 1) x[ld - 1] = -std::numeric_limits<float>::infinity();  // a hidden key in row 0
          const std::vector<float> dy = random_values<float>(n, 41 + D);
          std::vector<float> fast(n), ref(n), alone(n), dfast(n), dref(n), dalone(n);
          kernels::fast::softmax_rows(x.data(), fast.data(), rows, D, ld, log);
          kernels::reference::softmax_rows(x.data(), ref.data(), rows, D, ld, log);
          kernels::fast::softmax_backward_rows(ref.data(), dy.data(), dfast.data(), rows, D, ld, log);
          kernels::reference::softmax_backward_rows(ref.data(), dy.data(), dref.data(), rows, D, ld, log);
          for (int64_t r = 0; r < rows; ++r) {
            kernels::fast::softmax_rows(x.data() + r * ld, alone.data() + r * ld, 1, D, ld, log);
            kernels::fast::softmax_backward_rows(ref.data() + r * ld, dy.data() + r * ld, dalone.data() + r * ld, 1, D,
                                                 ld, log);
          }
          // Only the D elements of each row are outputs; the ld - D after them are not touched.
          auto rows_of = [&](const std::vector<float>& v) {
            std::vector<float> out;
            for (int64_t r = 0; r < rows; ++r) out.insert(out.end(), v.begin() + r * ld, v.begin() + r * ld + D);
            return out;
          };
          const std::string what = msg(log ? "log_softmax" : "softmax", " rows ", rows, " D ", D, " ld ", ld);
          check_kernel(what, rows_of(fast), rows_of(ref), 2e-6, log ? 1e-6 : 1e-9);
          check_kernel(what + " backward", rows_of(dfast), rows_of(dref), 1e-5, 1e-6);
          check_kernel(what + " row alone", rows_of(alone), rows_of(fast), 0, 0);
          check_kernel(what + " backward row alone", rows_of(dalone), rows_of(dfast), 0, 0);
        }
}
