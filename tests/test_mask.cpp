// masked_fill, where, comparisons, tril and triu.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

TEST_CASE("masked_fill") {
  Tensor x({{1, 2, 3}, {4, 5, 6}});
  SUBCASE("values: a row mask broadcast over the rows") {
    check_values(masked_fill(x, Tensor({1, 0, 1}), -1), {-1, 2, -1, -1, 5, -1});
  }
  SUBCASE("-inf, as before a softmax") {
    std::vector<double> y = masked_fill(x, Tensor({{0, 0, 1}, {1, 0, 0}}), -INFINITY).to_vector<double>();
    CHECK(y[0] == 1);
    CHECK(y[2] == -std::numeric_limits<double>::infinity());
    CHECK(y[3] == -std::numeric_limits<double>::infinity());
    CHECK(y[4] == 5);
  }
  SUBCASE("an int64 mask (any nonzero is true) on an int64 x") {
    Tensor mask = Tensor::from_vector(std::vector<int64_t>{0, -3}, {2, 1});
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor y = masked_fill(ids, mask, 7);
    CHECK(y.dtype() == kInt64);
    check_values(y, {1, 2, 3, 7, 7, 7});
  }
  SUBCASE("a transposed x") {
    check_values(masked_fill(x.t(), Tensor({0, 1}), 0), {1, 0, 2, 0, 3, 0});
  }
  SUBCASE("gradient: zero where filled") {
    Tensor mask({{1, 0, 0}, {0, 1, 0}}, kFloat64);
    CHECK(grad_ok([&](const TensorList& v) { return masked_fill(v[0], mask, 0.5); }, {randn64({2, 3})}));
    Tensor row({0, 1, 1}, kFloat64);
    CHECK(grad_ok([&](const TensorList& v) { return masked_fill(v[0].t(), row, -2); }, {randn64({3, 4})}));
    Tensor xs = Tensor({1, 2, 3}, kFloat64).requires_grad_();
    masked_fill(xs, Tensor({0, 1, 0}), 9).backward(Tensor({10, 20, 30}, kFloat64));
    check_values(xs.grad(), {10, 0, 30});
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(masked_fill(x, Tensor({1, 0}), 0),
                            "masked_fill: mask is [2], x is [2, 3]; the mask must broadcast", ShapeError);
    CHECK_THROWS_CONTAINING(masked_fill(Tensor({1, 2}), Tensor({{1, 0}, {0, 1}}), 0),
                            "the mask must broadcast to x's shape", ShapeError);
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
    CHECK_THROWS_CONTAINING(masked_fill(ids, Tensor({1, 0}), -INFINITY), "cannot be stored", ValueError);
    CHECK_THROWS_CONTAINING(masked_fill(ids, Tensor({1, 0}), 0.5), "int64", ValueError);
  }
}

TEST_CASE("where") {
  SUBCASE("values with all three broadcasting: [2, 1], [3], [1] -> [2, 3]") {
    Tensor y = where(Tensor({{1}, {0}}), Tensor({1, 2, 3}), Tensor({-1}));
    CHECK(y.shape() == Shape{2, 3});
    check_values(y, {1, 2, 3, -1, -1, -1});
  }
  SUBCASE("an int64 condition, a float64 pair") {
    Tensor cond = Tensor::from_vector(std::vector<int64_t>{0, 5, 0}, {3});
    check_values(where(cond, Tensor({1, 2, 3}, kFloat64), Tensor({4, 5, 6}, kFloat64)), {4, 2, 6});
  }
  SUBCASE("gradient, same shapes and broadcast") {
    Tensor cond({{1, 0, 1}, {0, 0, 1}}, kFloat64);
    auto fn = [&](const TensorList& v) { return where(cond, v[0], v[1]); };
    CHECK(grad_ok(fn, {randn64({2, 3}), randn64({2, 3})}));
    CHECK(grad_ok([&](const TensorList& v) { return where(cond, v[0].t(), v[1]); },
                  {randn64({3, 2}), randn64({2, 3})}));
    // These need sum_to (ops/reduce.cpp): a and b were broadcast.
    CHECK(grad_ok(fn, {randn64({3}), randn64({2, 1})}));
    Tensor a = Tensor({1, 2, 3}, kFloat64).requires_grad_();
    Tensor b = Tensor::scalar(0, kFloat64).requires_grad_();
    where(cond, a, b).backward(Tensor::ones({2, 3}, kFloat64));
    check_values(a.grad(), {1, 0, 2});  // column sums of cond
    CHECK(b.grad().item() == 3);        // how many entries took b
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(where(Tensor({1, 0}), Tensor({1, 2}), Tensor({1, 2}, kFloat64)),
                            "same dtype", DTypeError);
    CHECK_THROWS_CONTAINING(where(Tensor({1, 0, 1}), Tensor({1, 2}), Tensor({1, 2})), "where", ShapeError);
  }
}

TEST_CASE("comparisons") {
  Tensor a({1, 2, 3}), b({2, 2, 2});
  SUBCASE("values") {
    check_values(eq(a, b), {0, 1, 0});
    check_values(ne(a, b), {1, 0, 1});
    check_values(lt(a, b), {1, 0, 0});
    check_values(le(a, b), {1, 1, 0});
    check_values(gt(a, b), {0, 0, 1});
    check_values(ge(a, b), {0, 1, 1});
  }
  SUBCASE("broadcasting [3, 1] against [3], and the result dtype follows the inputs") {
    Tensor y = lt(Tensor({{1}, {2}, {3}}, kFloat64), Tensor({1, 2, 3}, kFloat64));
    CHECK(y.shape() == Shape{3, 3});
    CHECK(y.dtype() == kFloat64);
    check_values(y, {0, 1, 1, 0, 0, 1, 0, 0, 0});
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{0, 4, 0}, {3});
    Tensor pad = Tensor::from_vector(std::vector<int64_t>{0}, {1});
    Tensor is_pad = eq(ids, pad);
    CHECK(is_pad.dtype() == kInt64);
    check_values(is_pad, {1, 0, 1});
  }
  SUBCASE("NaN equals nothing, not even itself") {
    Tensor n({NAN, 1});
    check_values(eq(n, n), {0, 1});
    check_values(ne(n, n), {1, 0});
  }
  SUBCASE("no gradient flows through a comparison") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    CHECK_FALSE(gt(x, Tensor({0, 5}, kFloat64)).requires_grad());
  }
  SUBCASE("non-contiguous operands") {
    Tensor m({{1, 2}, {3, 4}});
    check_values(ge(m.t(), m), {1, 1, 0, 1});  // [[1,3],[2,4]] >= [[1,2],[3,4]]
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(eq(a, Tensor({1, 2, 3}, kFloat64)), "eq: a is float32", DTypeError);
    CHECK_THROWS_CONTAINING(lt(a, Tensor({1, 2})), "lt", ShapeError);
  }
}

TEST_CASE("tril and triu") {
  Tensor x = Tensor::arange(1, 10).reshape({3, 3});  // [[1,2,3],[4,5,6],[7,8,9]]
  SUBCASE("values and diagonals") {
    check_values(tril(x), {1, 0, 0, 4, 5, 0, 7, 8, 9});
    check_values(tril(x, -1), {0, 0, 0, 4, 0, 0, 7, 8, 0});
    check_values(tril(x, 1), {1, 2, 0, 4, 5, 6, 7, 8, 9});
    check_values(triu(x), {1, 2, 3, 0, 5, 6, 0, 0, 9});
    check_values(triu(x, 1), {0, 2, 3, 0, 0, 6, 0, 0, 0});
    check_values(triu(x, -1), {1, 2, 3, 4, 5, 6, 0, 8, 9});
    check_values(tril(x, 100), x.to_vector<double>());
    check_values(triu(x, 100), std::vector<double>(9, 0.0));
  }
  SUBCASE("non-square, batched, transposed, int64") {
    check_values(tril(Tensor::ones({2, 4})), {1, 0, 0, 0, 1, 1, 0, 0});
    check_values(triu(Tensor::ones({3, 2})), {1, 1, 0, 1, 0, 0});
    Tensor batch = Tensor::ones({2, 2, 2});
    check_values(tril(batch), {1, 0, 1, 1, 1, 0, 1, 1});
    check_values(tril(x.t()), {1, 0, 0, 2, 5, 0, 3, 6, 9});
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4}, {2, 2});
    Tensor t = triu(ids);
    CHECK(t.dtype() == kInt64);
    check_values(t, {1, 2, 0, 4});
    CHECK(tril(Tensor::ones({2, 0, 3})).shape() == Shape{2, 0, 3});
  }
  SUBCASE("gradient: dy masked the same way") {
    CHECK(grad_ok([](const TensorList& v) { return tril(v[0]); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& v) { return triu(v[0].transpose(-1, -2), 1); }, {randn64({2, 3, 4})}));
    CHECK(grad_ok([](const TensorList& v) { return tril(v[0], -1); }, {randn64({4, 3})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(tril(Tensor({1, 2, 3})), "tril: x is [3]; it needs at least 2 dims", ShapeError);
    CHECK_THROWS_CONTAINING(triu(Tensor::scalar(1)), "triu: x is []", ShapeError);
  }
}
