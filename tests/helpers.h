// Shared test helpers: compare a tensor with expected numbers, run gradcheck,
// and check that an expression throws a given error type with a given phrase.
#pragma once

#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "heed/heed.h"

namespace heed::test {

// Every element of t (row-major) within tol of expected, and the sizes match.
inline void check_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << " of " << t.shape());
    // Exact equality first: Approx with tol 0 would reject even identical values.
    CHECK((got[i] == expected[i] || got[i] == doctest::Approx(expected[i]).epsilon(tol).scale(1.0)));
  }
}

// gradcheck with its report shown when it fails.
inline bool grad_ok(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
                    GradcheckOptions opt = {}) {
  std::string report;
  bool ok = gradcheck(fn, inputs, opt, &report);
  if (!ok) MESSAGE(report);
  return ok;
}

// A float64 tensor of random normals (gradcheck inputs).
inline Tensor randn64(const Shape& s) { return Tensor::randn(s, kFloat64); }

// ---- the kernel tests (tests/kernels/): a fast kernel against its reference ----

// The sizes each kernel is run at: one element, around a vector register's width
// (7, 8, 9), an odd size that leaves a remainder after the vector loops (33), and
// a long one, beyond which threads take over (1000).
inline const std::vector<int64_t> kKernelSizes = {1, 7, 8, 9, 33, 1000};

// n numbers from N(0, scale^2), from a generator seeded with `seed` (so a failure
// repeats). Kernel tests use their own generator, not heed's.
template <class T>
std::vector<T> random_values(int64_t n, uint64_t seed, double scale = 1) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0, scale);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(normal(gen));
  return v;
}

// Runs body() with OpenMP set to each thread count in turn (a kernel must give
// the same answer however many threads share it), then restores the count.
template <class F>
void with_threads(std::initializer_list<int> counts, F body) {
  const int saved = omp_get_max_threads();
  for (int threads : counts) {
    CAPTURE(threads);
    omp_set_num_threads(threads);
    body();
  }
  omp_set_num_threads(saved);
}

// Every fast[i] within atol + rtol |ref[i]| of ref[i] (NaN only where ref has NaN,
// inf only where ref has the same inf). `what` names the case in the report,
// which shows the first element that is off.
template <class T>
void check_kernel(const std::string& what, const std::vector<T>& fast, const std::vector<T>& ref, double rtol,
                  double atol) {
  INFO(what);
  REQUIRE(fast.size() == ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    const double f = fast[i], r = ref[i];
    const bool same_special = (std::isnan(f) && std::isnan(r)) || (std::isinf(r) && f == r);
    if (same_special || std::abs(f - r) <= atol + rtol * std::abs(r)) continue;
    INFO("element " << i << ": fast " << f << ", reference " << r);
    CHECK(std::abs(f - r) <= atol + rtol * std::abs(r));
    return;  // one report per case is enough
  }
}

}  // namespace heed::test

// CHECK_THROWS_WITH_AS with a substring match: the message must contain `phrase`.
#define CHECK_THROWS_CONTAINING(expr, phrase, type) \
  CHECK_THROWS_WITH_AS(expr, doctest::Contains(phrase), type)
