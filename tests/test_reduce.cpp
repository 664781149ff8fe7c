// Reductions (ops/reduce.h): for every op, values against numbers worked out by
// hand (or with Python's statistics module), keepdim on and off, negative and
// multiple dims, a float64 gradcheck (including non-contiguous inputs, which take
// the permute-and-copy path), each error the op raises, and a large input that
// runs the OpenMP paths against a plain reference loop.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {

// [[1, -2, 3, 0.5], [4, 5, -6, 2], [0, 7, 1, -3]]: no ties along either dim.
Tensor sample(DType dtype = kFloat32) {
  return Tensor({{1, -2, 3, 0.5}, {4, 5, -6, 2}, {0, 7, 1, -3}}, dtype);
}

// arange(24) as [2, 3, 4]: x[i, j, k] = 12 i + 4 j + k.
Tensor cube(DType dtype = kFloat32) { return Tensor::arange(24, dtype).reshape({2, 3, 4}); }

// d sum(fn(x) * w) / dx for a fresh leaf holding x (w = ones when not given).
Tensor grad_of(const std::function<Tensor(const Tensor&)>& fn, Tensor x, Tensor w = {}) {
  x = x.detach().clone().requires_grad_();
  Tensor y = fn(x);
  y.backward(w.defined() ? w : Tensor::ones_like(y));
  return x.grad();
}

// Dims lists spelled as vectors, for readability in the long checks below.
using Dims = std::vector<int64_t>;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// ---- sum --------------------------------------------------------------------------------

TEST_CASE("reduce/sum") {
  SUBCASE("values") {
    Tensor x({{1, 2, 3}, {4, 5, 6}});
    Tensor all = x.sum();
    CHECK(all.shape() == Shape{});
    CHECK(all.item() == 21);
    check_values(x.sum({0}), {5, 7, 9});
    check_values(x.sum({1}), {6, 15});
    Tensor k = x.sum({-1}, /*keepdim=*/true);
    CHECK(k.shape() == Shape{2, 1});
    check_values(k, {6, 15});
    CHECK(x.sum({0, 1}).shape() == Shape{});
    CHECK(x.sum({1, -2}, true).shape() == Shape{1, 1});
    CHECK(x.sum({1, -2}).item() == 21);
  }
  SUBCASE("multiple dims, with and without a gap between them") {
    Tensor x = cube();
    // dims 0 and 2 are not adjacent: the permute-and-copy path
    check_values(x.sum({0, 2}), {60, 92, 124});
    check_values(x.sum({2, 0}), {60, 92, 124});  // order does not matter
    Tensor k = x.sum({-1, 0}, true);
    CHECK(k.shape() == Shape{1, 3, 1});
    check_values(k, {60, 92, 124});
    // dims 0 and 1 are adjacent: the no-copy [O, R, I] path with I = 4
    Tensor s01 = x.sum({0, 1}, true);
    CHECK(s01.shape() == Shape{1, 1, 4});
    check_values(s01, {60, 66, 72, 78});
    check_values(x.sum({1}), {12, 15, 18, 21, 48, 51, 54, 57});
  }
  SUBCASE("non-contiguous input") {
    Tensor x({{1, 2, 3}, {4, 5, 6}});
    check_values(x.t().sum({0}), {6, 15});  // x.t() is [3, 2]
    check_values(x.t().sum({1}), {5, 7, 9});
    CHECK(x.t().sum().item() == 21);
    // a strided slice: k in {0, 2}, so each output j sums 12 i + 4 j + k over i in {0, 1}
    check_values(cube().slice(2, 0, 4, 2).sum({0, 2}), {28, 44, 60});
  }
  SUBCASE("empty dims list reduces nothing") {
    Tensor x({{1, 2}, {3, 4}});
    Tensor y = x.sum(std::vector<int64_t>{});
    CHECK(y.shape() == Shape{2, 2});
    check_values(y, {1, 2, 3, 4});
  }
  SUBCASE("0-d input") {
    Tensor s = Tensor::scalar(2.5);
    CHECK(s.sum().item() == 2.5);
    CHECK(s.sum({0}).item() == 2.5);
    CHECK(s.sum({-1}, true).shape() == Shape{});
  }
  SUBCASE("empty tensors sum to 0") {
    Tensor e = Tensor::zeros({0, 3});
    CHECK(e.sum().item() == 0);
    Tensor s0 = e.sum({0});
    CHECK(s0.shape() == Shape{3});
    check_values(s0, {0, 0, 0});
    CHECK(e.sum({1}).shape() == Shape{0});
  }
  SUBCASE("int64 sums stay int64 and exact") {
    Tensor x = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4000000000LL}, {2, 2});
    Tensor s = x.sum({0});
    CHECK(s.dtype() == kInt64);
    CHECK(s.to_vector<int64_t>() == std::vector<int64_t>{4, 4000000002LL});
    CHECK(x.sum().to_vector<int64_t>() == std::vector<int64_t>{4000000006LL});
  }
  SUBCASE("float32 accumulates in double") {
    // 2^24 + 1 rounds back to 2^24 in float32, so a float32 running sum would stay
    // at 2^24 forever; in double the thousand ones survive.
    std::vector<float> v(1001, 1.0f);
    v[0] = 16777216.0f;
    CHECK(Tensor::from_vector(v, {1001}).sum().item() == 16778216.0);
  }
  SUBCASE("gradient values") {
    // y = sum over dim 1 of a [2, 3]: each x[i, j] gets w[i]
    check_values(grad_of([](const Tensor& x) { return x.sum({1}); }, Tensor::zeros({2, 3}),
                         Tensor({10, 20})),
                 {10, 10, 10, 20, 20, 20});
    check_values(grad_of([](const Tensor& x) { return x.sum(); }, Tensor::zeros({2, 2})), {1, 1, 1, 1});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& x) { return x[0].sum(); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].sum({1}); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].sum({0, 2}, true); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].sum({-1, 0}); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].t().sum({0}); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].slice(1, 0, 5, 2).sum({1}, true); },
                  {randn64({3, 5})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].sum({0}); }, {randn64({})}));
  }
  SUBCASE("errors") {
    Tensor x = Tensor::ones({2, 3});
    CHECK_THROWS_CONTAINING(x.sum({1, -1}), "sum: dim 1 appears more than once in dims [1, -1]",
                            ValueError);
    CHECK_THROWS_CONTAINING(x.sum({2}), "sum: dim 2 is out of range", IndexError);
    CHECK_THROWS_CONTAINING(x.sum({-3}), "sum: dim -3 is out of range", IndexError);
  }
}

// ---- mean -------------------------------------------------------------------------------

TEST_CASE("reduce/mean") {
  SUBCASE("values") {
    Tensor x = cube();
    CHECK(x.mean().item() == 11.5);
    check_values(x.mean({0, 2}), {7.5, 11.5, 15.5});
    Tensor k = x.mean({-2}, true);
    CHECK(k.shape() == Shape{2, 1, 4});
    check_values(k, {4, 5, 6, 7, 16, 17, 18, 19});
    check_values(x.permute({2, 0, 1}).mean({0}), {1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
    CHECK(Tensor({1, 2}, kFloat64).mean().dtype() == kFloat64);
  }
  SUBCASE("empty tensors: the mean of nothing is NaN") {
    CHECK(std::isnan(Tensor::zeros({0}).mean().item()));
    Tensor m = Tensor::zeros({0, 2}).mean({0});
    CHECK(m.shape() == Shape{2});
    CHECK(std::isnan(m.at({1})));
  }
  SUBCASE("gradient values") {
    check_values(grad_of([](const Tensor& x) { return x.mean({0}); }, Tensor::zeros({4, 2})),
                 {0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& x) { return x[0].mean(); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].mean({1}, true); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].mean({0, 2}); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].t().mean({-1}); }, {randn64({3, 4})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(Tensor::ones({2}, kInt64).mean(), "mean: input has dtype int64",
                            DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::ones({2, 2}).mean({0, -2}), "mean: dim 0 appears more than once",
                            ValueError);
    CHECK_THROWS_CONTAINING(Tensor::ones({2, 2}).mean({5}), "mean: dim 5 is out of range", IndexError);
  }
}

// ---- max and min --------------------------------------------------------------------------

TEST_CASE("reduce/max and min") {
  SUBCASE("values") {
    Tensor x = sample();
    CHECK(x.max().item() == 7);
    CHECK(x.min().item() == -6);
    CHECK(x.max().shape() == Shape{});
    check_values(x.max(0), {4, 7, 3, 2});
    check_values(x.min(1), {-2, -6, -3});
    Tensor k = x.min(-1, true);
    CHECK(k.shape() == Shape{3, 1});
    check_values(k, {-2, -6, -3});
    check_values(x.t().max(1), {4, 7, 3, 2});  // non-contiguous
    check_values(cube().max(1), {8, 9, 10, 11, 20, 21, 22, 23});
    CHECK(max(Tensor::scalar(3.0), 0).item() == 3);
  }
  SUBCASE("NaN propagates, as in PyTorch") {
    Tensor x({{1, kNaN, 3}, {4, 5, 6}});
    CHECK(std::isnan(x.max().item()));
    Tensor m = x.min(1);
    CHECK(std::isnan(m.at({0})));
    CHECK(m.at({1}) == 4);
  }
  SUBCASE("gradient goes to the max; ties split it evenly") {
    check_values(grad_of([](const Tensor& x) { return x.max(); }, Tensor({1, 3, 3, 2})), {0, 0.5, 0.5, 0});
    check_values(grad_of([](const Tensor& x) { return x.min(); }, Tensor({1, 1, 1, 2})),
                 {1.0 / 3, 1.0 / 3, 1.0 / 3, 0});
    // along dim 1: row 0 has a tie, row 1 does not; weights 10 and 20
    check_values(grad_of([](const Tensor& x) { return x.max(1); }, Tensor({{5, 1, 5}, {0, 9, 2}}),
                         Tensor({10, 20})),
                 {5, 0, 5, 0, 20, 0});
  }
  SUBCASE("gradient") {
    // randn has no ties (with probability 1), where the max is differentiable
    CHECK(grad_ok([](const TensorList& x) { return x[0].max(); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].min(); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].max(0); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].min(-1, true); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].max(1, true); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].t().min(0); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0].slice(0, 1, 4, 2).max(1); }, {randn64({4, 5})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(Tensor::zeros({0, 3}).max(),
                            "max: the input of shape [0, 3] is empty", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({0, 3}).min(0),
                            "min: cannot reduce over a dim of size 0 (input shape [0, 3]", ValueError);
    CHECK(Tensor::zeros({0, 3}).max(1).shape() == Shape{0});  // nothing empty is reduced: fine
    CHECK_THROWS_CONTAINING(Tensor::ones({2}, kInt64).max(), "max: input has dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::ones({2}, kInt64).min(0), "min: input has dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::ones({2, 3}).max(2), "max: dim 2 is out of range", IndexError);
  }
}

// ---- var ----------------------------------------------------------------------------------

TEST_CASE("reduce/var") {
  SUBCASE("values") {
    Tensor x = sample(kFloat64);
    CHECK(var(x).item() == doctest::Approx(12.839015151515152));
    CHECK(var(x.flatten(), Dims{0}, false, 0).item() == doctest::Approx(11.769097222222221));
    check_values(var(x, Dims{0}), {4.333333333333333, 22.333333333333332, 22.333333333333332,
                               6.583333333333333});
    Tensor r({{1, 2, 3, 4}, {2, 4, 6, 8}});
    check_values(var(r, Dims{1}), {5.0 / 3, 20.0 / 3});
    Tensor k = var(r, {-1}, true, 0);
    CHECK(k.shape() == Shape{2, 1});
    check_values(k, {1.25, 5});
    check_values(var(r.t(), Dims{0}), {5.0 / 3, 20.0 / 3});           // non-contiguous
    // j = 0: values 0..3 and 12..15, mean 7.5, squared deviations sum to 2 (7.5^2 + 6.5^2 + 5.5^2 + 4.5^2) = 298
    check_values(var(cube(), {0, 2}, false, 0), {37.25, 37.25, 37.25});
    CHECK(x.var().item() == var(x).item());  // the methods, as torch's x.var()
    CHECK(r.var({-1}, true, 0).to_vector() == k.to_vector());
  }
  SUBCASE("two passes: no cancellation when the mean is large") {
    // sum(x^2) - n mean^2 would lose every digit of the answer here
    CHECK(var(Tensor({1e9 + 1, 1e9 + 2, 1e9 + 3}, kFloat64)).item() == 1.0);
  }
  SUBCASE("too few elements: inf or NaN, as in PyTorch") {
    CHECK(std::isnan(var(Tensor({5.0})).item()));                 // 0 / 0
    CHECK(var(Tensor({1.0, 2.0}), Dims{0}, false, 3).item() == kInf);            // 0.5 / max(0, 2 - 3)
    CHECK(std::isnan(var(Tensor::zeros({0})).item()));
    CHECK(var(Tensor({1.0, 3.0}), Dims{0}, false, 0).item() == 1);
  }
  SUBCASE("gradient values") {
    // var of [1, 3] (n = 2, correction 1): m = 2, dx = 2 (x - m) / 1 = [-2, 2]
    check_values(grad_of([](const Tensor& x) { return var(x); }, Tensor({1, 3})), {-2, 2});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& x) { return var(x[0]); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return var(x[0], Dims{0}, false, 0); }, {randn64({5})}));
    CHECK(grad_ok([](const TensorList& x) { return var(x[0], Dims{1}); }, {randn64({3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return var(x[0], {0, 2}, true, 0); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& x) { return var(x[0].t(), {-1}, false, 2); }, {randn64({4, 3})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(var(Tensor({1, 2}), Dims{0}, false, -1), "var: correction is -1", ValueError);
    CHECK_THROWS_CONTAINING(var(Tensor::ones({2}, kInt64)), "var: input has dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(var(Tensor::ones({2, 2}), {1, 1}), "var: dim 1 appears more than once",
                            ValueError);
    CHECK_THROWS_CONTAINING(var(Tensor::ones({2, 2}), Dims{2}), "var: dim 2 is out of range", IndexError);
  }
}

// ---- argmax and argmin ------------------------------------------------------------------------

TEST_CASE("reduce/argmax and argmin") {
  SUBCASE("values") {
    Tensor x = sample();
    Tensor a = argmax(x, 0);
    CHECK(a.dtype() == kInt64);
    CHECK(a.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 0, 1});
    CHECK(argmin(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3});
    Tensor k = x.argmax(-1, true);
    CHECK(k.shape() == Shape{3, 1});
    CHECK(k.to_vector<int64_t>() == std::vector<int64_t>{2, 1, 1});
    CHECK(argmin(x.t(), 0).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3});  // non-contiguous
    CHECK(argmax(cube(), 1).to_vector<int64_t>() == std::vector<int64_t>(8, 2));
    CHECK(argmax(Tensor::scalar(4.0), 0).item() == 0);
  }
  SUBCASE("first index on ties; NaN wins") {
    CHECK(argmax(Tensor({1, 5, 5, 2}), 0).item() == 1);
    CHECK(argmin(Tensor({3, 0, 1, 0}), 0).item() == 1);
    CHECK(argmax(Tensor({1, kNaN, 5, kNaN}), 0).item() == 1);
    CHECK(argmin(Tensor({1, 5, kNaN}), 0).item() == 2);
  }
  SUBCASE("int64 input") {
    Tensor x = Tensor::from_vector(std::vector<int64_t>{3, 9, 9, -1}, {2, 2});
    CHECK(argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
    CHECK(argmin(x, 0).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  }
  SUBCASE("no gradient") {
    Tensor x = Tensor::randn({3, 4}).requires_grad_();
    Tensor a = argmax(x, 1);
    CHECK_FALSE(a.requires_grad());
    CHECK(a.grad_fn() == nullptr);
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(argmax(Tensor::zeros({2, 0}), 1),
                            "argmax: cannot reduce over a dim of size 0 (input shape [2, 0]", ValueError);
    CHECK_THROWS_CONTAINING(argmin(Tensor::zeros({0}), 0), "argmin: cannot reduce over a dim of size 0",
                            ValueError);
    CHECK_THROWS_CONTAINING(argmax(Tensor::ones({2, 3}), -3), "argmax: dim -3 is out of range", IndexError);
  }
}

// ---- sum_to -----------------------------------------------------------------------------------

TEST_CASE("reduce/sum_to") {
  SUBCASE("same shape: returns g itself, no copy") {
    Tensor g = Tensor::randn({2, 3});
    Tensor s = sum_to(g, {2, 3});
    CHECK(s.impl_ptr() == g.impl_ptr());
  }
  SUBCASE("values") {
    Tensor g({{1, 2, 3}, {4, 5, 6}});
    Tensor a = sum_to(g, {3});  // a dropped leading dim
    CHECK(a.shape() == Shape{3});
    check_values(a, {5, 7, 9});
    Tensor b = sum_to(g, {2, 1});  // a size-1 dim
    CHECK(b.shape() == Shape{2, 1});
    check_values(b, {6, 15});
    Tensor c = sum_to(g, {1, 3});
    CHECK(c.shape() == Shape{1, 3});
    check_values(c, {5, 7, 9});
    Tensor d = sum_to(g, {});  // everything, to 0-d
    CHECK(d.shape() == Shape{});
    CHECK(d.item() == 21);
    // both at once: [2, 3, 4] -> [3, 1]
    check_values(sum_to(cube(), {3, 1}), {60, 92, 124});
    // a non-contiguous g: [3, 2, 4] -> [2, 1]; output i sums 12 i + 4 j + k over j, k
    check_values(sum_to(cube().permute({1, 0, 2}), {2, 1}), {66, 210});
  }
  SUBCASE("it undoes a broadcast in add's backward") {
    Tensor a = Tensor::zeros({3, 1}).requires_grad_(), b = Tensor::zeros({4}).requires_grad_();
    (a + b).backward(Tensor::arange(12).reshape({3, 4}));
    check_values(a.grad(), {6, 22, 38});
    check_values(b.grad(), {12, 15, 18, 21});
  }
  SUBCASE("gradient (when its input requires grad)") {
    CHECK(grad_ok([](const TensorList& x) { return sum_to(x[0], {3, 1}); }, {randn64({2, 3, 4})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(sum_to(Tensor::ones({2, 3}), {4}),
                            "sum_to: cannot sum a tensor of shape [2, 3] down to [4]", ShapeError);
    CHECK_THROWS_CONTAINING(sum_to(Tensor::ones({3}), {2, 3}), "sum_to: cannot sum", ShapeError);
    CHECK_THROWS_CONTAINING(sum_to(Tensor::ones({2, 3}), {2, 2}), "[2, 2] must broadcast to [2, 3]",
                            ShapeError);
  }
}

// ---- large inputs: the OpenMP paths --------------------------------------------------------------

TEST_CASE("reduce/large tensors") {
  // 300 x 300 = 90,000 elements, above kParallelGrain: every shape of the kernel runs
  // on threads (per-row for the last dim, column blocks for dim 0, chunks for the full
  // reduction, the permute path for dims {0, 2}). Compare with plain loops in double.
  manual_seed(7);
  const int64_t n = 300;
  Tensor x = Tensor::randn({n, n});
  std::vector<double> v = x.to_vector<double>();
  std::vector<double> rows(n, 0), cols(n, 0), row_max(n, -kInf);
  std::vector<int64_t> col_argmin(n, 0);
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double e = v[i * n + j];
      rows[i] += e;
      cols[j] += e;
      total += e;
      row_max[i] = std::max(row_max[i], e);
      if (e < v[col_argmin[j] * n + j]) col_argmin[j] = i;
    }
  check_values(x.sum({1}), rows, 1e-5);
  check_values(x.sum({0}), cols, 1e-5);
  check_values(x.t().sum({1}), cols, 1e-5);
  CHECK(x.sum().item() == doctest::Approx(total).epsilon(1e-5));
  check_values(x.max(1), row_max, 1e-12);  // exact in fact: max does no arithmetic
  CHECK(argmin(x, 0).to_vector<int64_t>() == col_argmin);
  std::vector<double> row_var(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) row_var[i] += (v[i * n + j] - rows[i] / n) * (v[i * n + j] - rows[i] / n);
    row_var[i] /= n - 1;
  }
  check_values(var(x, Dims{1}), row_var, 1e-5);

  // dims {0, 2} of [30, 50, 60]: a gap between the dims, so the permute path
  Tensor c = Tensor::randn({30, 50, 60}, kFloat64);
  std::vector<double> cv = c.to_vector<double>(), mid(50, 0);
  for (int64_t i = 0; i < 30; ++i)
    for (int64_t j = 0; j < 50; ++j)
      for (int64_t k = 0; k < 60; ++k) mid[j] += cv[(i * 50 + j) * 60 + k];
  check_values(c.sum({0, 2}), mid, 1e-12);

  // A full argmax split into chunks: the first of two equal maxima, in different chunks.
  Tensor z = Tensor::zeros({100000});
  {
    NoGradGuard guard;
    z.select(0, 90000).fill_(5);
    z.select(0, 40000).fill_(5);
  }
  CHECK(argmax(z, 0).item() == 40000);
  CHECK(z.max().item() == 5);
  // and a large full sum of float32 ones, exact in double
  CHECK(Tensor::ones({1 << 20}).sum().item() == double(1 << 20));

  // Sums walk the reduced dims in memory order: a permuted view is read where it
  // lies (no copy), and must give the sums of the logical elements all the same.
  Tensor d = Tensor::randn({20, 40, 50}, kFloat64);
  Tensor dp = d.permute({2, 0, 1});  // [50, 20, 40], not contiguous
  CHECK(dp.sum().item() == doctest::Approx(d.sum().item()).epsilon(1e-12));
  CHECK(dp.mean().item() == doctest::Approx(d.mean().item()).epsilon(1e-12));
  check_values(dp.sum({1, 2}), d.sum({0, 1}).to_vector<double>(), 1e-12);  // [50]: one sum per last dim of d
  check_values(dp.sum({0, 2}), d.sum({1, 2}).to_vector<double>(), 1e-12);  // [20]
  // argmax keeps counting in the view's own order, not memory's
  Tensor e = Tensor::zeros({30, 40});
  {
    NoGradGuard guard;
    e.select(0, 7).select(0, 3).fill_(1);  // e[7, 3]: flat index 283 in e, 3 * 30 + 7 = 97 in e.t()
  }
  CHECK(argmax(e.t().reshape({-1}), 0).item() == 97);
  CHECK(argmax(e.t(), 1).select(0, 3).item() == 7);
}
