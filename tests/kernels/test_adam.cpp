// The fast Adam kernel (ops/kernels/fast/adam.cpp: one vector loop per flag
// combination, compiled for three CPUs, large parameters shared between
// threads) against the reference loop. Every element is computed on its own
// with the same operations in the same order, and heed fuses no multiply-add, so
// the two must agree exactly: tolerance 0.
#include "heed/ops/kernels/adam.h"
#include "helpers.h"

using namespace heed;
using namespace heed::test;
namespace kernels = heed::kernels;

namespace {

template <class T>
void run_case(int64_t n, bool decoupled, bool l2, bool amsgrad, uint64_t seed) {
  const kernels::AdamStep<T> s{T(0.9), T(0.999), T(0.1), T(0.001), T(0.01), T(1 - 1e-3 * 0.01),
                               T(-1e-3 / 0.19), T(0.0447), T(1e-8), decoupled, l2, amsgrad};
  const std::vector<T> p0 = random_values<T>(n, seed), g = random_values<T>(n, seed + 1);
  const std::vector<T> m0 = random_values<T>(n, seed + 2, 0.1);
  std::vector<T> v0 = random_values<T>(n, seed + 3, 0.01), vmax0 = random_values<T>(n, seed + 4, 0.01);
  for (T& x : v0) x = x * x;  // second moments are >= 0
  for (T& x : vmax0) x = x * x;
  std::vector<T> fp = p0, fm = m0, fv = v0, fvmax = vmax0, rp = p0, rm = m0, rv = v0, rvmax = vmax0;
  kernels::fast::adam(n, fp.data(), g.data(), fm.data(), fv.data(), amsgrad ? fvmax.data() : nullptr, s);
  kernels::reference::adam(n, rp.data(), g.data(), rm.data(), rv.data(), amsgrad ? rvmax.data() : nullptr, s);
  const std::string what = msg("adam n ", n, decoupled ? " decoupled" : "", l2 ? " l2" : "", amsgrad ? " amsgrad" : "");
  check_kernel(what + " p", fp, rp, 0, 0);
  check_kernel(what + " m", fm, rm, 0, 0);
  check_kernel(what + " v", fv, rv, 0, 0);
  check_kernel(what + " v_max", fvmax, rvmax, 0, 0);
}

}  // namespace

TEST_CASE("kernels/adam: fast equals reference exactly, every flag, 1 to 3 threads") {
  uint64_t seed = 1;
  with_threads({1, 2, 3}, [&] {
    std::vector<int64_t> sizes = kKernelSizes;
    sizes.push_back(100'003);  // cut into one share per thread
    for (int64_t n : sizes)
      for (auto [decoupled, l2] : {std::pair{false, false}, std::pair{false, true}, std::pair{true, false}})
        for (bool amsgrad : {false, true}) {
          run_case<float>(n, decoupled, l2, amsgrad, seed++);
          run_case<double>(n, decoupled, l2, amsgrad, seed++);
        }
  });
}
