// Shape ops: the views (reshape, view, transpose, t, permute, squeeze, unsqueeze,
// expand, slice, select) and the copies (contiguous, clone, to). For each: values,
// whether it shares storage, a float64 gradcheck, and its errors.
#include <sstream>
#include <string>
#include <vector>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {
// [[0, 1, 2], [3, 4, 5]]
Tensor m23() { return Tensor::arange(6.).reshape({2, 3}); }
}  // namespace

TEST_CASE("reshape and view") {
  Tensor x = m23();

  SUBCASE("a contiguous input gives a view") {
    Tensor y = x.reshape({3, 2});
    CHECK(y.shape() == Shape{3, 2});
    check_values(y, {0, 1, 2, 3, 4, 5});
    CHECK(y.shares_storage(x));
    CHECK(x.view({6}).shares_storage(x));
  }
  SUBCASE("-1 is inferred") {
    CHECK(x.reshape({-1, 2}).shape() == Shape{3, 2});
    CHECK(x.reshape({1, -1, 1}).shape() == Shape{1, 6, 1});
    CHECK(x.flatten().shape() == Shape{6});
    CHECK(x.view({-1}).shape() == Shape{6});
    CHECK(Tensor::zeros({0, 3}).reshape({-1, 3}).shape() == Shape{0, 3});
    CHECK(Tensor::scalar(4).reshape({-1}).shape() == Shape{1});
    CHECK(Tensor({4.}).reshape({}).dim() == 0);
  }
  SUBCASE("a non-contiguous input is copied in logical order") {
    Tensor y = x.t().reshape({6});
    check_values(y, {0, 3, 1, 4, 2, 5});
    CHECK_FALSE(y.shares_storage(x));
  }
  SUBCASE("a view keeps the input's offset") {
    Tensor row = x.select(0, 1);  // [3, 4, 5], offset 3
    Tensor y = row.view({3, 1});
    CHECK(y.shares_storage(x));
    check_values(y, {3, 4, 5});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& in) { return in[0].reshape({3, -1}); }, {randn64({2, 3})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].t().reshape({6}); }, {randn64({2, 3})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].view({1, 6}); }, {randn64({2, 3})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(x.view({3, 2}).t().view({6}), "view: the input of shape [2, 3] and strides [1, 2] cannot be viewed as [6]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(x.reshape({4}), "reshape: cannot reshape [2, 3] (6 elements) into [4]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(x.reshape({-1, -1}), "reshape: shape [-1, -1] has more than one -1",
                            ShapeError);
    CHECK_THROWS_CONTAINING(x.view({-2, 3}), "view: shape [-2, 3] has a negative size", ShapeError);
    CHECK_THROWS_CONTAINING(x.reshape({-1, 4}), "cannot reshape [2, 3] (6 elements) into [-1, 4]",
                            ShapeError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({0, 3}).reshape({-1, 0}), "cannot reshape", ShapeError);
    CHECK_THROWS_CONTAINING(x.reshape({int64_t{1} << 40, int64_t{1} << 40}),
                            "more elements than int64 can count", ShapeError);
  }
}

namespace {

std::vector<int64_t> numbers(const std::string& text) {
  std::istringstream in(text);
  std::vector<int64_t> out;
  for (int64_t v; in >> v;) out.push_back(v);
  return out;
}

// The chain of views of tests/reference/views.py ("slice 2 0 4 1|transpose 0 1")
// applied to x.
Tensor apply_chain(Tensor x, const std::string& chain) {
  std::istringstream ops(chain);
  for (std::string op; std::getline(ops, op, '|');) {
    std::istringstream in(op);
    std::string name;
    in >> name;
    std::string rest;
    std::getline(in, rest);
    const std::vector<int64_t> a = numbers(rest);
    if (name == "slice") x = x.slice(a[0], a[1], a[2], a[3]);
    else if (name == "transpose") x = x.transpose(a[0], a[1]);
    else if (name == "permute") x = x.permute(a);
    else if (name == "expand") x = x.expand(Shape(a.begin(), a.end()));
    else if (name == "unsqueeze") x = x.unsqueeze(a[0]);
    else if (name == "select") x = x.select(a[0], a[1]);
    else FAIL("unknown op " << name);
  }
  return x;
}

}  // namespace

TEST_CASE("view: PyTorch's rule, on a table of layouts (tests/reference/views.py)") {
  struct Case {
    const char *base, *chain, *shape, *strides;  // strides "error": PyTorch refuses the view
  };
  const Case cases[] = {
    {"2 3 12", "slice 2 0 4 1", "2 3 2 2", "36 12 2 1"},
    {"2 3 12", "slice 2 4 8 1", "6 4", "12 1"},
    {"2 3 12", "slice 2 4 8 1", "24", "error"},
    {"2 3 12", "slice 2 4 8 1", "2 12", "error"},
    {"2 3 4", "transpose 1 2", "2 4 3", "12 1 4"},
    {"2 3 4", "transpose 1 2", "2 12", "error"},
    {"2 3 4", "transpose 1 2", "8 3", "error"},
    {"2 3 4", "transpose 1 2", "2 2 2 3", "12 2 1 4"},
    {"2 3 4", "transpose 0 1", "3 8", "error"},
    {"2 3 4", "transpose 0 1", "3 2 2 2", "4 12 2 1"},
    {"2 3 4", "transpose 0 2", "24", "error"},
    {"2 3 4", "permute 2 0 1", "4 6", "1 4"},
    {"2 3 4", "permute 2 0 1", "4 2 3", "1 12 4"},
    {"2 3 4", "permute 1 2 0", "12 2", "1 12"},
    {"2 3 4", "permute 1 2 0", "3 2 2 2", "4 2 1 12"},
    {"1 4", "expand 3 4", "3 2 2", "0 2 1"},
    {"1 4", "expand 3 4", "12", "error"},
    {"4 1", "expand 4 5", "2 2 5", "2 1 0"},
    {"4 1", "expand 4 5", "20", "error"},
    {"1 3 1 4", "transpose 0 2", "3 4", "4 1"},
    {"1 3 1 4", "transpose 0 2", "1 1 12 1", "12 12 1 1"},
    {"3 4", "transpose 0 1|unsqueeze 1", "4 3", "1 4"},
    {"3 4", "transpose 0 1|unsqueeze 1", "2 1 2 3", "2 2 1 4"},
    {"10", "slice 0 0 10 2", "5 1", "2 2"},
    {"10", "slice 0 1 10 3", "1 3", "9 3"},
    {"4 6", "slice 1 0 6 2", "12", "2"},
    {"4 6", "slice 1 0 6 2", "2 2 3", "12 6 2"},
    {"4 6", "slice 0 0 4 2", "6 2", "error"},
    {"4 6", "slice 0 0 4 2|slice 1 1 5 1", "8", "error"},
    {"4 6", "slice 0 0 4 2|slice 1 1 5 1", "2 2 2", "12 2 1"},
    {"3 4", "select 1 2", "3 1", "4 4"},
    {"3 4", "select 0 1|select 0 3", "1 1", "1 1"},
    {"0 3", "transpose 0 1", "3 0", "1 3"},
    {"2 0 3", "transpose 0 2", "0 6", "6 1"},
  };
  for (const Case& c : cases) {
    const std::string where = std::string(c.base) + " | " + c.chain + " -> " + c.shape;
    CAPTURE(where);
    const std::vector<int64_t> base = numbers(c.base), want = numbers(c.shape);
    const Shape base_shape(base.begin(), base.end()), shape(want.begin(), want.end());
    const Tensor x = apply_chain(Tensor::arange(static_cast<double>(numel(base_shape))).reshape(base_shape), c.chain);
    if (std::string(c.strides) == "error") {
      CHECK_THROWS_WITH_AS(x.view(shape), doctest::Contains("use reshape()"), ShapeError);
      const Tensor copied = x.reshape(shape);  // reshape copies instead
      CHECK(copied.is_contiguous());
      CHECK(copied.to_vector() == x.contiguous().to_vector());
      continue;
    }
    const Tensor y = x.view(shape);
    const std::vector<int64_t> strides = numbers(c.strides);
    CHECK(y.strides() == Strides(strides.begin(), strides.end()));
    CHECK(y.to_vector() == x.contiguous().to_vector());  // the same elements, in the same order
    const Tensor r = x.reshape(shape);                  // reshape gives the same view, no copy
    CHECK(r.strides() == y.strides());
    if (x.numel() > 0) CHECK(r.raw_data_ptr() == y.raw_data_ptr());
  }
}

TEST_CASE("view: of a split, through autograd (the heads of a fused q, k, v projection)") {
  const Tensor qkv = randn64({2, 3, 12}).requires_grad_();
  const Tensor k = qkv.slice(2, 4, 8, 1).view({2, 3, 2, 2});  // no copy: only the split dim is broken up
  CHECK(k.data_ptr<double>() == qkv.data_ptr<double>() + 4);
  CHECK(grad_ok([](const TensorList& in) { return in[0].slice(2, 4, 8, 1).view({2, 3, 2, 2}).transpose(1, 2); },
                {randn64({2, 3, 12})}));
  CHECK(grad_ok([](const TensorList& in) { return in[0].t().view({2, 2, 3}); }, {randn64({3, 4})}));
}

TEST_CASE("transpose and t") {
  Tensor x = m23();

  SUBCASE("values and shared storage") {
    Tensor y = x.t();
    CHECK(y.shape() == Shape{3, 2});
    CHECK(y.strides() == Strides{1, 3});
    CHECK(y.shares_storage(x));
    CHECK_FALSE(y.is_contiguous());
    check_values(y, {0, 3, 1, 4, 2, 5});
    check_values(x.transpose(-1, 0), {0, 3, 1, 4, 2, 5});
  }
  SUBCASE("3-D, outer dims") {
    Tensor z = Tensor::arange(24.).reshape({2, 3, 4}).transpose(0, 2);  // [4, 3, 2]
    CHECK(z.shape() == Shape{4, 3, 2});
    CHECK(z.at({3, 1, 1}) == 12 + 4 + 3);  // element (1, 1, 3) of the input
  }
  SUBCASE("a 0-d tensor is its own transpose") {
    CHECK(Tensor::scalar(2).transpose(0, -1).item() == 2);
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& in) { return in[0].t(); }, {randn64({2, 3})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].transpose(0, 2); }, {randn64({2, 3, 2})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(Tensor::zeros({3}).t(), "t: input has shape [3]; t() needs a 2-D tensor",
                            ShapeError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2, 2, 2}).t(), "t() needs a 2-D tensor", ShapeError);
    CHECK_THROWS_CONTAINING(x.transpose(0, 2), "transpose: dim 2 is out of range", IndexError);
  }
}

TEST_CASE("permute") {
  Tensor x = Tensor::arange(24.).reshape({2, 3, 4});

  SUBCASE("values and shared storage") {
    Tensor y = x.permute({2, 0, 1});
    CHECK(y.shape() == Shape{4, 2, 3});
    CHECK(y.strides() == Strides{1, 12, 4});
    CHECK(y.shares_storage(x));
    CHECK(y.at({3, 1, 2}) == x.at({1, 2, 3}));
    CHECK(x.permute({-1, -3, -2}).shape() == Shape{4, 2, 3});
    CHECK(Tensor::scalar(5).permute({}).item() == 5);
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& in) { return in[0].permute({1, 2, 0}); }, {randn64({2, 3, 2})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(x.permute({0, 1}), "permute: input has shape [2, 3, 4] (3 dims) but 2 dims",
                            ShapeError);
    CHECK_THROWS_CONTAINING(x.permute({0, 1, 1}), "permute: dim 1 appears twice", ShapeError);
    CHECK_THROWS_CONTAINING(x.permute({0, 1, -2}), "permute: dim 1 appears twice", ShapeError);
    CHECK_THROWS_CONTAINING(x.permute({0, 1, 3}), "permute: dim 3 is out of range", IndexError);
  }
}

TEST_CASE("squeeze and unsqueeze") {
  Tensor x = Tensor::arange(6.).reshape({1, 2, 1, 3});

  SUBCASE("squeeze") {
    CHECK(x.squeeze().shape() == Shape{2, 3});
    CHECK(x.squeeze(0).shape() == Shape{2, 1, 3});
    CHECK(x.squeeze(-2).shape() == Shape{1, 2, 3});
    CHECK(x.squeeze(1).shape() == Shape{1, 2, 1, 3});  // size 2: a no-op, as in PyTorch
    CHECK(Tensor::zeros({1, 1}).squeeze().dim() == 0);
    CHECK(x.squeeze().shares_storage(x));
    check_values(x.squeeze(), {0, 1, 2, 3, 4, 5});
  }
  SUBCASE("unsqueeze") {
    Tensor v = Tensor({1., 2., 3.});
    CHECK(v.unsqueeze(0).shape() == Shape{1, 3});
    CHECK(v.unsqueeze(1).shape() == Shape{3, 1});
    CHECK(v.unsqueeze(-1).shape() == Shape{3, 1});  // -1 appends
    CHECK(v.unsqueeze(-2).shape() == Shape{1, 3});
    CHECK(Tensor::scalar(2).unsqueeze(0).shape() == Shape{1});
    CHECK(v.unsqueeze(0).is_contiguous());
    CHECK(v.unsqueeze(1).shares_storage(v));
    // On a transposed input: still the same elements, in the same logical order.
    check_values(m23().t().unsqueeze(1), {0, 3, 1, 4, 2, 5});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& in) { return in[0].squeeze(); }, {randn64({1, 3, 1})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].squeeze(2); }, {randn64({2, 3, 1})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].t().unsqueeze(-1); }, {randn64({2, 3})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(x.squeeze(4), "squeeze: dim 4 is out of range", IndexError);
    CHECK_THROWS_CONTAINING(x.unsqueeze(5), "unsqueeze: dim 5 is out of range", IndexError);
    CHECK_THROWS_CONTAINING(x.unsqueeze(-6), "unsqueeze: dim -6 is out of range", IndexError);
  }
}

TEST_CASE("expand") {
  Tensor col = Tensor({{1.}, {2.}, {3.}});  // [3, 1]

  SUBCASE("values, stride 0, shared storage") {
    Tensor y = col.expand({3, 4});
    CHECK(y.shape() == Shape{3, 4});
    CHECK(y.strides() == Strides{1, 0});
    CHECK(y.shares_storage(col));
    check_values(y, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  }
  SUBCASE("new leading dims, and -1 keeps a size") {
    Tensor y = col.expand({2, -1, 2});
    CHECK(y.shape() == Shape{2, 3, 2});
    check_values(y, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
    CHECK(Tensor::scalar(7).expand({2, 2}).shape() == Shape{2, 2});
    CHECK(col.expand({3, 0}).numel() == 0);
  }
  SUBCASE("gradient: sums over the repeats") {
    CHECK(grad_ok([](const TensorList& in) { return in[0].expand({2, 3, 4}); }, {randn64({3, 1})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].t().expand({2, 2, 3}); }, {randn64({3, 1})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(col.expand({3}), "expand: cannot expand [3, 1] to [3], which has fewer dims",
                            ShapeError);
    CHECK_THROWS_CONTAINING(col.expand({4, 4}),
                            "expand: cannot expand [3, 1] to [4, 4]: dim 0 has size 3, and only "
                            "size-1 dims can be expanded",
                            ShapeError);
    CHECK_THROWS_CONTAINING(col.expand({-1, 3, 1}), "-1 is not allowed for a new leading dim", ShapeError);
  }
}

TEST_CASE("slice") {
  Tensor v = Tensor::arange(10.);

  SUBCASE("Python-style bounds") {
    check_values(v.slice(0, 2, 5), {2, 3, 4});
    check_values(v.slice(0, -3, 10), {7, 8, 9});           // negative start counts from the end
    check_values(v.slice(0, 1, -7), {1, 2});                // negative end too
    check_values(v.slice(0, -100, 2), {0, 1});              // clamped to the size
    check_values(v.slice(0, 8, 100), {8, 9});
    CHECK(v.slice(0, 6, 3).numel() == 0);                   // start past end: empty, not an error
    CHECK(v.slice(0, 20, 30).numel() == 0);
  }
  SUBCASE("steps") {
    Tensor y = v.slice(0, 1, 10, 3);
    check_values(y, {1, 4, 7});
    CHECK(y.strides() == Strides{3});
    CHECK(y.shares_storage(v));
    check_values(v.slice(0, 0, 10, 4), {0, 4, 8});
    check_values(v.slice(0, 0, 10, int64_t{1} << 62), {0});  // a huge step must not overflow
  }
  SUBCASE("along dim 1 of a matrix") {
    Tensor y = m23().slice(-1, 1, 3);
    CHECK(y.shape() == Shape{2, 2});
    check_values(y, {1, 2, 4, 5});
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& in) { return in[0].slice(1, 1, 4, 2); }, {randn64({2, 5})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].t().slice(0, -2, 100); }, {randn64({2, 3})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(v.slice(0, 0, 5, 0), "slice: step is 0; it must be positive", ValueError);
    CHECK_THROWS_CONTAINING(v.slice(0, 5, 0, -1), "slice: step is -1", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::scalar(1).slice(0, 0, 1), "slice: cannot slice a 0-d tensor",
                            IndexError);
    CHECK_THROWS_CONTAINING(v.slice(1, 0, 1), "slice: dim 1 is out of range", IndexError);
  }
}

TEST_CASE("select") {
  Tensor x = m23();

  SUBCASE("values, negative index, shared storage") {
    check_values(x.select(0, 1), {3, 4, 5});
    check_values(x.select(1, -1), {2, 5});
    CHECK(x.select(1, 0).shape() == Shape{2});
    CHECK(x.select(0, 0).shares_storage(x));
    CHECK(x.select(0, 1).select(0, 2).dim() == 0);
    CHECK(x.select(0, 1).select(0, 2).item() == 5);
  }
  SUBCASE("gradient") {
    CHECK(grad_ok([](const TensorList& in) { return in[0].select(1, -2); }, {randn64({2, 3})}));
    CHECK(grad_ok([](const TensorList& in) { return in[0].t().select(0, 2); }, {randn64({2, 3})}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(x.select(0, 2), "select: index 2 is out of range for dim 0 of size 2",
                            IndexError);
    CHECK_THROWS_CONTAINING(x.select(1, -4), "select: index -4 is out of range for dim 1 of size 3",
                            IndexError);
    CHECK_THROWS_CONTAINING(Tensor::scalar(1).select(0, 0), "select: cannot select from a 0-d tensor",
                            IndexError);
    CHECK_THROWS_CONTAINING(x.select(2, 0), "select: dim 2 is out of range", IndexError);
  }
}

TEST_CASE("select and slice: a tensor read part by part gets every part's gradient") {
  // A decoder reads its inputs one step at a time. From the second part's
  // backward on, the engine holds a gradient sum for the tensor, and each
  // backward adds its dy into its part of that sum in place (ops/view.cpp:
  // gradient_of_part). Parts that overlap (a select inside a slice, one index
  // selected twice) and a use of the whole tensor must all add up.
  SUBCASE("exact sums") {
    Tensor x = Tensor::ones({2, 4, 3}, kFloat64).requires_grad_();
    Tensor loss = x.sum() + x.slice(1, 0, 2).sum() + x.select(1, 2).sum() * 10.0;
    for (int64_t s = 0; s < 4; ++s) loss = loss + x.select(1, s).sum() * static_cast<double>(s + 1);
    loss.backward();
    // d loss / d x[b, s, k] = 1 (the whole) + [s < 2] (the slice) + 10 [s == 2] + (s + 1)
    const std::vector<double> per_step = {1 + 1 + 1, 1 + 1 + 2, 1 + 10 + 3, 1 + 4};
    std::vector<double> want;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t s = 0; s < 4; ++s) want.insert(want.end(), 3, per_step[s]);
    check_values(x.grad(), want);
  }
  SUBCASE("gradient check, the parts weighted and multiplied") {
    CHECK(grad_ok(
        [](const TensorList& in) {
          const Tensor& x = in[0];  // [2, 4, 3]
          Tensor y = x.select(1, 0) * x.select(1, 3);
          for (int64_t s = 1; s < 4; ++s) y = y + x.select(1, s) * static_cast<double>(s + 1);
          return y + x.slice(1, 1, 4, 2).sum({1}) * x.select(1, 1);
        },
        {randn64({2, 4, 3})}));
  }
}

TEST_CASE("contiguous, clone and to") {
  Tensor x = m23();

  SUBCASE("contiguous: the same tensor when already contiguous, else a copy") {
    CHECK(x.contiguous().impl_ptr() == x.impl_ptr());
    Tensor y = x.t().contiguous();
    CHECK(y.is_contiguous());
    CHECK_FALSE(y.shares_storage(x));
    check_values(y, {0, 3, 1, 4, 2, 5});
    CHECK(grad_ok([](const TensorList& in) { return in[0].t().contiguous(); }, {randn64({2, 3})}));
  }
  SUBCASE("clone: always a fresh contiguous copy") {
    Tensor y = x.clone();
    CHECK_FALSE(y.shares_storage(x));
    check_values(y, {0, 1, 2, 3, 4, 5});
    Tensor e = Tensor({1., 2.}).expand({3, 2}).clone();
    CHECK(e.strides() == Strides{2, 1});
    check_values(e, {1, 2, 1, 2, 1, 2});
    CHECK(grad_ok([](const TensorList& in) { return in[0].slice(1, 0, 3, 2).clone(); }, {randn64({2, 3})}));
  }
  SUBCASE("to: converts, and is the identity for the same dtype") {
    CHECK(x.to(kFloat32).impl_ptr() == x.impl_ptr());
    Tensor d = x.t().to(kFloat64);
    CHECK(d.dtype() == kFloat64);
    check_values(d, {0, 3, 1, 4, 2, 5});
    Tensor i = Tensor({1.7, -1.7, 2.0}).to(kInt64);  // truncates toward zero, like a C++ cast
    CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, -1, 2});
  }
  SUBCASE("to: the gradient converts back; an int64 result has none") {
    Tensor a = Tensor({1., 2.}).requires_grad_();
    Tensor b = a.to(kFloat64);
    CHECK(b.requires_grad());
    b.backward(Tensor({3., 4.}, kFloat64));
    CHECK(a.grad().dtype() == kFloat32);
    check_values(a.grad(), {3, 4});
    CHECK_FALSE(a.to(kInt64).requires_grad());
  }
}

TEST_CASE("chains of views") {
  Tensor x = Tensor::arange(12.).reshape({3, 4});

  SUBCASE("t, slice, unsqueeze") {
    Tensor y = x.t().slice(0, 1, 3).unsqueeze(0);  // columns 1 and 2 of x, as rows
    CHECK(y.shape() == Shape{1, 2, 3});
    CHECK(y.shares_storage(x));
    check_values(y, {1, 5, 9, 2, 6, 10});
    CHECK(grad_ok([](const TensorList& in) { return in[0].t().slice(0, 1, 3).unsqueeze(0); },
                  {randn64({3, 4})}));
  }
  SUBCASE("permute, select, expand, reshape") {
    Tensor y = x.reshape({3, 2, 2}).permute({2, 0, 1}).select(0, 1);  // [3, 2]: x[:, 1::2]
    check_values(y, {1, 3, 5, 7, 9, 11});
    Tensor z = y.unsqueeze(0).expand({2, 3, 2}).reshape({2, 6});  // a copy: expand is not contiguous
    check_values(z, {1, 3, 5, 7, 9, 11, 1, 3, 5, 7, 9, 11});
    CHECK(grad_ok(
        [](const TensorList& in) {
          Tensor y = in[0].reshape({3, 2, 2}).permute({2, 0, 1}).select(0, 1);
          return y.unsqueeze(0).expand({2, 3, 2}).reshape({2, 6});
        },
        {randn64({3, 4})}));
  }
  SUBCASE("a write through a view is seen by the base and bumps the shared version") {
    uint64_t v0 = x.version();
    Tensor col = x.t().select(0, 2);  // column 2 of x
    col.fill_(-1);
    CHECK(x.version() == v0 + 1);
    CHECK(col.version() == x.version());
    check_values(x.select(1, 2), {-1, -1, -1});
    check_values(x.select(1, 1), {1, 5, 9});
  }
}
