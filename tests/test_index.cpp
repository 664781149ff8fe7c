// Gathering and joining: index_select, concat, stack, split, chunk.
#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {
Tensor ids(std::initializer_list<NestedValues> v) { return Tensor(v, kInt64); }
}  // namespace

TEST_CASE("index_select") {
  Tensor x = Tensor::arange(12.).reshape({3, 4});  // rows [0..3], [4..7], [8..11]

  SUBCASE("rows, with repeats") {
    Tensor y = index_select(x, 0, ids({2, 0, 2}));
    CHECK(y.shape() == Shape{3, 4});
    check_values(y, {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
    CHECK_FALSE(y.shares_storage(x));  // a gather is a copy, not a view
  }
  SUBCASE("columns, negative dim") {
    Tensor y = index_select(x, -1, ids({3, 1}));
    CHECK(y.shape() == Shape{3, 2});
    check_values(y, {3, 1, 7, 5, 11, 9});
  }
  SUBCASE("middle dim of a 3-D tensor") {
    Tensor z = Tensor::arange(24.).reshape({2, 3, 4});
    Tensor y = index_select(z, 1, ids({1}));
    CHECK(y.shape() == Shape{2, 1, 4});
    check_values(y, {4, 5, 6, 7, 16, 17, 18, 19});
  }
  SUBCASE("a 0-d index keeps the dim with size 1") {
    Tensor y = index_select(x, 1, Tensor::scalar(2, kInt64));
    CHECK(y.shape() == Shape{3, 1});
    check_values(y, {2, 6, 10});
  }
  SUBCASE("an empty index gives an empty dim") {
    Tensor y = index_select(x, 0, Tensor::zeros({0}, kInt64));
    CHECK(y.shape() == Shape{0, 4});
  }
  SUBCASE("a 0-d input takes the index's shape") {
    Tensor y = index_select(Tensor::scalar(5), 0, ids({0, 0}));
    CHECK(y.shape() == Shape{2});
    check_values(y, {5, 5});
  }
  SUBCASE("non-contiguous input and index") {
    Tensor idx = Tensor::arange(0, 6, 1, kInt64).slice(0, 0, 6, 2);  // [0, 2, 4], stride 2
    Tensor y = index_select(x.t(), 0, idx.slice(0, 0, 2));           // rows 0 and 2 of x^T
    CHECK(y.shape() == Shape{2, 3});
    check_values(y, {0, 4, 8, 2, 6, 10});
  }
  SUBCASE("int64 input") {
    Tensor t = Tensor::arange(0, 5, 1, kInt64);
    Tensor y = index_select(t, 0, ids({4, 4, 0}));
    CHECK(y.dtype() == kInt64);
    CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{4, 4, 0});
  }
  SUBCASE("backward scatter-adds: a row picked twice gets both gradients") {
    Tensor w = Tensor::zeros({3, 2}).requires_grad_();
    Tensor y = index_select(w, 0, ids({1, 1, 0}));
    y.backward(Tensor({{1, 2}, {10, 20}, {100, 200}}));
    check_values(w.grad(), {100, 200, 11, 22, 0, 0});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& in) { return index_select(in[0], 0, in[1]); },
                  {randn64({4, 3}), ids({3, 0, 3, 1, 3})}));
    CHECK(grad_ok([](const TensorList& in) { return index_select(in[0], 1, in[1]); },
                  {randn64({2, 4, 3}), ids({2, 2, 0})}));
    // A transposed input: the gather reads strided memory, the scatter writes x's layout.
    CHECK(grad_ok([](const TensorList& in) { return index_select(in[0].t(), 0, in[1]); },
                  {randn64({3, 4}), ids({1, 3, 1})}));
  }
  SUBCASE("large enough for the parallel loops") {
    // [64, 600] gathered along dim 1 by 600 indices: 38400 elements, above kParallelGrain.
    manual_seed(7);
    Tensor w = Tensor::randn({64, 600}, kFloat64).requires_grad_();
    Tensor idx = Tensor::randint(0, 600, {600});
    Tensor y = index_select(w, 1, idx);
    std::vector<int64_t> iv = idx.to_vector<int64_t>();
    bool same = true;
    for (int64_t r : {0, 31, 63})
      for (int64_t i = 0; i < 600; ++i) same = same && y.at({r, i}) == w.at({r, iv[i]});
    CHECK(same);
    // Backward with dy = 1: each dx entry counts how often its column was picked.
    y.backward(Tensor::ones({64, 600}, kFloat64));
    std::vector<double> count(600, 0);
    for (int64_t i : iv) count[i] += 1;
    for (int64_t r : {0, 63})
      for (int64_t c : {iv[0], iv[1], iv[599]}) CHECK(w.grad().at({r, c}) == count[c]);
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(index_select(x, 0, Tensor({1.0})), "index has dtype float32", DTypeError);
    CHECK_THROWS_CONTAINING(index_select(x, 0, ids({{0, 1}})), "it must be 1-D", ShapeError);
    CHECK_THROWS_CONTAINING(index_select(x, 0, ids({0, 3})),
                            "index 3 is out of range for dim 0 of size 3", IndexError);
    CHECK_THROWS_CONTAINING(index_select(x, 1, ids({-1})),
                            "index -1 is out of range for dim 1 of size 4", IndexError);
    CHECK_THROWS_CONTAINING(index_select(x, 2, ids({0})), "index_select: dim 2 is out of range",
                            IndexError);
  }
}

TEST_CASE("concat") {
  Tensor a({{1, 2}, {3, 4}});
  Tensor b({{5, 6}});

  SUBCASE("along dim 0") {
    Tensor y = concat({a, b}, 0);
    CHECK(y.shape() == Shape{3, 2});
    check_values(y, {1, 2, 3, 4, 5, 6});
  }
  SUBCASE("along dim 1 (negative), with a transposed input") {
    Tensor y = cat({a, b.t().expand({2, 2}), a.t()}, -1);  // [2, 2] + [2, 2] + [2, 2]
    CHECK(y.shape() == Shape{2, 6});
    check_values(y, {1, 2, 5, 5, 1, 3, 3, 4, 6, 6, 2, 4});
  }
  SUBCASE("empty pieces of the right shape are allowed") {
    Tensor y = concat({Tensor::zeros({0, 2}), a, Tensor::zeros({0, 2})}, 0);
    CHECK(y.shape() == Shape{2, 2});
    check_values(y, {1, 2, 3, 4});
  }
  SUBCASE("one tensor: a copy") {
    Tensor y = concat({a}, 0);
    check_values(y, {1, 2, 3, 4});
    CHECK_FALSE(y.shares_storage(a));
  }
  SUBCASE("int64") {
    Tensor y = concat({ids({1, 2}), ids({3})}, 0);
    CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3});
  }
  SUBCASE("gradient: each input gets its slice of dy") {
    Tensor p = Tensor({1., 2.}).requires_grad_();
    Tensor q = Tensor({3.});  // needs no gradient
    concat({p, q}, 0).backward(Tensor({10., 20., 30.}));
    check_values(p.grad(), {10, 20});
    CHECK_FALSE(q.grad().defined());

    CHECK(grad_ok([](const TensorList& x) { return concat({x[0], x[1], x[2]}, 1); },
                  {randn64({2, 1}), randn64({2, 3}), randn64({2, 2})}));
    CHECK(grad_ok([](const TensorList& x) { return concat({x[0].t(), x[1]}, 0); },
                  {randn64({3, 2}), randn64({1, 3})}));
    // The same tensor twice: both slices' gradients add up.
    CHECK(grad_ok([](const TensorList& x) { return concat({x[0], x[0]}, 0); }, {randn64({2, 2})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(concat({}, 0), "concat: the list of tensors is empty", ValueError);
    CHECK_THROWS_CONTAINING(concat({Tensor::zeros({2, 3}), Tensor::zeros({2, 4})}, 0),
                            "concat: tensor 0 is [2, 3], tensor 1 is [2, 4]; they must match in "
                            "every dim except dim 0 (the one joined), but dim 1 differs (3 vs 4)",
                            ShapeError);
    CHECK_THROWS_CONTAINING(concat({a, Tensor::zeros({2})}, 0), "same number of dims", ShapeError);
    CHECK_THROWS_CONTAINING(concat({a, a.to(kFloat64)}, 0), "tensor 1 has float64", DTypeError);
    CHECK_THROWS_CONTAINING(concat({Tensor::scalar(1), Tensor::scalar(2)}, 0), "0-d", ShapeError);
    CHECK_THROWS_CONTAINING(concat({a, a}, 2), "concat: dim 2 is out of range", IndexError);
    // An undefined tensor is named by its place in the list, first or not.
    CHECK_THROWS_CONTAINING(concat({a, Tensor(), a}, 0), "concat: tensor 1 of the list (of 3) is undefined",
                            ValueError);
    CHECK_THROWS_CONTAINING(concat({Tensor(), a}, 0), "concat: tensor 0 of the list (of 2) is undefined",
                            ValueError);
    CHECK_THROWS_CONTAINING(stack({a, Tensor()}, 0), "stack: tensor 1 of the list (of 2) is undefined", ValueError);
  }
}

TEST_CASE("stack") {
  Tensor a({1, 2, 3});
  Tensor b({4, 5, 6});

  SUBCASE("along a new first dim") {
    Tensor y = stack({a, b}, 0);
    CHECK(y.shape() == Shape{2, 3});
    check_values(y, {1, 2, 3, 4, 5, 6});
  }
  SUBCASE("along a new last dim (dim = ndim, or -1)") {
    Tensor y = stack({a, b}, 1);
    CHECK(y.shape() == Shape{3, 2});
    check_values(y, {1, 4, 2, 5, 3, 6});
    check_values(stack({a, b}, -1), {1, 4, 2, 5, 3, 6});
  }
  SUBCASE("0-d tensors stack into a vector") {
    Tensor y = stack({Tensor::scalar(7), Tensor::scalar(8)}, 0);
    CHECK(y.shape() == Shape{2});
    check_values(y, {7, 8});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& x) { return stack({x[0], x[1].t()}, 1); },
                  {randn64({2, 3}), randn64({3, 2})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(stack({}, 0), "stack: the list of tensors is empty", ValueError);
    CHECK_THROWS_CONTAINING(stack({Tensor::zeros({2, 3}), Tensor::zeros({3, 2})}, 0),
                            "stack: tensor 0 is [2, 3], tensor 1 is [3, 2]; stack needs all shapes equal",
                            ShapeError);
    CHECK_THROWS_CONTAINING(stack({a, a.to(kFloat64)}, 0), "stack: tensor 0 has dtype float32",
                            DTypeError);
    CHECK_THROWS_CONTAINING(stack({a, b}, 2), "stack: dim 2 is out of range", IndexError);
  }
}

TEST_CASE("split and chunk") {
  Tensor x = Tensor::arange(7.);

  SUBCASE("split: pieces of `size`, the last shorter, all views") {
    std::vector<Tensor> p = split(x, 3, 0);
    REQUIRE(p.size() == 3);
    check_values(p[0], {0, 1, 2});
    check_values(p[1], {3, 4, 5});
    check_values(p[2], {6});
    for (const Tensor& t : p) CHECK(t.shares_storage(x));
  }
  SUBCASE("split: a size larger than the dim gives the whole tensor") {
    std::vector<Tensor> p = split(x, 100, -1);
    REQUIRE(p.size() == 1);
    CHECK(p[0].shape() == Shape{7});
  }
  SUBCASE("split along dim 1") {
    Tensor m = Tensor::arange(8.).reshape({2, 4});
    std::vector<Tensor> p = split(m, 2, 1);
    REQUIRE(p.size() == 2);
    check_values(p[1], {2, 3, 6, 7});
  }
  SUBCASE("split: an empty dim gives one empty piece") {
    std::vector<Tensor> p = split(Tensor::zeros({0, 3}), 2, 0);
    REQUIRE(p.size() == 1);
    CHECK(p[0].shape() == Shape{0, 3});
  }
  SUBCASE("chunk: sizes like torch.chunk") {
    auto sizes = [](const std::vector<Tensor>& parts) {
      std::vector<int64_t> s;
      for (const Tensor& t : parts) s.push_back(t.size(0));
      return s;
    };
    CHECK(sizes(chunk(Tensor::zeros({6}), 4, 0)) == std::vector<int64_t>{2, 2, 2});
    CHECK(sizes(chunk(Tensor::zeros({5}), 3, 0)) == std::vector<int64_t>{2, 2, 1});
    CHECK(sizes(chunk(Tensor::zeros({3}), 5, 0)) == std::vector<int64_t>{1, 1, 1});
    CHECK(sizes(chunk(Tensor::zeros({0}), 3, 0)) == std::vector<int64_t>{0, 0, 0});
    std::vector<Tensor> p = chunk(x, 2, 0);
    REQUIRE(p.size() == 2);
    check_values(p[1], {4, 5, 6});
  }
  SUBCASE("gradient flows back through the slices") {
    CHECK(grad_ok(
        [](const TensorList& in) {
          std::vector<Tensor> p = split(in[0], 2, 1);  // [3, 2], [3, 2], [3, 1]
          return concat({tanh(p[2]), p[0] * p[1]}, 1);
        },
        {randn64({3, 5})}));
    CHECK(grad_ok(
        [](const TensorList& in) {
          std::vector<Tensor> p = chunk(in[0].t(), 2, 0);  // of a transposed input
          return p[0] * p[1];
        },
        {randn64({3, 4})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(split(x, 0, 0), "split: size is 0", ValueError);
    CHECK_THROWS_CONTAINING(split(x, -2, 0), "split: size is -2", ValueError);
    CHECK_THROWS_CONTAINING(split(Tensor::scalar(1), 1, 0), "split: cannot split a 0-d tensor",
                            ShapeError);
    CHECK_THROWS_CONTAINING(split(x, 1, 1), "split: dim 1 is out of range", IndexError);
    CHECK_THROWS_CONTAINING(chunk(x, 0, 0), "chunk: chunks is 0", ValueError);
    CHECK_THROWS_CONTAINING(chunk(Tensor::scalar(1), 2, 0), "chunk: cannot chunk a 0-d tensor",
                            ShapeError);
    CHECK_THROWS_CONTAINING(chunk(x, 2, -2), "chunk: dim -2 is out of range", IndexError);
  }
}
