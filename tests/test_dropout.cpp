// dropout: identity when off, zeros at p = 1, unbiased in expectation, seeded, and its gradient.
#include <cmath>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

TEST_CASE("dropout") {
  SUBCASE("p = 0 and evaluation mode are the identity (the same tensor back)") {
    Tensor x = Tensor::randn({4, 5});
    Tensor y0 = dropout(x, 0.0, true);
    Tensor ye = dropout(x, 0.5, false);
    CHECK(y0.shares_storage(x));
    CHECK(ye.shares_storage(x));
    check_values(ye, x.to_vector<double>());
  }
  SUBCASE("p = 1 gives zeros, without NaN even for infinite inputs, and a zero gradient") {
    Tensor x = Tensor({1, -2, INFINITY, 4}, kFloat64).requires_grad_();
    Tensor y = dropout(x, 1.0, true);
    check_values(y, {0, 0, 0, 0});
    y.backward(Tensor::ones({4}, kFloat64));
    check_values(x.grad(), {0, 0, 0, 0});
  }
  SUBCASE("about p of the elements drop, the rest scale by 1/(1-p): the mean is preserved") {
    manual_seed(11);
    const int64_t n = 200000;
    const double p = 0.3;
    std::vector<double> y = dropout(Tensor::ones({n}), p, true).to_vector<double>();
    double sum = 0;
    int64_t zeros = 0, others = 0;
    for (double v : y) {
      sum += v;
      if (v == 0) ++zeros;
      else if (std::abs(v - 1 / (1 - p)) > 1e-6) ++others;
    }
    CHECK(others == 0);  // every survivor is exactly 1/(1-p)
    // Each element is 0 or 1/0.7, variance p/(1-p) = 0.43, so the mean of 200k has
    // standard deviation 0.0015 and the dropped fraction 0.001: these bounds are ~7 sigma,
    // and a missing scale (mean 0.7) or a flipped p (fraction 0.7) fails them by far.
    CHECK(std::abs(sum / n - 1.0) < 0.01);
    CHECK(std::abs(static_cast<double>(zeros) / n - p) < 0.01);
  }
  SUBCASE("manual_seed makes the mask reproducible; another seed changes it") {
    Tensor x = Tensor::ones({1000});
    manual_seed(42);
    std::vector<float> a = dropout(x, 0.5, true).to_vector();
    manual_seed(42);
    std::vector<float> b = dropout(x, 0.5, true).to_vector();
    manual_seed(43);
    std::vector<float> c = dropout(x, 0.5, true).to_vector();
    CHECK(a == b);
    CHECK(a != c);
  }
  SUBCASE("the gradient is the mask times 1/(1-p), and survivors are x/(1-p)") {
    Tensor x = randn64({6, 7}).requires_grad_();
    Tensor y = dropout(x, 0.4, true);
    y.backward(Tensor::ones({6, 7}, kFloat64));
    std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>(), g = x.grad().to_vector<double>();
    int64_t kept = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      if (yv[i] == 0) {
        CHECK(g[i] == 0);
      } else {
        ++kept;
        CHECK(g[i] == doctest::Approx(1 / 0.6));
        CHECK(yv[i] == doctest::Approx(xv[i] / 0.6));
      }
    }
    CHECK(kept > 0);
    CHECK(kept < 42);
  }
  SUBCASE("gradcheck with the mask held fixed by reseeding, on a transposed x") {
    CHECK(grad_ok(
        [](const TensorList& v) {
          manual_seed(5);
          return dropout(v[0].t(), 0.5, true);
        },
        {randn64({3, 4})}));
  }
  SUBCASE("errors") {
    Tensor x = Tensor::ones({2});
    CHECK_THROWS_CONTAINING(dropout(x, 1.5, true), "dropout: p is 1.5; it must be a probability in [0, 1]",
                            ValueError);
    CHECK_THROWS_CONTAINING(dropout(x, -0.1, true), "dropout: p is -0.1", ValueError);
    CHECK_THROWS_CONTAINING(dropout(x, NAN, false), "dropout: p is", ValueError);
    CHECK_THROWS_CONTAINING(dropout(Tensor::randint(0, 3, {2}), 0.5, true), "int64", DTypeError);
  }
}
