// Shared test helpers: compare a tensor with expected numbers, run gradcheck,
// and check that an expression throws a given error type with a given phrase.
#pragma once

#include <doctest/doctest.h>

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

}  // namespace heed::test

// CHECK_THROWS_WITH_AS with a substring match: the message must contain `phrase`.
#define CHECK_THROWS_CONTAINING(expr, phrase, type) \
  CHECK_THROWS_WITH_AS(expr, doctest::Contains(phrase), type)
