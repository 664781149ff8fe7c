// The fast kernels' float exp and expm1 (ops/kernels/fast/fast_math.h) against
// double-precision libm, swept over their whole range, and the values at its edges.
#include <cmath>
#include <limits>

#include "heed/ops/kernels/fast/fast_math.h"
#include "helpers.h"

using namespace heed::kernels::fast;

TEST_CASE("kernels/fast_math: exp_fast and expm1_fast") {
  // The error in units of the float spacing (ulp) at the true value.
  auto ulps = [](float got, double want) {
    const float w = static_cast<float>(want);
    const double ulp = std::nextafter(w, std::numeric_limits<float>::infinity()) - w;
    return std::abs(got - want) / ulp;
  };
  double worst_exp = 0, worst_expm1 = 0;
  // Every float x in [-87, 88] would be ~2 billion values; a fine even grid of
  // 2 million catches any systematic error in the reduction or the polynomial.
  for (int i = 0; i <= 2'000'000; ++i) {
    const float x = -87.0f + 175.0f * static_cast<float>(i) / 2'000'000.0f;
    worst_exp = std::max(worst_exp, ulps(exp_fast(x), std::exp(static_cast<double>(x))));
    worst_expm1 = std::max(worst_expm1, ulps(expm1_fast(x), std::expm1(static_cast<double>(x))));
  }
  MESSAGE("largest error over [-87, 88]: exp_fast ", worst_exp, " ulp, expm1_fast ", worst_expm1, " ulp");
  CHECK(worst_exp <= 2);
  CHECK(worst_expm1 <= 3);
  // Near 0 expm1 keeps its relative accuracy (e^x - 1 computed as such would not).
  CHECK(expm1_fast(1e-7f) == doctest::Approx(1e-7).epsilon(1e-6));
  // Below float's normal range exp is subnormal, then 0; above 88.72 it is inf.
  CHECK(exp_fast(-95.0f) == doctest::Approx(std::exp(-95.0)).epsilon(1e-3));
  CHECK(exp_fast(-95.0f) > 0);
  CHECK(exp_fast(-104.0f) == 0);
  CHECK(exp_fast(-1000.0f) == 0);
  CHECK(exp_fast(-std::numeric_limits<float>::infinity()) == 0);
  CHECK(exp_fast(0.0f) == 1);
  CHECK(exp_fast(88.72f) == doctest::Approx(std::exp(static_cast<double>(88.72f))).epsilon(1e-6));
  CHECK(std::isinf(exp_fast(88.73f)));
  CHECK(std::isinf(exp_fast(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(exp_fast(std::numeric_limits<float>::quiet_NaN())));
  CHECK(expm1_fast(-100.0f) == -1);
  CHECK(std::isnan(expm1_fast(std::numeric_limits<float>::quiet_NaN())));
}
