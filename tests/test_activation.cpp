// Activations (ops/activation.h): values against Python's math module, the
// derivative at known points, a float64 gradcheck (contiguous, transposed, strided,
// 0-d), the saturated tails, and the int64 error.
#include <cmath>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {

using UnaryOp = Tensor (*)(const Tensor&);

// d sum(op(x)) / dx at the given points.
Tensor grad_at(UnaryOp op, Tensor x) {
  x.requires_grad_();
  Tensor y = op(x);
  y.backward(Tensor::ones_like(y));
  return x.grad();
}

void check_gradients(UnaryOp op) {
  auto f = [op](const TensorList& x) { return op(x[0]); };
  CHECK(grad_ok(f, {randn64({3, 4})}));
  CHECK(grad_ok(f, {randn64({})}));
  CHECK(grad_ok([op](const TensorList& x) { return op(x[0].t()); }, {randn64({3, 4})}));
  CHECK(grad_ok([op](const TensorList& x) { return op(x[0].slice(1, 1, 6, 2)); },
                {randn64({2, 6})}));
  // an op applied twice, so the backward receives a computed (not all-ones) gradient
  CHECK(grad_ok([op](const TensorList& x) { return op(op(x[0]) * 2.0); }, {randn64({5})}));
}

}  // namespace

TEST_CASE("activation/tanh") {
  SUBCASE("values") {
    CHECK(tanh(Tensor({1.0})).item() == doctest::Approx(0.7615942));
    check_values(tanh(Tensor({-1, 0, 0.5, 20}, kFloat64)),
                 {-0.7615941559557649, 0, 0.46211715726000974, 1}, 1e-12);
    check_values(tanh(Tensor({-1, 0, 0.5, 20})), {-0.7615941559557649, 0, 0.46211715726000974, 1});
  }
  SUBCASE("gradient values") {
    check_values(grad_at(tanh, Tensor({-1, 0, 0.5}, kFloat64)),
                 {0.41997434161402614, 1, 0.7864477329659274}, 1e-12);
    check_values(grad_at(tanh, Tensor({-50, 50})), {0, 0});  // saturated, and not NaN
  }
  SUBCASE("gradient") { check_gradients(tanh); }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(tanh(Tensor::ones({2}, kInt64)), "tanh: input has dtype int64",
                            DTypeError);
  }
}

TEST_CASE("activation/sigmoid") {
  SUBCASE("values") {
    check_values(sigmoid(Tensor({-1, 0, 2}, kFloat64)),
                 {0.2689414213699951, 0.5, 0.8807970779778823}, 1e-12);
    // far tails: e^1000 overflows to inf, and 1 / (1 + inf) = 0 is the right limit
    check_values(sigmoid(Tensor({-1000, 1000})), {0, 1});
    check_values(sigmoid(Tensor({-1000, 1000}, kFloat64)), {0, 1});
  }
  SUBCASE("gradient values") {
    check_values(grad_at(sigmoid, Tensor({-1, 0, 2}, kFloat64)),
                 {0.19661193324148185, 0.25, 0.10499358540350662}, 1e-12);
    check_values(grad_at(sigmoid, Tensor({-1000, 1000})), {0, 0});
  }
  SUBCASE("gradient") { check_gradients(sigmoid); }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(sigmoid(Tensor::ones({2}, kInt64)), "sigmoid: input has dtype int64",
                            DTypeError);
  }
}

TEST_CASE("activation/relu") {
  SUBCASE("values") {
    check_values(relu(Tensor({-1, 0, 2, -0.5, 3.5})), {0, 0, 2, 0, 3.5});
    check_values(relu(Tensor({{-1, 2}, {3, -4}}, kFloat64).t()), {0, 3, 2, 0});
  }
  SUBCASE("gradient values") {
    // 1 where x > 0; at x = 0 the subgradient 0, as in PyTorch
    check_values(grad_at(relu, Tensor({-1, 0, 2})), {0, 0, 1});
  }
  SUBCASE("gradient") {
    manual_seed(7);  // random normals: none within eps of the kink at 0
    check_gradients(relu);
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(relu(Tensor::ones({2}, kInt64)), "relu: input has dtype int64",
                            DTypeError);
  }
}

TEST_CASE("activation/gelu") {
  SUBCASE("values") {
    // x Phi(x), from Python: x * (1 + math.erf(x / math.sqrt(2))) / 2
    check_values(gelu(Tensor({-1, 0, 1, 3, -3}, kFloat64)),
                 {-0.15865525393145707, 0, 0.8413447460685429, 2.99595030590511,
                  -0.00404969409489031},
                 1e-12);
    check_values(gelu(Tensor({-1, 0, 1})), {-0.15865525393145707, 0, 0.8413447460685429});
  }
  SUBCASE("gradient values") {
    // Phi(x) + x phi(x)
    check_values(grad_at(gelu, Tensor({-1, 0, 1, 3}, kFloat64)),
                 {-0.08331547058768629, 0.5, 1.0833154705876864, 1.011945647204184}, 1e-12);
  }
  SUBCASE("gradient") { check_gradients(gelu); }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(gelu(Tensor::ones({2}, kInt64)), "gelu: input has dtype int64",
                            DTypeError);
  }
}

TEST_CASE("activation/gelu_tanh") {
  SUBCASE("values") {
    // from PyTorch 1.13: torch.nn.functional.gelu(x, approximate='tanh') in float64
    check_values(gelu_tanh(Tensor({-1, 0, 1, 3, -3}, kFloat64)),
                 {-0.15880800939172324, 0, 0.8411919906082768, 2.996362607918227, -0.0036373920817729943}, 1e-12);
  }
  SUBCASE("gradient values") {
    // the same call's x.grad after y.sum().backward()
    check_values(grad_at(gelu_tanh, Tensor({-1, 0, 1, 3, -3}, kFloat64)),
                 {-0.08296408384578252, 0.5, 1.0829640838457826, 1.0115841666309695, -0.011584166630969648}, 1e-12);
  }
  SUBCASE("gradient") { check_gradients(gelu_tanh); }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(gelu_tanh(Tensor::ones({2}, kInt64)), "gelu_tanh: input has dtype int64", DTypeError);
  }
}
