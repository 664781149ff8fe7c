// The tensor core: factories, literals, element access, dtype conversion,
// random numbers, detach/clone, and in-place writes with their version counter.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <thread>

#include "helpers.h"
#include "heed/core/object_pool.h"

using namespace heed;
using namespace heed::test;

namespace {
double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double var_of(const std::vector<double>& v) {
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size());
}
}  // namespace

TEST_CASE("factories: filled tensors") {
  SUBCASE("zeros, ones, full, scalar") {
    Tensor z = Tensor::zeros({2, 3});
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.dtype() == kFloat32);
    CHECK(z.is_contiguous());
    check_values(z, std::vector<double>(6, 0));
    check_values(Tensor::ones({4}, kFloat64), {1, 1, 1, 1});
    CHECK(Tensor::ones({4}, kFloat64).dtype() == kFloat64);
    Tensor f = Tensor::full({2, 2}, -7, kInt64);
    CHECK(f.to_vector<int64_t>() == std::vector<int64_t>{-7, -7, -7, -7});
    Tensor s = Tensor::scalar(2.5);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.item() == 2.5);
    CHECK(Tensor::zeros_like(f).dtype() == kInt64);
    CHECK(Tensor::ones_like(z).shape() == Shape{2, 3});
    CHECK(Tensor::zeros({3, 0}).numel() == 0);
    CHECK(Tensor::empty({2, 5}).shape() == Shape{2, 5});
  }
  SUBCASE("negative sizes are refused") {
    CHECK_THROWS_CONTAINING(Tensor::zeros({2, -1}), "zeros: shape [2, -1] has a negative size", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::empty({-3}), "empty: shape [-3] has a negative size", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::full({-1}, 1), "full: shape [-1] has a negative size", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::ones({-1}), "negative size", ValueError);
  }
  SUBCASE("absurdly many elements are refused before any allocation") {
    const int64_t big = int64_t{1} << 30;
    CHECK_THROWS_CONTAINING(Tensor::empty({big, big}), "more than 2^50 elements", ValueError);
    // a product that overflows int64 itself (2^62 * 4) is caught, not wrapped around
    CHECK_THROWS_CONTAINING(Tensor::empty({int64_t{1} << 62, 4}), "more than 2^50 elements", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::empty({3, int64_t{1} << 62, 0}), "more than 2^50 elements", ValueError);
  }
  SUBCASE("an empty tensor is bounded too: its strides multiply the other sizes") {
    // [0, 2^62, 2^62] holds nothing, but its first stride would be 2^124.
    CHECK_THROWS_CONTAINING(Tensor::zeros({0, int64_t{1} << 62, int64_t{1} << 62}), "more than 2^50 elements",
                            ValueError);
    CHECK_THROWS_CONTAINING(Tensor::empty({0, int64_t{1} << 62}), "more than 2^50 elements", ValueError);
    Tensor wide = Tensor::empty({0, int64_t{1} << 25, int64_t{1} << 25});  // 2^50: the most allowed
    CHECK(wide.numel() == 0);
    CHECK(wide.strides()[0] == int64_t{1} << 50);
  }
  SUBCASE("at most 64 dims") {
    CHECK(Tensor::zeros(Shape(64, 1)).dim() == 64);
    CHECK_THROWS_CONTAINING(Tensor::zeros(Shape(65, 1)), "has more than 64 dims", ValueError);
  }
}

TEST_CASE("factories: arange, linspace, eye") {
  SUBCASE("arange") {
    check_values(Tensor::arange(5), {0, 1, 2, 3, 4});
    check_values(Tensor::arange(1, 2, 0.25), {1, 1.25, 1.5, 1.75});
    check_values(Tensor::arange(5, 0, -1.5), {5, 3.5, 2, 0.5});  // negative step
    CHECK(Tensor::arange(0, -3, -1, kInt64).to_vector<int64_t>() == std::vector<int64_t>{0, -1, -2});
    CHECK(Tensor::arange(3, 3).numel() == 0);   // empty range
    CHECK(Tensor::arange(3, 0).numel() == 0);   // wrong direction: empty, not an error
    CHECK(Tensor::arange(0, 1, 0.3).numel() == 4);  // ceil(1 / 0.3)
    CHECK_THROWS_CONTAINING(Tensor::arange(0, 5, 0), "arange: start 0, end 5, step 0", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::arange(0, INFINITY), "must be finite", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::arange(0, 1e30), "far more than memory can hold", ValueError);
  }
  SUBCASE("linspace") {
    check_values(Tensor::linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1});
    check_values(Tensor::linspace(3, -3, 4, kFloat64), {3, 1, -1, -3});
    check_values(Tensor::linspace(2, 5, 1), {2});  // one step is the start, as in PyTorch
    CHECK(Tensor::linspace(0, 1, 0).numel() == 0);
    // The end point is exact (filled backwards from it), whatever the rounding.
    CHECK(Tensor::linspace(0, 0.7, 7, kFloat64).to_vector<double>().back() == 0.7);
    CHECK_THROWS_CONTAINING(Tensor::linspace(0, 1, -1), "linspace: steps is -1", ValueError);
  }
  SUBCASE("eye") {
    check_values(Tensor::eye(3), {1, 0, 0, 0, 1, 0, 0, 0, 1});
    CHECK(Tensor::eye(0).shape() == Shape{0, 0});
    CHECK(Tensor::eye(2, kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 1});
    CHECK_THROWS_CONTAINING(Tensor::eye(-1), "eye: n is -1", ValueError);
  }
}

TEST_CASE("factories: random") {
  manual_seed(1234);
  const int64_t n = 20000;

  SUBCASE("rand: uniform on [0, 1)") {
    std::vector<double> v = Tensor::rand({n}, kFloat64).to_vector<double>();
    CHECK(*std::min_element(v.begin(), v.end()) >= 0.0);
    CHECK(*std::max_element(v.begin(), v.end()) < 1.0);
    // mean 1/2 and variance 1/12; the tolerances are > 5 standard errors wide.
    CHECK(std::abs(mean_of(v) - 0.5) < 0.012);
    CHECK(std::abs(var_of(v) - 1.0 / 12) < 0.005);
    CHECK(Tensor::rand({2, 3}).dtype() == kFloat32);
  }
  SUBCASE("randn: standard normal") {
    std::vector<double> v = Tensor::randn({n}, kFloat64).to_vector<double>();
    CHECK(std::abs(mean_of(v)) < 0.04);
    CHECK(std::abs(var_of(v) - 1) < 0.06);
    // About 68.3% of draws lie within one standard deviation.
    double within = std::count_if(v.begin(), v.end(), [](double x) { return std::abs(x) < 1; });
    CHECK(std::abs(within / n - 0.6827) < 0.02);
  }
  SUBCASE("randint: int64 in [low, high), every value hit") {
    Tensor r = Tensor::randint(-3, 4, {n});
    CHECK(r.dtype() == kInt64);
    std::vector<int64_t> v = r.to_vector<int64_t>();
    std::set<int64_t> seen(v.begin(), v.end());
    CHECK(seen == std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3});
    double m = 0;
    for (int64_t x : v) m += static_cast<double>(x);
    CHECK(std::abs(m / n) < 0.1);  // uniform on -3..3: mean 0, sd 2
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(Tensor::rand({2}, kInt64), "rand: dtype int64 is not floating", DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::randn({2}, kInt64), "randn: dtype int64", DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::randn({-2}), "randn: shape [-2] has a negative size", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::randint(5, 5, {2}), "randint: low is 5, high is 5; need low < high",
                            ValueError);
  }
}

TEST_CASE("manual_seed makes random tensors reproducible") {
  manual_seed(42);
  std::vector<float> a = Tensor::rand({100}).to_vector();
  std::vector<float> b = Tensor::randn({101}).to_vector();  // odd: leaves a spare normal behind
  std::vector<int64_t> c = Tensor::randint(0, 1000, {50}).to_vector<int64_t>();
  manual_seed(42);  // must also forget the spare normal
  CHECK(Tensor::rand({100}).to_vector() == a);
  CHECK(Tensor::randn({101}).to_vector() == b);
  CHECK(Tensor::randint(0, 1000, {50}).to_vector<int64_t>() == c);
  manual_seed(43);
  CHECK(Tensor::rand({100}).to_vector() != a);
  // Consecutive draws differ (the generator advances).
  manual_seed(42);
  CHECK(Tensor::rand({100}).to_vector() != Tensor::rand({100}).to_vector());
}

TEST_CASE("from_vector") {
  Tensor f = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(f.dtype() == kFloat32);
  CHECK(f.at({1, 0}) == 4);
  Tensor d = Tensor::from_vector(std::vector<double>{0.1}, {});
  CHECK(d.dtype() == kFloat64);
  CHECK(d.item() == 0.1);
  Tensor i = Tensor::from_vector(std::vector<int64_t>{int64_t{1} << 60, -1}, {2});
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{int64_t{1} << 60, -1});  // exact, no double
  CHECK(Tensor::from_vector(std::vector<float>{}, {0, 4}).shape() == Shape{0, 4});
  CHECK_THROWS_CONTAINING(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                          "from_vector: 3 values cannot fill shape [2, 2] (4 elements)", ShapeError);
  CHECK_THROWS_CONTAINING(Tensor::from_vector(std::vector<double>{}, {-1, 0}),
                          "from_vector: shape [-1, 0] has a negative size", ValueError);
}

TEST_CASE("nested literals") {
  SUBCASE("shapes and values") {
    Tensor x({{1, 2, 3}, {4, 5, 6}});
    CHECK(x.shape() == Shape{2, 3});
    CHECK(x.dtype() == kFloat32);
    check_values(x, {1, 2, 3, 4, 5, 6});
    Tensor y({{{1}, {2}}}, kInt64);
    CHECK(y.shape() == Shape{1, 2, 1});
    CHECK(y.dtype() == kInt64);
    CHECK(Tensor({7.5}).shape() == Shape{1});
    CHECK(Tensor({{}, {}}).shape() == Shape{2, 0});
    CHECK(Tensor({0.1}, kFloat64).item() == 0.1);  // a float64 literal keeps double precision
  }
  SUBCASE("ragged lists are refused") {
    CHECK_THROWS_CONTAINING(Tensor({{1, 2}, {3}}), "nested list is ragged: a list of 1 items at depth 1",
                            ShapeError);
    CHECK_THROWS_CONTAINING(Tensor({{1, 2}, 3}), "nested list is ragged: a number at depth 1",
                            ShapeError);
    // The same count of numbers as a [2, 1] tensor, and still ragged.
    CHECK_THROWS_CONTAINING(Tensor({1, {2}}), "nested list is ragged: a list at depth 1", ShapeError);
    CHECK_THROWS_CONTAINING(Tensor({{1, 2}, {3, {4, 5}}}), "ragged", ShapeError);
    CHECK_THROWS_CONTAINING(Tensor({{}, {1}}), "ragged", ShapeError);
  }
}

TEST_CASE("element access: item, at, size, to_vector") {
  Tensor x({{1, 2, 3}, {4, 5, 6}});

  SUBCASE("item") {
    CHECK(Tensor::scalar(3).item() == 3);
    CHECK(Tensor({{9}}).item() == 9);
    CHECK(Tensor::scalar(7, kInt64).item<int64_t>() == 7);
    CHECK(x.slice(1, 2, 3).slice(0, 1, 2).item() == 6);  // through a view's offset
    CHECK_THROWS_CONTAINING(x.item(), "item: tensor has shape [2, 3] (6 elements)", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({0}).item(), "(0 elements)", ValueError);
  }
  SUBCASE("at, with negative indices and on views") {
    CHECK(x.at({0, 2}) == 3);
    CHECK(x.at({-1, -3}) == 4);
    CHECK(x.t().at({2, 1}) == 6);
    CHECK(Tensor::scalar(4).at({}) == 4);
    CHECK(Tensor({1.}).expand({3}).at({2}) == 1);
    CHECK_THROWS_CONTAINING(x.at({0}), "at: 1 indices given for a tensor of shape [2, 3]", IndexError);
    CHECK_THROWS_CONTAINING(x.at({2, 0}), "at: index 2 is out of range for dim 0 of size 2", IndexError);
    CHECK_THROWS_CONTAINING(x.at({0, -4}), "at: index -4 is out of range for dim 1 of size 3", IndexError);
  }
  SUBCASE("size") {
    CHECK(x.size(0) == 2);
    CHECK(x.size(-1) == 3);
    CHECK_THROWS_CONTAINING(x.size(2), "size: dim 2 is out of range", IndexError);
    CHECK_THROWS_CONTAINING(Tensor::scalar(1).size(0), "size: a 0-d tensor has no dims", IndexError);
  }
  SUBCASE("to_vector of non-contiguous tensors is in logical (row-major) order") {
    CHECK(x.t().to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
    CHECK(x.slice(1, 0, 3, 2).to_vector<double>() == std::vector<double>{1, 3, 4, 6});
    CHECK(Tensor({1., 2.}).expand({2, 2}).to_vector() == std::vector<float>{1, 2, 1, 2});
    CHECK(Tensor({-1.5, 2.9}).to_vector<int64_t>() == std::vector<int64_t>{-1, 2});
    CHECK(Tensor::zeros({0, 3}).to_vector().empty());
  }
  SUBCASE("data_ptr checks the dtype") {
    CHECK(x.data_ptr<float>()[4] == 5);
    CHECK_THROWS_CONTAINING(x.data_ptr<double>(), "data_ptr: tensor has dtype float32, asked for float64",
                            DTypeError);
  }
  SUBCASE("an undefined tensor says so") {
    Tensor u;
    CHECK_FALSE(u.defined());
    CHECK_THROWS_CONTAINING(u.shape(), "this tensor is undefined", ValueError);
  }
}

TEST_CASE("dtype conversion round trips") {
  Tensor f({0.1, -2.5, 1e6});
  Tensor d = f.to(kFloat64);
  CHECK(d.dtype() == kFloat64);
  CHECK(d.to_vector<double>()[0] == static_cast<double>(0.1f));  // float32's 0.1, widened exactly
  CHECK(d.to(kFloat32).to_vector() == f.to_vector());            // and narrowed back exactly
  CHECK_FALSE(d.shares_storage(f));

  Tensor i = Tensor::arange(-3, 3, 1, kInt64);
  CHECK(i.to(kFloat32).to(kInt64).to_vector<int64_t>() == i.to_vector<int64_t>());
  CHECK(Tensor({2.99, -2.99}).to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{2, -2});
  // float64 -> float32 rounds to nearest.
  CHECK(Tensor({1.0 + 1e-12}, kFloat64).to(kFloat32).item() == 1.0);
  // A non-contiguous source converts in logical order.
  CHECK(Tensor({{1, 2}, {3, 4}}).t().to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, 3, 2, 4});
}

TEST_CASE("detach and clone") {
  Tensor x = Tensor({1., 2., 3.}).requires_grad_();
  Tensor y = tanh(x);

  SUBCASE("detach: same storage, no graph") {
    Tensor d = y.detach();
    CHECK(d.shares_storage(y));
    CHECK(d.is_leaf());
    CHECK_FALSE(d.requires_grad());
    CHECK(y.requires_grad());
    CHECK(x.detach().shares_storage(x));
    CHECK_FALSE(x.detach().requires_grad());
  }
  SUBCASE("clone: new storage, and the gradient flows through it") {
    Tensor c = x.clone();
    CHECK_FALSE(c.shares_storage(x));
    CHECK_FALSE(c.is_leaf());
    CHECK(c.grad_fn()->name() == "clone");
    c.backward(Tensor({1., 1., 1.}));
    check_values(x.grad(), {1, 1, 1});
  }
  SUBCASE("requires_grad_ rules") {
    CHECK(x.is_leaf());
    CHECK(x.requires_grad());
    CHECK_THROWS_CONTAINING(y.requires_grad_(), "requires_grad_: only leaf tensors can be flagged; this one "
                            "was made by 'tanh'", AutogradError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2}, kInt64).requires_grad_(),
                            "requires_grad_: tensor has dtype int64", DTypeError);
    Tensor z = Tensor::zeros({2}).requires_grad_();
    z.requires_grad_(false);
    CHECK_FALSE(z.requires_grad());
  }
  SUBCASE("set_grad checks the shape") {
    Tensor w = Tensor::zeros({2, 2});
    w.set_grad(Tensor::ones({2, 2}));
    check_values(w.grad(), {1, 1, 1, 1});
    w.zero_grad();
    CHECK_FALSE(w.grad().defined());
    CHECK_THROWS_CONTAINING(w.set_grad(Tensor::ones({4})), "set_grad: grad has shape [4]", ShapeError);
    CHECK_THROWS_CONTAINING(w.set_grad(Tensor::ones({2, 2}, kFloat64)), "(float64)", ShapeError);
  }
}

TEST_CASE("in-place writes") {
  SUBCASE("fill_, copy_, add_, mul_ write and bump the version") {
    Tensor x = Tensor::zeros({2, 3});
    uint64_t v = x.version();
    x.fill_(2);
    CHECK(x.version() == v + 1);
    check_values(x, {2, 2, 2, 2, 2, 2});

    x.copy_(Tensor({1., 2., 3.}));  // broadcasts over the rows
    CHECK(x.version() == v + 2);
    check_values(x, {1, 2, 3, 1, 2, 3});

    x.add_(Tensor({{10.}, {20.}}), 0.5);  // x += 0.5 * other, broadcast over the columns
    CHECK(x.version() == v + 3);
    check_values(x, {6, 7, 8, 11, 12, 13});

    x.mul_(-1);
    CHECK(x.version() == v + 4);
    check_values(x, {-6, -7, -8, -11, -12, -13});

    x.zero_();
    CHECK(x.version() == v + 5);
    check_values(x, {0, 0, 0, 0, 0, 0});
  }
  SUBCASE("through views, and between dtypes") {
    Tensor x = Tensor::zeros({3, 3});
    x.t().select(0, 1).fill_(5);  // column 1
    check_values(x, {0, 5, 0, 0, 5, 0, 0, 5, 0});
    x.slice(0, 0, 3, 2).copy_(Tensor::ones({2, 3}, kInt64));  // rows 0 and 2, converted
    check_values(x, {1, 1, 1, 0, 5, 0, 1, 1, 1});
    Tensor i = Tensor::zeros({2}, kInt64);
    i.fill_(3.9);
    CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{3, 3});
  }
  SUBCASE("a source that aliases the destination is read before it is overwritten") {
    Tensor x({{1, 2}, {3, 4}});
    x.copy_(x.t());
    check_values(x, {1, 3, 2, 4});
    x.add_(x.t());
    check_values(x, {2, 5, 5, 8});
  }
  SUBCASE("saved tensors notice a later write (the version check)") {
    Tensor x = Tensor({0.5, 1.}).requires_grad_();
    Tensor y = tanh(x);  // saves y for backward
    {
      NoGradGuard no_grad;
      y.mul_(2);
    }
    CHECK_THROWS_CONTAINING(y.backward(Tensor({1., 1.})), "modified by an in-place operation",
                            AutogradError);
  }
  SUBCASE("a tensor that requires grad may be written only with grad mode off") {
    Tensor w = Tensor::ones({2}).requires_grad_();
    CHECK_THROWS_CONTAINING(w.fill_(0), "fill_: in-place write to a tensor of shape [2] that requires grad",
                            AutogradError);
    CHECK_THROWS_CONTAINING(w.add_(Tensor::ones({2})), "add_: in-place write", AutogradError);
    CHECK_THROWS_CONTAINING(w.mul_(2), "mul_: in-place write", AutogradError);
    CHECK_THROWS_CONTAINING(w.copy_(Tensor::ones({2})), "copy_: in-place write", AutogradError);
    {
      NoGradGuard no_grad;  // how optimizers update parameters
      w.add_(Tensor({1., 2.}), -0.5);
    }
    check_values(w, {0.5, 0});
  }
  SUBCASE("errors") {
    Tensor x = Tensor::zeros({2, 3});
    CHECK_THROWS_CONTAINING(Tensor({1.}).expand({3}).fill_(0), "fill_: the tensor of shape [3] repeats "
                            "memory along dim 0 (an expand() view)", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2, 1}).expand({2, 2}).mul_(2), "mul_: the tensor of shape [2, 2] "
                            "repeats memory along dim 1", ValueError);
    CHECK_THROWS_CONTAINING(x.copy_(Tensor::ones({3, 2})), "shapes [3, 2] and [2, 3] do not broadcast",
                            ShapeError);
    CHECK_THROWS_CONTAINING(x.add_(Tensor::ones({2, 2})), "add_: shapes [2, 2] and [2, 3] do not broadcast",
                            ShapeError);
    // other broadcasts with x, but to a bigger shape than x's: still refused.
    CHECK_THROWS_CONTAINING(x.add_(Tensor::ones({4, 2, 3})), "add_: other has shape [4, 2, 3], which does "
                            "not broadcast to this tensor's shape [2, 3]", ShapeError);
    CHECK_THROWS_CONTAINING(x.add_(Tensor::ones({2, 3}, kFloat64)), "add_: a is float32", DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2}, kInt64).mul_(2), "mul_: input has dtype int64", DTypeError);
    CHECK(x.version() == 0);  // nothing was written by the failed calls
  }
}

TEST_CASE("storage: small blocks are reused, and a reused block is still zero-filled and aligned") {
  // Freed blocks up to 64 KiB go to a per-thread cache (core/storage.cpp) and come
  // back for the next tensor of a similar size, with the old values still in them.
  for (int64_t n : {1, 10, 16, 17, 1000, 16384, 16385, 100000}) {
    INFO("numel " << n);
    const void* first = nullptr;
    {
      Tensor dirty = Tensor::full({n}, 7.0);
      first = dirty.raw_data_ptr();
    }
    Tensor z = Tensor::zeros({n});
    CHECK(z.sum().item() == 0.0);  // zeros() must not see the 7s of the block it may reuse
    CHECK(reinterpret_cast<uintptr_t>(z.raw_data_ptr()) % 64 == 0);
    if (Storage::kCachesSmallBlocks && n * 4 <= 65536)
      CHECK(z.raw_data_ptr() == first);  // cached sizes are reused
  }
  // A size class holds blocks of different requested sizes: a smaller tensor may
  // get a block a larger one used, and must still see only its own elements.
  { Tensor big = Tensor::full({16}, 3.0); }  // 64 bytes
  Tensor small = Tensor::zeros({3});
  check_values(small, {0, 0, 0});
  const int64_t before = Storage::live_bytes();
  { Tensor t = Tensor::empty({100}); CHECK(Storage::live_bytes() == before + 400); }
  CHECK(Storage::live_bytes() == before);  // a cached block is not counted as live
}

TEST_CASE("storage: large blocks are reused by exact size, and empty_cache() hands them back") {
  Storage::empty_cache();
  const int64_t n = 300000;  // 1.2 MB: far above the small-block classes
  const void* first = nullptr;
  {
    Tensor dirty = Tensor::full({n}, 5.0);
    first = dirty.raw_data_ptr();
  }
  if (!Storage::kCachesSmallBlocks) {  // ASan build: nothing is cached
    CHECK(Storage::cached_bytes() == 0);
    return;
  }
  CHECK(Storage::cached_bytes() >= n * 4);
  {
    Tensor other = Tensor::zeros({n + 1000});  // another size: not this block
    CHECK(other.raw_data_ptr() != first);
  }
  Tensor again = Tensor::zeros({n});
  CHECK(again.raw_data_ptr() == first);  // the same size takes the cached block back
  CHECK(again.sum().item() == 0.0);     // zero-filled although the block held 5s
  CHECK(Storage::empty_cache() >= (n + 1000) * 4);  // the other size is still cached: freed now
  CHECK(Storage::cached_bytes() == 0);
}

TEST_CASE("object pool: blocks are recycled per size, across threads, and too-big ones are not pooled") {
  using heed::detail::pool_allocate;
  using heed::detail::pool_free;
  void* a = pool_allocate(100);  // rounded up to 128 bytes
  std::memset(a, 1, 100);
  pool_free(a, 100);
  void* b = pool_allocate(120);  // the same 128-byte pool
  if (Storage::kCachesSmallBlocks) CHECK(b == a);  // (nothing is pooled under ASan)
  std::memset(b, 2, 120);  // the whole rounded size is usable
  pool_free(b, 120);
  void* big = pool_allocate(5000);  // above 1 KiB: plain new and delete
  std::memset(big, 3, 5000);
  pool_free(big, 5000);

  // Tensors made on one thread and dropped on another (their blocks join the
  // other thread's pools, which free them when that thread ends).
  std::vector<Tensor> made;
  std::thread maker([&] {
    for (int i = 0; i < 200; ++i) made.push_back(Tensor::randn({3}) * 2.0);
  });
  maker.join();
  std::thread dropper([&] { made.clear(); });
  dropper.join();
  CHECK(made.empty());
}

TEST_CASE("what C++ leaves undefined, heed defines") {
  SUBCASE("a float with no int64 value is refused, wherever it would be converted") {
    const double nan = std::nan(""), inf = INFINITY;
    CHECK_THROWS_CONTAINING(Tensor({1.0, nan}).to(kInt64), "copy to int64: nan has no int64 value", ValueError);
    CHECK_THROWS_CONTAINING(Tensor({-inf}, kFloat64).to(kInt64), "-inf has no int64 value", ValueError);
    CHECK_THROWS_CONTAINING(Tensor({9.3e18}).to(kInt64), "has no int64 value", ValueError);  // > 2^63
    CHECK_THROWS_CONTAINING(Tensor::full({2}, nan, kInt64), "full: nan has no int64 value", ValueError);
    CHECK_THROWS_CONTAINING(Tensor({nan}, kInt64), "Tensor: nan has no int64 value", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2}, kInt64).fill_(inf), "fill_: inf has no int64 value", ValueError);
    CHECK_THROWS_CONTAINING(Tensor({nan}).to_vector<int64_t>(), "has no int64 value", ValueError);
    // A failed copy writes nothing.
    Tensor dst = Tensor::full({3}, 7, kInt64);
    CHECK_THROWS_CONTAINING(dst.copy_(Tensor({1.0, 2.0, nan})), "nan has no int64 value", ValueError);
    CHECK(dst.to_vector<int64_t>() == std::vector<int64_t>{7, 7, 7});
    // The edges: -2^63 has a value, and truncation toward zero keeps -2.9 and 2.9.
    CHECK(Tensor({-0x1p63, -2.9, 2.9}, kFloat64).to(kInt64).to_vector<int64_t>() ==
          std::vector<int64_t>{INT64_MIN, -2, 2});
    CHECK_THROWS_CONTAINING(Tensor({0x1p63}, kFloat64).to(kInt64), "has no int64 value", ValueError);
  }
  SUBCASE("an int64 sum wraps around modulo 2^64, as PyTorch's does") {
    Tensor t = Tensor::from_vector(std::vector<int64_t>{INT64_MAX, 1, 5}, {3});
    CHECK(t.sum().to_vector<int64_t>() == std::vector<int64_t>{INT64_MIN + 5});
  }
  SUBCASE("randint over the whole int64 range") {
    manual_seed(3);
    Tensor r = Tensor::randint(INT64_MIN, INT64_MAX, {1000});
    std::vector<int64_t> v = r.to_vector<int64_t>();
    CHECK(std::any_of(v.begin(), v.end(), [](int64_t x) { return x < 0; }));
    CHECK(std::any_of(v.begin(), v.end(), [](int64_t x) { return x > 0; }));
    CHECK(std::none_of(v.begin(), v.end(), [](int64_t x) { return x == INT64_MAX; }));  // high is excluded
  }
}
