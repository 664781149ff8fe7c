// Elementwise arithmetic (ops/elementwise.h): for every op, values against numbers
// worked out by hand (or with Python's math module), a float64 gradcheck over the
// broadcasting and non-contiguous cases, and each error the op raises.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {

using BinaryOp = Tensor (*)(const Tensor&, const Tensor&);

// Uniform in [0.5, 1.5): inputs for divisors, log, sqrt and fractional powers,
// well away from 0 where those functions blow up.
Tensor positive64(const Shape& s) { return Tensor::rand(s, kFloat64) + 0.5; }

// d sum(fn(x)) / dx for a leaf built from x: the gradient a caller sees, to compare
// with known numbers (gradcheck compares with finite differences instead).
Tensor grad_of(const std::function<Tensor(const Tensor&)>& fn, Tensor x) {
  x.requires_grad_();
  Tensor y = fn(x);
  y.backward(Tensor::ones_like(y));
  return x.grad();
}

// The gradcheck cases every broadcasting binary op must pass. `make_b` builds the
// second operand (positive for div).
void check_binary_gradients(BinaryOp op, Tensor (*make_b)(const Shape&)) {
  auto f = [op](const TensorList& x) { return op(x[0], x[1]); };
  SUBCASE("same shape") { CHECK(grad_ok(f, {randn64({3, 4}), make_b({3, 4})})); }
  SUBCASE("[3, 1] with [1, 4]") { CHECK(grad_ok(f, {randn64({3, 1}), make_b({1, 4})})); }
  SUBCASE("[2, 3, 4] with [4]") { CHECK(grad_ok(f, {randn64({2, 3, 4}), make_b({4})})); }
  SUBCASE("[4] with [2, 3, 4]") { CHECK(grad_ok(f, {randn64({4}), make_b({2, 3, 4})})); }
  SUBCASE("0-d with [3]") { CHECK(grad_ok(f, {randn64({}), make_b({3})})); }
  SUBCASE("[2, 3] with 0-d") { CHECK(grad_ok(f, {randn64({2, 3}), make_b({})})); }
  SUBCASE("transposed a") {
    CHECK(grad_ok([op](const TensorList& x) { return op(x[0].t(), x[1]); },
                  {randn64({4, 3}), make_b({3, 4})}));
  }
  SUBCASE("strided slice of b, broadcast") {
    CHECK(grad_ok([op](const TensorList& x) { return op(x[0], x[1].slice(1, 0, 8, 2)); },
                  {randn64({2, 3, 4}), make_b({3, 8})}));
  }
  SUBCASE("both transposed") {
    CHECK(grad_ok([op](const TensorList& x) { return op(x[0].t(), x[1].t()); },
                  {randn64({4, 3}), make_b({4, 3})}));
  }
}

// The errors every binary op raises, each naming the op.
void check_binary_errors(BinaryOp op, const std::string& name) {
  CHECK_THROWS_CONTAINING(op(Tensor::ones({3}), Tensor::ones({3}, kFloat64)),
                          (name + ": a is float32 [3], b is float64 [3]").c_str(), DTypeError);
  CHECK_THROWS_CONTAINING(op(Tensor::ones({3}, kInt64), Tensor::ones({3}, kInt64)),
                          (name + ": input has dtype int64").c_str(), DTypeError);
  CHECK_THROWS_CONTAINING(op(Tensor::ones({3}), Tensor::ones({3}, kInt64)), "same dtype",
                          DTypeError);
  CHECK_THROWS_CONTAINING(op(Tensor::ones({2, 3}), Tensor::ones({4})),
                          (name + ": shapes [2, 3] and [4] do not broadcast").c_str(), ShapeError);
  CHECK_THROWS_CONTAINING(op(Tensor::ones({3, 1}), Tensor::ones({2, 1})), "do not broadcast",
                          ShapeError);
}

// The error every unary op raises on int64 input.
void check_unary_int64_error(const std::function<Tensor(const Tensor&)>& op, const std::string& name) {
  CHECK_THROWS_CONTAINING(op(Tensor::ones({2}, kInt64)), (name + ": input has dtype int64").c_str(),
                          DTypeError);
}

}  // namespace

// ---- binary ops -------------------------------------------------------------------

TEST_CASE("elementwise/add") {
  SUBCASE("values") {
    check_values(Tensor({{1, 2, 3}, {4, 5, 6}}) + Tensor({10, 20, 30}), {11, 22, 33, 14, 25, 36});
    check_values(Tensor({{1}, {2}}) + Tensor({{10, 20, 30}}), {11, 21, 31, 12, 22, 32});
    check_values(Tensor::scalar(1.5) + Tensor({1, 2}), {2.5, 3.5});
    // a transposed (non-contiguous) operand: a.t() is [[1, 3, 5], [2, 4, 6]]
    Tensor a({{1, 2}, {3, 4}, {5, 6}});
    check_values(a.t() + Tensor({{10, 20, 30}, {40, 50, 60}}), {11, 23, 35, 42, 54, 66});
    Tensor z = add(Tensor({1.0}, kFloat64), Tensor({2.0}, kFloat64));
    CHECK(z.dtype() == kFloat64);
    CHECK(z.shape() == Shape{1});
  }
  SUBCASE("gradient values") {
    // z = a + b with a [2, 1], b [3]: each a element feeds 3 outputs, each b element 2.
    Tensor a = Tensor::zeros({2, 1}).requires_grad_(), b = Tensor::zeros({3}).requires_grad_();
    (a + b).backward(Tensor::ones({2, 3}));
    check_values(a.grad(), {3, 3});
    check_values(b.grad(), {2, 2, 2});
  }
  SUBCASE("gradient") { check_binary_gradients(add, randn64); }
  SUBCASE("errors") { check_binary_errors(add, "add"); }
}

TEST_CASE("elementwise/sub") {
  SUBCASE("values") {
    check_values(Tensor({{1}, {2}}) - Tensor({10, 20, 30}), {-9, -19, -29, -8, -18, -28});
    check_values(Tensor({5, 7}) - Tensor::scalar(2), {3, 5});
  }
  SUBCASE("gradient values") {
    Tensor a = Tensor::zeros({2, 3}).requires_grad_(), b = Tensor::zeros({3}).requires_grad_();
    (a - b).backward(Tensor::ones({2, 3}));
    check_values(a.grad(), {1, 1, 1, 1, 1, 1});
    check_values(b.grad(), {-2, -2, -2});
  }
  SUBCASE("gradient") { check_binary_gradients(sub, randn64); }
  SUBCASE("errors") { check_binary_errors(sub, "sub"); }
}

TEST_CASE("elementwise/mul") {
  SUBCASE("values") {
    check_values(Tensor({{1}, {2}}) * Tensor({3, 4, 5}), {3, 4, 5, 6, 8, 10});
    check_values(Tensor({1.5, -2}) * Tensor({2, 0.5}), {3, -1});
  }
  SUBCASE("gradient values") {
    // da_i = sum_j b_j,  db_j = sum_i a_i
    Tensor a = Tensor({{1}, {2}}).requires_grad_(), b = Tensor({3, 4, 5}).requires_grad_();
    (a * b).backward(Tensor::ones({2, 3}));
    check_values(a.grad(), {12, 12});
    check_values(b.grad(), {3, 3, 3});
  }
  SUBCASE("only one side requires grad") {
    Tensor a = Tensor({1, 2}).requires_grad_(), b({3, 4});
    (a * b).backward(Tensor::ones({2}));
    check_values(a.grad(), {3, 4});
    CHECK_FALSE(b.grad().defined());
  }
  SUBCASE("gradient") { check_binary_gradients(mul, randn64); }
  SUBCASE("errors") { check_binary_errors(mul, "mul"); }
}

TEST_CASE("elementwise/div") {
  SUBCASE("values") {
    check_values(Tensor({1, 2, 3}) / Tensor({2, 4, 8}), {0.5, 0.5, 0.375});
    check_values(Tensor({{1}, {2}}) / Tensor({1, 4}), {1, 0.25, 2, 0.5});
    Tensor inf = Tensor({1.0}) / Tensor({0.0});
    CHECK(std::isinf(inf.item()));
  }
  SUBCASE("gradient values") {
    // z = a / b: da = 1/b, db = -a/b^2
    Tensor a = Tensor({3.0}).requires_grad_(), b = Tensor({2.0}).requires_grad_();
    (a / b).backward();
    check_values(a.grad(), {0.5});
    check_values(b.grad(), {-0.75});
  }
  SUBCASE("gradient") { check_binary_gradients(div, positive64); }
  SUBCASE("errors") { check_binary_errors(div, "div"); }
}

// ---- a tensor with a double -------------------------------------------------------

TEST_CASE("elementwise/scalar forms") {
  Tensor x({1, 2, 4});
  SUBCASE("values") {
    check_values(add(x, 2.0), {3, 4, 6});
    check_values(x + 2.0, {3, 4, 6});
    check_values(2.0 + x, {3, 4, 6});
    check_values(x - 2.0, {-1, 0, 2});
    check_values(2.0 - x, {1, 0, -2});
    check_values(rsub(x, 2.0), {1, 0, -2});
    check_values(mul(x, 3.0), {3, 6, 12});
    check_values(x * 3.0, {3, 6, 12});
    check_values(3.0 * x, {3, 6, 12});
    check_values(x / 4.0, {0.25, 0.5, 1});
    check_values(4.0 / x, {4, 2, 1});
    check_values(rdiv(x, 4.0), {4, 2, 1});
    // the scalar takes the tensor's dtype
    CHECK((Tensor({1.0}, kFloat64) + 0.1).dtype() == kFloat64);
    CHECK((Tensor({1.0}, kFloat64) + 0.1).item() == 1.1);
  }
  SUBCASE("gradient values") {
    check_values(grad_of([](const Tensor& t) { return t + 2.0; }, Tensor({1, 2})), {1, 1});
    check_values(grad_of([](const Tensor& t) { return 2.0 - t; }, Tensor({1, 2})), {-1, -1});
    check_values(grad_of([](const Tensor& t) { return t * 3.0; }, Tensor({1, 2})), {3, 3});
    check_values(grad_of([](const Tensor& t) { return t / 4.0; }, Tensor({1, 2})), {0.25, 0.25});
    // d(4/t)/dt = -4/t^2
    check_values(grad_of([](const Tensor& t) { return 4.0 / t; }, Tensor({1, 2})), {-4, -1});
  }
  SUBCASE("gradient") {
    auto check_all = [](const Tensor& in) {
      CHECK(grad_ok([](const TensorList& t) { return add(t[0], 0.7); }, {in}));
      CHECK(grad_ok([](const TensorList& t) { return mul(t[0], -1.3); }, {in}));
      CHECK(grad_ok([](const TensorList& t) { return rsub(t[0], 0.7); }, {in}));
      CHECK(grad_ok([](const TensorList& t) { return rdiv(t[0], 1.7); }, {in}));
      CHECK(grad_ok([](const TensorList& t) { return t[0] / 3.0; }, {in}));
      CHECK(grad_ok([](const TensorList& t) { return 2.0 / t[0].t(); }, {in}));
    };
    manual_seed(1);
    check_all(positive64({3, 4}));
    check_all(positive64({1, 1}));
  }
  SUBCASE("errors") {
    Tensor i = Tensor::ones({2}, kInt64);
    CHECK_THROWS_CONTAINING(add(i, 1.0), "add: input has dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(mul(i, 2.0), "mul: input has dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(rsub(i, 2.0), "rsub: input has dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(rdiv(i, 2.0), "rdiv: input has dtype int64", DTypeError);
  }
}

// ---- unary ops ----------------------------------------------------------------------

TEST_CASE("elementwise/neg") {
  SUBCASE("values") { check_values(-Tensor({1, -2, 0}), {-1, 2, 0}); }
  SUBCASE("gradient values") {
    check_values(grad_of([](const Tensor& t) { return -t; }, Tensor({1, 2})), {-1, -1});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& x) { return neg(x[0]); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return neg(x[0].t()); }, {randn64({3, 4})}));
  }
  SUBCASE("errors") { check_unary_int64_error([](const Tensor& t) { return neg(t); }, "neg"); }
}

TEST_CASE("elementwise/pow") {
  SUBCASE("values") {
    check_values(pow(Tensor({1, 2, 3}), 2), {1, 4, 9});
    check_values(Tensor({4, 9}).pow(0.5), {2, 3});
    check_values(pow(Tensor({2, 4}), -1), {0.5, 0.25});
    check_values(pow(Tensor({0, 5}), 0), {1, 1});  // 0^0 = 1, as in C and PyTorch
    check_values(pow(Tensor({-2}), 3), {-8});
  }
  SUBCASE("gradient values") {
    // d x^3 / dx = 3 x^2
    check_values(grad_of([](const Tensor& t) { return pow(t, 3); }, Tensor({-2, 1})), {12, 3});
    // exponent 0: the derivative is 0 everywhere, including x = 0 (not 0 * 0^-1 = NaN)
    check_values(grad_of([](const Tensor& t) { return pow(t, 0); }, Tensor({0, 2})), {0, 0});
    // exponent 2 takes the x * x path, forward and backward: d x^2 / dx = 2 x
    check_values(pow(Tensor({-3, 0.5}), 2), {9, 0.25});
    check_values(grad_of([](const Tensor& t) { return pow(t, 2); }, Tensor({-3, 0.5})), {-6, 1});
    // exponent 1 at x = 0: 1 * 0^0 = 1
    check_values(grad_of([](const Tensor& t) { return pow(t, 1); }, Tensor({0, 2})), {1, 1});
  }
  SUBCASE("gradient") {
    manual_seed(2);
    for (double e : {2.0, 3.0, 1.0, 0.0, -1.0}) {
      CAPTURE(e);
      CHECK(grad_ok([e](const TensorList& x) { return pow(x[0], e); }, {positive64({3, 4})}));
      CHECK(grad_ok([e](const TensorList& x) { return pow(x[0].t(), e); }, {randn64({3, 4}) + 3.0}));
    }
    for (double e : {0.5, -1.5, 2.5}) {
      CAPTURE(e);
      CHECK(grad_ok([e](const TensorList& x) { return pow(x[0].t(), e); }, {positive64({3, 4})}));
    }
  }
  SUBCASE("errors") { check_unary_int64_error([](const Tensor& t) { return pow(t, 2); }, "pow"); }
}

TEST_CASE("elementwise/exp") {
  SUBCASE("values") {
    check_values(exp(Tensor({0, 1, -1})), {1, 2.718281828459045, 0.36787944117144233});
    check_values(exp(Tensor({{0, 1}, {-1, 2}}, kFloat64).t()),
                 {1, 0.36787944117144233, 2.718281828459045, 7.38905609893065});
  }
  SUBCASE("gradient values") {
    check_values(grad_of([](const Tensor& t) { return exp(t); }, Tensor({0, 1})),
                 {1, 2.718281828459045});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& x) { return exp(x[0]); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return exp(x[0].t()); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return exp(x[0]); }, {randn64({})}));
  }
  SUBCASE("errors") { check_unary_int64_error([](const Tensor& t) { return exp(t); }, "exp"); }
}

TEST_CASE("elementwise/log") {
  SUBCASE("values") {
    check_values(log(Tensor({1, 2.718281828459045, 0.5}, kFloat64)), {0, 1, -0.6931471805599453});
    Tensor edge = log(Tensor({0, -1}));
    CHECK(std::isinf(edge.at({0})));
    CHECK(edge.at({0}) < 0);
    CHECK(std::isnan(edge.at({1})));
  }
  SUBCASE("gradient values") {
    check_values(grad_of([](const Tensor& t) { return log(t); }, Tensor({0.5, 4})), {2, 0.25});
  }
  SUBCASE("gradient") {
    manual_seed(3);
    CHECK(grad_ok([](const TensorList& x) { return log(x[0]); }, {positive64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return log(x[0].t()); }, {positive64({3, 4})}));
  }
  SUBCASE("errors") { check_unary_int64_error([](const Tensor& t) { return log(t); }, "log"); }
}

TEST_CASE("elementwise/sqrt") {
  SUBCASE("values") {
    check_values(sqrt(Tensor({4, 2, 0}, kFloat64)), {2, 1.4142135623730951, 0});
  }
  SUBCASE("gradient values") {
    // d sqrt(x) / dx = 1 / (2 sqrt x)
    check_values(grad_of([](const Tensor& t) { return sqrt(t); }, Tensor({4, 0.25})), {0.25, 1});
  }
  SUBCASE("gradient") {
    manual_seed(4);
    CHECK(grad_ok([](const TensorList& x) { return sqrt(x[0]); }, {positive64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return sqrt(x[0].t()); }, {positive64({3, 4})}));
  }
  SUBCASE("errors") { check_unary_int64_error([](const Tensor& t) { return sqrt(t); }, "sqrt"); }
}

TEST_CASE("elementwise/abs") {
  SUBCASE("values") { check_values(abs(Tensor({-3, 0, 2.5})), {3, 0, 2.5}); }
  SUBCASE("gradient values") {
    // sign(x), with 0 at 0
    check_values(grad_of([](const Tensor& t) { return abs(t); }, Tensor({-3, 0, 2.5})), {-1, 0, 1});
  }
  SUBCASE("gradient") {
    // Random normals are almost surely far (>> eps) from the kink at 0; the seed makes it sure.
    manual_seed(5);
    CHECK(grad_ok([](const TensorList& x) { return abs(x[0]); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return abs(x[0].t()); }, {randn64({3, 4})}));
  }
  SUBCASE("errors") { check_unary_int64_error([](const Tensor& t) { return abs(t); }, "abs"); }
}

TEST_CASE("elementwise/clamp") {
  Tensor x({-2, -0.5, 0, 0.5, 2});
  SUBCASE("values") {
    check_values(clamp(x, -1.0, 1.0), {-1, -0.5, 0, 0.5, 1});
    check_values(clamp(x, 0.0, std::nullopt), {0, 0, 0, 0.5, 2});
    check_values(clamp(x, std::nullopt, 0.0), {-2, -0.5, 0, 0, 0});
    check_values(clamp(x, std::nullopt, std::nullopt), {-2, -0.5, 0, 0.5, 2});
    check_values(clamp(x, 0.5, 0.5), {0.5, 0.5, 0.5, 0.5, 0.5});  // min == max is allowed
    double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(clamp(Tensor({nan}), -1.0, 1.0).item()));  // NaN stays NaN
  }
  SUBCASE("gradient values") {
    // 1 where the input was inside [min, max] (bounds included, as in PyTorch), 0 where clamped
    check_values(grad_of([](const Tensor& t) { return clamp(t, -1.0, 1.0); },
                         Tensor({-2, -1, 0, 1, 2})),
                 {0, 1, 1, 1, 0});
    check_values(grad_of([](const Tensor& t) { return clamp(t, 0.0, std::nullopt); },
                         Tensor({-2, 3})),
                 {0, 1});
  }
  SUBCASE("gradient") {
    manual_seed(6);  // no input within eps of a bound
    CHECK(grad_ok([](const TensorList& t) { return clamp(t[0], -0.5, 0.5); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& t) { return clamp(t[0].t(), -0.5, std::nullopt); },
                  {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& t) { return clamp(t[0], std::nullopt, 0.2); },
                  {randn64({3, 4})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(clamp(x, 2.0, 1.0), "clamp: min (2) is greater than max (1)",
                            ValueError);
    check_unary_int64_error([](const Tensor& t) { return clamp(t, 0.0, 1.0); }, "clamp");
  }
}

// ---- across all of them -----------------------------------------------------------------

TEST_CASE("elementwise/empty tensors") {
  Tensor a = Tensor::zeros({0, 3}).requires_grad_();
  Tensor z = exp(a * Tensor::ones({3}) + 1.0);
  CHECK(z.shape() == Shape{0, 3});
  z.backward(Tensor::zeros({0, 3}));
  CHECK(a.grad().shape() == Shape{0, 3});
  CHECK_THROWS_AS(Tensor::zeros({0, 3}) + Tensor::zeros({2, 3}), ShapeError);
}

TEST_CASE("elementwise/large tensors") {
  // Above kParallelGrain elements the loops run on OpenMP threads; results must not change.
  const int64_t n = 300;
  Tensor a = Tensor::arange(n * n, kFloat64).reshape({n, n});
  Tensor b = Tensor::arange(n, kFloat64);
  std::vector<double> sum = (a + b).to_vector<double>();             // broadcast path
  std::vector<double> tsum = (a.t() + a).to_vector<double>();        // strided path
  std::vector<double> sq = (a * a).to_vector<double>();              // contiguous path
  std::vector<double> ex = exp(a.t() * -1e-6).to_vector<double>();   // strided unary path
  bool ok = true;
  for (int64_t i = 0; i < n && ok; ++i)
    for (int64_t j = 0; j < n && ok; ++j) {
      double aij = double(i * n + j), aji = double(j * n + i);
      ok = sum[i * n + j] == aij + j && tsum[i * n + j] == aji + aij &&
           sq[i * n + j] == aij * aij && std::abs(ex[i * n + j] - std::exp(-1e-6 * aji)) < 1e-12;
    }
  CHECK(ok);
}

TEST_CASE("elementwise: one value against a tensor, plain or expanded with stride 0") {
  // binary_map holds a single value (or one expanded to every position, as the
  // gradient of mean() is) in a register; the results must equal the general path's.
  manual_seed(3);
  Tensor x = Tensor::randn({4, 5});
  for (const Tensor& one : {Tensor::scalar(2.5), Tensor({{2.5}}), Tensor::scalar(2.5).expand({4, 5})}) {
    CAPTURE(one.shape());
    Tensor dense = Tensor::full({4, 5}, 2.5);
    check_values(x - one, (x - dense).to_vector<double>());
    check_values(one - x, (dense - x).to_vector<double>());
    check_values(one / x, (dense / x).to_vector<double>());
  }
  // not one value: an expand along one dim only keeps the general path, and is right too
  Tensor row = Tensor({1.0, 2.0, 3.0, 4.0, 5.0}).expand({4, 5});
  check_values(x * row, (x * row.contiguous()).to_vector<double>());
  // the mean() gradient flowing through pow(x, 2): 2 x / n
  Tensor p = x.clone().requires_grad_();
  p.pow(2).mean().backward();
  check_values(p.grad(), (x * (2.0 / 20)).to_vector<double>(), 1e-6);
}

TEST_CASE("elementwise: a column [..., N, 1] against [..., N, M], either side") {
  // binary_map's row-by-row path for a column broadcast along each row; checked
  // against the same operation on a materialized (contiguous) copy.
  manual_seed(4);
  for (const Shape& big : {Shape{4, 5}, Shape{2, 3, 6}, Shape{3, 1}}) {
    CAPTURE(big);
    Shape col_shape = big;
    col_shape.back() = 1;
    Tensor x = Tensor::randn(big), col = Tensor::randn(col_shape);
    Tensor dense = col.expand(big).contiguous();
    check_values(x - col, (x - dense).to_vector<double>());
    check_values(col - x, (dense - x).to_vector<double>());
    check_values(col / x, (dense / x).to_vector<double>());
  }
  // gradients through the column path: d/dc sum(x - c) = -M per row
  Tensor c = Tensor::randn({4, 1}).requires_grad_();
  (Tensor::randn({4, 5}) - c).sum().backward();
  check_values(c.grad(), {-5, -5, -5, -5});
}

TEST_CASE("elementwise: the unary functions as methods, x.abs() as in PyTorch") {
  const Tensor x = Tensor({-1.5, 0.25, 2.0}, kFloat64);
  const Tensor pos = Tensor({0.5, 1.0, 4.0}, kFloat64);
  // Each method is its free function: the same values, and a gradient through it.
  const std::vector<std::pair<Tensor, Tensor>> pairs{
      {x.abs(), abs(x)},   {x.neg(), neg(x)},   {x.exp(), exp(x)},         {pos.log(), log(pos)},
      {pos.sqrt(), sqrt(pos)}, {x.tanh(), tanh(x)}, {x.sigmoid(), sigmoid(x)}, {x.relu(), relu(x)}};
  for (const auto& [method, free] : pairs) CHECK(method.to_vector<double>() == free.to_vector<double>());
  check_values(x.abs(), {1.5, 0.25, 2.0});
  Tensor w = x.clone().requires_grad_();
  (w.abs().sum() + w.tanh().sum()).backward();
  const std::vector<double> g = w.grad().to_vector<double>();
  CHECK(g[0] == doctest::Approx(-1 + (1 - std::tanh(-1.5) * std::tanh(-1.5))));
}
