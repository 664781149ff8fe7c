// softmax and log_softmax (ops/softmax.h): values against numbers worked out with
// Python's math module, the stability cases (huge logits, -inf, NaN), every dim
// and non-contiguous inputs, a float64 gradcheck, each error, and a large input
// (the OpenMP path) against a reference built from exp and sum.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The textbook formula, with no max subtracted: fine for small inputs, and a
// reference computed another way than the kernel.
Tensor naive_softmax(const Tensor& x, int64_t dim) {
  Tensor e = exp(x);
  return e / e.sum({dim}, true);
}

bool all_close(const Tensor& a, const Tensor& b, double tol) {
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  if (a.shape() != b.shape()) return false;
  for (size_t i = 0; i < va.size(); ++i)
    if (!(std::abs(va[i] - vb[i]) <= tol)) return false;
  return true;
}

}  // namespace

TEST_CASE("softmax/softmax") {
  SUBCASE("values") {
    Tensor y = softmax(Tensor({1, 2, 3}), 0);
    check_values(y, {0.09003057317038046, 0.24472847105479764, 0.6652409557748218});
    // the same rows along dim 0 of the transpose, and a shift changes nothing
    check_values(softmax(Tensor({{1, 2, 3}}).t() + 100.0, 0),
                 {0.09003057317038046, 0.24472847105479764, 0.6652409557748218});
    CHECK(softmax(Tensor({1.0, 2.0}, kFloat64), -1).dtype() == kFloat64);
    CHECK(softmax(Tensor::scalar(3.0), 0).item() == 1);  // a 0-d tensor is a row of one
  }
  SUBCASE("huge logits are exact, no NaN") {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor y = softmax(Tensor({1000, -1000}, dt), 0);
      CHECK(y.to_vector<double>() == std::vector<double>{1, 0});
      Tensor z = softmax(Tensor({{1000, 1000}, {-1000, 0}}, dt), 1);
      CHECK(z.to_vector<double>() == std::vector<double>{0.5, 0.5, 0, 1});
    }
  }
  SUBCASE("rows sum to 1 along either dim") {
    Tensor x = Tensor::randn({4, 7}) * 3.0;
    for (int64_t dim : {0, 1, -1}) {
      Tensor y = softmax(x, dim);
      CHECK(y.shape() == Shape{4, 7});
      int64_t other = dim == 0 ? 1 : 0;
      check_values(y.sum({dim}), std::vector<double>(x.shape()[other], 1.0), 1e-6);
      CHECK(all_close(y, naive_softmax(x, dim), 1e-6));
    }
  }
  SUBCASE("any dim of a 3-D tensor, contiguous or not") {
    Tensor x = Tensor::randn({2, 3, 4}, kFloat64);
    for (int64_t dim : {0, 1, 2, -2}) CHECK(all_close(softmax(x, dim), naive_softmax(x, dim), 1e-12));
    Tensor p = x.permute({2, 0, 1});  // [4, 2, 3], non-contiguous
    CHECK(all_close(softmax(p, 1), naive_softmax(p, 1), 1e-12));
    Tensor s = x.slice(2, 0, 4, 3);  // [2, 3, 2], strided
    CHECK(all_close(softmax(s, -1), naive_softmax(s, -1), 1e-12));
  }
  SUBCASE("-inf and NaN, as in PyTorch") {
    // -inf is a probability of exactly 0
    check_values(softmax(Tensor({-kInf, 0.0, 0.0}), 0), {0, 0.5, 0.5});
    // a row of all -inf has no defined softmax: PyTorch gives NaN; other rows are fine
    Tensor y = softmax(Tensor({{-kInf, -kInf}, {0.0, 0.0}}), 1);
    CHECK(std::isnan(y.at({0, 0})));
    CHECK(std::isnan(y.at({0, 1})));
    CHECK(y.at({1, 0}) == 0.5);
    // a NaN makes its whole row NaN
    Tensor z = softmax(Tensor({1.0, kNaN, 2.0}), 0);
    for (int64_t i = 0; i < 3; ++i) CHECK(std::isnan(z.at({i})));
  }
  SUBCASE("empty tensors") {
    CHECK(softmax(Tensor::zeros({0, 3}), 1).shape() == Shape{0, 3});
    CHECK(softmax(Tensor::zeros({3, 0}), 1).shape() == Shape{3, 0});
  }
  SUBCASE("gradient values") {
    // sum(softmax) is 1 whatever x is, so its gradient is 0
    Tensor x = Tensor::randn({3, 5}).requires_grad_();
    softmax(x, 1).sum().backward();  // dy arrives as an expanded (stride-0) view
    check_values(x.grad(), std::vector<double>(15, 0.0), 1e-6);
    // y = softmax([0, 0]) = [.5, .5], dy = [1, 0]: dx = y * (dy - 0.5) = [.25, -.25]
    Tensor a = Tensor::zeros({2}).requires_grad_();
    softmax(a, 0).backward(Tensor({1, 0}));
    check_values(a.grad(), {0.25, -0.25});
  }
  SUBCASE("gradient") {
    auto along = [](int64_t dim) { return [dim](const TensorList& x) { return softmax(x[0], dim); }; };
    CHECK(grad_ok(along(0), {randn64({3, 4})}));
    CHECK(grad_ok(along(-1), {randn64({3, 4})}));
    CHECK(grad_ok(along(1), {randn64({2, 3, 4})}));
    CHECK(grad_ok(along(0), {randn64({})}));
    CHECK(grad_ok([](const TensorList& x) { return softmax(x[0].t(), 1); }, {randn64({4, 3})}));
    CHECK(grad_ok([](const TensorList& x) { return softmax(x[0].slice(1, 0, 6, 2), 0); }, {randn64({3, 6})}));
  }
  SUBCASE("saves y: an in-place change to it is caught") {
    Tensor x = Tensor::randn({2, 3}).requires_grad_();
    Tensor y = softmax(x, 1);
    {
      NoGradGuard guard;
      y.mul_(2);
    }
    CHECK_THROWS_AS(y.backward(Tensor::ones({2, 3})), AutogradError);
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(softmax(Tensor::ones({2}, kInt64), 0), "softmax: input has dtype int64",
                            DTypeError);
    CHECK_THROWS_CONTAINING(softmax(Tensor::ones({2, 3}), 2), "softmax: dim 2 is out of range", IndexError);
    CHECK_THROWS_CONTAINING(softmax(Tensor::ones({2, 3}), -3), "softmax: dim -3 is out of range",
                            IndexError);
  }
}

TEST_CASE("softmax/log_softmax") {
  SUBCASE("values") {
    check_values(log_softmax(Tensor({1, 2, 3}), 0),
                 {-2.4076059644443806, -1.4076059644443804, -0.4076059644443804});
    CHECK(log_softmax(Tensor::scalar(3.0), 0).item() == 0);
  }
  SUBCASE("huge logits: exact, and log of a tiny probability stays finite") {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor y = log_softmax(Tensor({1000, -1000}, dt), 0);
      CHECK(y.to_vector<double>() == std::vector<double>{0, -2000});
    }
  }
  SUBCASE("equals log(softmax) along any dim") {
    Tensor x = Tensor::randn({3, 4, 5}, kFloat64);
    for (int64_t dim : {0, 1, -1}) CHECK(all_close(log_softmax(x, dim), log(softmax(x, dim)), 1e-12));
    CHECK(all_close(log_softmax(x.transpose(0, 2), 0), log(softmax(x.transpose(0, 2), 0)), 1e-12));
  }
  SUBCASE("-inf and NaN, as in PyTorch") {
    Tensor y = log_softmax(Tensor({-kInf, 0.0}), 0);
    CHECK(y.at({0}) == -kInf);
    CHECK(y.at({1}) == 0);
    CHECK(std::isnan(log_softmax(Tensor({-kInf, -kInf}), 0).at({0})));
    CHECK(std::isnan(log_softmax(Tensor({kNaN, 1.0}), 0).at({1})));
  }
  SUBCASE("gradient values") {
    // y = log_softmax([0, 0]); dx = dy - softmax * sum(dy) = [1, 0] - [.5, .5]
    Tensor a = Tensor::zeros({2}).requires_grad_();
    log_softmax(a, 0).backward(Tensor({1, 0}));
    check_values(a.grad(), {0.5, -0.5});
  }
  SUBCASE("gradient") {
    auto along = [](int64_t dim) { return [dim](const TensorList& x) { return log_softmax(x[0], dim); }; };
    CHECK(grad_ok(along(0), {randn64({3, 4})}));
    CHECK(grad_ok(along(-1), {randn64({3, 4})}));
    CHECK(grad_ok(along(1), {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return log_softmax(x[0].t(), -1); }, {randn64({4, 3})}));
    CHECK(grad_ok([](const TensorList& x) { return log_softmax(x[0].slice(0, 1, 5, 2), 1); },
                  {randn64({5, 3})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(log_softmax(Tensor::ones({2}, kInt64), 0),
                            "log_softmax: input has dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(log_softmax(Tensor::ones({2}), 1), "log_softmax: dim 1 is out of range",
                            IndexError);
  }
}

TEST_CASE("softmax/large tensors") {
  // 300 x 300 = 90,000 elements, above kParallelGrain: rows run on OpenMP threads.
  // Along dim 1 the rows are contiguous; along dim 0 they are strided columns.
  manual_seed(3);
  Tensor x = Tensor::randn({300, 300}, kFloat64);
  for (int64_t dim : {0, 1}) {
    Tensor y = softmax(x, dim);
    CHECK(all_close(y, naive_softmax(x, dim), 1e-14));
    CHECK(all_close(log_softmax(x, dim), log(naive_softmax(x, dim)), 1e-12));

    // backward against the same formula written with ops
    Tensor w = Tensor::randn({300, 300}, kFloat64);
    Tensor leaf = x.clone().requires_grad_();
    softmax(leaf, dim).backward(w);
    Tensor expected = y * (w - (w * y).sum({dim}, true));
    CHECK(all_close(leaf.grad(), expected, 1e-12));

    Tensor leaf2 = x.clone().requires_grad_();
    log_softmax(leaf2, dim).backward(w);
    Tensor expected2 = w - y * w.sum({dim}, true);
    CHECK(all_close(leaf2.grad(), expected2, 1e-12));
  }
}
