// Losses: mse_loss, nll_loss, cross_entropy, binary_cross_entropy_with_logits and
// their modules. Each against PyTorch for every reduction (tests/reference/layers.py),
// a float64 gradcheck, and the errors it raises.
#include <cmath>

#include "heed/nn/loss.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
using namespace heed::nn;

namespace {

const StateDict& fixtures() { return fixture_file("layers.safetensors"); }
Tensor fx(const std::string& name) { return fixture("layers.safetensors", name); }

using LossFn = std::function<Tensor(const Tensor&, const Tensor&, Reduction)>;

// For each reduction: the loss of the fixture's x and target, and the gradients
// for the fixture's upstream dy, against PyTorch's. atol 1e-6 covers outputs that
// are 0 in PyTorch and 1e-44 here (BCE at +-100, see below) and similar.
void check_loss_against_pytorch(const std::string& c, const LossFn& fn, bool target_grad = false) {
  const std::pair<const char*, Reduction> reductions[] = {
      {"mean", Reduction::Mean}, {"sum", Reduction::Sum}, {"none", Reduction::None}};
  for (auto [name, reduction] : reductions) {
    const std::string cr = c + "." + name;
    Tensor x = fx(c + ".x").clone().requires_grad_();
    Tensor t = fx(c + ".target").clone();
    if (target_grad) t.requires_grad_();
    Tensor y = fn(x, t, reduction);
    check_close(cr + " y", y, fx(cr + ".y"));
    y.backward(fx(cr + ".dy"));
    check_close(cr + " grad x", x.grad(), fx(cr + ".grad.x"));
    if (target_grad) check_close(cr + " grad target", t.grad(), fx(cr + ".grad.target"));
  }
}

Tensor ids(std::initializer_list<NestedValues> v) { return Tensor(v, kInt64); }

}  // namespace

TEST_CASE("cross_entropy") {
  SUBCASE("matches PyTorch: [N, C] with ignored targets, mean / sum / none") {
    check_loss_against_pytorch("cross_entropy", [](const Tensor& x, const Tensor& t, Reduction r) {
      return cross_entropy(x, t, {.reduction = r});
    });
  }
  SUBCASE("matches PyTorch: [N, C, d] with ignore_index = 1 (a valid class)") {
    check_loss_against_pytorch("cross_entropy_3d", [](const Tensor& x, const Tensor& t, Reduction r) {
      return cross_entropy(x, t, {.ignore_index = 1, .reduction = r});
    });
  }
  SUBCASE("matches PyTorch with logits in the thousands (stable through log_softmax)") {
    check_loss_against_pytorch("cross_entropy_large", [](const Tensor& x, const Tensor& t, Reduction r) {
      return cross_entropy(x, t, {.reduction = r});
    });
  }
  SUBCASE("values by hand: uniform logits give log C; a 0-d target with [C] logits") {
    CHECK(cross_entropy(Tensor::zeros({3, 4}), ids({0, 1, 3})).item() == doctest::Approx(std::log(4.0)));
    // -log softmax([1, 2, 3])[2] = log(e + e^2 + e^3) - 3
    double expect = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3;
    CHECK(cross_entropy(Tensor({1, 2, 3}), Tensor::scalar(2, kInt64)).item() == doctest::Approx(expect));
    Tensor huge = Tensor({{1e4, 0, -1e4}});
    CHECK(cross_entropy(huge, ids({2})).item() == doctest::Approx(2e4));
  }
  SUBCASE("every target ignored: mean is NaN (0 / 0, as in PyTorch), sum is 0") {
    CHECK(std::isnan(cross_entropy(Tensor::ones({2, 3}), ids({-100, -100})).item()));
    CHECK(cross_entropy(Tensor::ones({2, 3}), ids({-100, -100}), {.reduction = Reduction::Sum}).item() == 0);
  }
  SUBCASE("the module gives the function's result") {
    Tensor x = Tensor::randn({4, 3});
    Tensor t = ids({0, 2, 2, 1});
    CrossEntropyLoss loss({.ignore_index = 2, .reduction = Reduction::Sum});
    CHECK(loss(x, t).item() == cross_entropy(x, t, {.ignore_index = 2, .reduction = Reduction::Sum}).item());
  }
  SUBCASE("float64 gradcheck: [N, C] and [N, C, d1, d2] (permuted), each reduction, ignored targets") {
    Tensor t2 = ids({1, -100, 0, 2});
    Tensor t4 = ids({{{0, 2}, {1, 1}}, {{2, 0}, {1, 2}}});
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      CHECK(grad_ok([&](const TensorList& x) { return cross_entropy(x[0], t2, {.reduction = r}); },
                    {randn64({4, 3})}));
      CHECK(grad_ok([&](const TensorList& x) { return cross_entropy(x[0], t4, {.ignore_index = 1, .reduction = r}); },
                    {randn64({2, 2, 2, 3}).permute({0, 3, 1, 2})}));
    }
  }
  SUBCASE("errors") {
    Tensor x = Tensor::zeros({3, 5});
    CHECK_THROWS_CONTAINING(cross_entropy(x, ids({0, 5, 1})),
                            "cross_entropy: target 5 (element 1 of target [3]) is out of range for 5 classes",
                            IndexError);
    CHECK_THROWS_CONTAINING(cross_entropy(x, ids({0, -1, 1})), "target -1", IndexError);
    CHECK_THROWS_CONTAINING(cross_entropy(x, Tensor({0.0, 1.0, 1.0})), "int64 class indices", DTypeError);
    CHECK_THROWS_CONTAINING(cross_entropy(x, ids({0, 1})), "input is [3, 5], target is [2]", ShapeError);
    CHECK_THROWS_CONTAINING(cross_entropy(Tensor::zeros({2, 5, 3}), ids({0, 1})),
                            "the target must be [N, d1...], here [2, 3]", ShapeError);
    CHECK_THROWS_CONTAINING(cross_entropy(Tensor::scalar(1), Tensor::scalar(0, kInt64)), "input is 0-d",
                            ShapeError);
    CHECK_THROWS_CONTAINING(cross_entropy(Tensor::zeros({3, 5}, kInt64), ids({0, 1, 1})), "cross_entropy",
                            DTypeError);
  }
}

TEST_CASE("nll_loss") {
  SUBCASE("matches PyTorch, mean / sum / none") {
    check_loss_against_pytorch("nll_loss", [](const Tensor& x, const Tensor& t, Reduction r) {
      return nll_loss(x, t, {.reduction = r});
    });
  }
  SUBCASE("values by hand: mean over the targets not ignored") {
    Tensor lp = Tensor({{-1, -2}, {-3, -4}, {-5, -6}});
    CHECK(nll_loss(lp, ids({1, -100, 0})).item() == doctest::Approx((2 + 5) / 2.0));
    check_values(nll_loss(lp, ids({1, -100, 0}), {.reduction = Reduction::None}), {2, 0, 5});
    NLLLoss mod({.ignore_index = 0});
    CHECK(mod(lp, ids({1, 0, 0})).item() == doctest::Approx(2));
  }
  SUBCASE("float64 gradcheck") {
    Tensor t = ids({{0, 3}, {2, 2}, {1, -100}});
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
      CHECK(grad_ok([&](const TensorList& x) { return nll_loss(x[0], t, {.reduction = r}); },
                    {randn64({3, 2, 4}).transpose(1, 2)}));
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(nll_loss(Tensor::zeros({2, 3}), ids({3, 0})),
                            "nll_loss: target 3 (element 0 of target [2]) is out of range for 3 classes", IndexError);
    CHECK_THROWS_CONTAINING(nll_loss(Tensor::zeros({2, 3}), Tensor({1.0, 0.0})), "nll_loss", DTypeError);
    CHECK_THROWS_CONTAINING(nll_loss(Tensor::zeros({2, 3}), ids({{1}, {0}})), "input is [2, 3], target is [2, 1]",
                            ShapeError);
  }
}

TEST_CASE("mse_loss") {
  SUBCASE("matches PyTorch, mean / sum / none, with the target's gradient") {
    check_loss_against_pytorch("mse_loss", [](const Tensor& x, const Tensor& t, Reduction r) {
      return mse_loss(x, t, r);
    }, /*target_grad=*/true);
  }
  SUBCASE("values by hand and the module") {
    Tensor x = Tensor({1, 2, 3}), y = Tensor({1, 0, 6});
    CHECK(mse_loss(x, y).item() == doctest::Approx(13.0 / 3));
    CHECK(MSELoss(Reduction::Sum)(x, y).item() == doctest::Approx(13));
    check_values(mse_loss(x, y, Reduction::None), {0, 4, 9});
  }
  SUBCASE("float64 gradcheck, both inputs, one strided") {
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
      CHECK(grad_ok([&](const TensorList& t) { return mse_loss(t[0], t[1], r); }, {randn64({4, 3}).t(), randn64({3, 4})}));
  }
  SUBCASE("float64 gradcheck: 3-D, permuted and sliced, 0-d, each reduction") {
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      CHECK(grad_ok([&](const TensorList& t) { return mse_loss(t[0].permute({2, 0, 1}), t[1].slice(1, 0, 6, 2), r); },
                    {randn64({3, 4, 2}), randn64({2, 6, 4})}));
      CHECK(grad_ok([&](const TensorList& t) { return mse_loss(t[0], t[1], r); }, {randn64({}), randn64({})}));
    }
  }
  SUBCASE("values and both gradients against PyTorch, with an upstream gradient (float64)") {
    // F.mse_loss(x, t, reduction=r).backward(g): g = 1.5 for mean and sum, a [2, 3] g for none
    Tensor g_none = Tensor({{1, 2, 3}, {-1, 0.5, 2}}, kFloat64);
    struct Case {
      Reduction r;
      std::vector<double> y, dx;
    } cases[] = {
        {Reduction::Mean, {3.59375}, {-0.25, -1, 0.5, 2, -0.25, -0.125}},
        {Reduction::Sum, {21.5625}, {-1.5, -6, 3, 12, -1.5, -0.75}},
        {Reduction::None, {0.25, 4, 1, 16, 0.25, 0.0625}, {-1, -8, 6, -8, -0.5, -1}},
    };
    for (const Case& c : cases) {
      Tensor x = Tensor({{0.5, -1, 2}, {3, 0, -0.25}}, kFloat64).requires_grad_();
      Tensor t = Tensor({{1, 1, 1}, {-1, 0.5, 0}}, kFloat64).requires_grad_();
      Tensor y = mse_loss(x, t, c.r);
      check_values(y, c.y, 1e-12);
      y.backward(c.r == Reduction::None ? g_none : Tensor::scalar(1.5, kFloat64));
      check_values(x.grad(), c.dx, 1e-12);
      std::vector<double> minus;
      for (double v : c.dx) minus.push_back(-v);
      check_values(t.grad(), minus, 1e-12);
    }
  }
  SUBCASE("one graph node, its edges straight at input and target; only what needs a gradient gets one") {
    Tensor x0 = randn64({2, 3}).requires_grad_();
    Tensor x = exp(x0), t = randn64({2, 3}).requires_grad_();
    Tensor loss = mse_loss(x, t);
    REQUIRE(loss.grad_fn());
    CHECK(loss.grad_fn()->name() == "mse_loss");
    REQUIRE(loss.grad_fn()->next_edges().size() == 2);
    CHECK(loss.grad_fn()->next_edges()[0].node == x.grad_fn());
    CHECK(loss.grad_fn()->next_edges()[1].node == gradient_edge(t));
    Tensor fixed = randn64({2, 3}), p = randn64({2, 3}).requires_grad_();
    mse_loss(fixed, p, Reduction::Sum).backward();  // only the target needs a gradient
    CHECK_FALSE(fixed.grad().defined());
    check_values(p.grad(), (2.0 * (p.detach() - fixed)).to_vector<double>(), 1e-12);
    Tensor none = mse_loss(x, t, Reduction::None);
    none.sum().backward();  // dy is ones expanded (stride 0): read elementwise all the same
    check_values(x0.grad(), (2.0 * (x.detach() - t.detach()) * x.detach()).to_vector<double>(), 1e-12);
  }
  SUBCASE("float32 over 100,000 elements: summed in double, in the same chunks as sum()") {
    manual_seed(5);
    Tensor x = Tensor::randn({100000}), t = Tensor::randn({100000});
    Tensor d = x - t;
    CHECK(mse_loss(x, t).item() == doctest::Approx((d * d).mean().item()).epsilon(1e-7));
    CHECK(mse_loss(x, t, Reduction::Sum).item() == doctest::Approx((d * d).sum().item()).epsilon(1e-7));
    double exact = 0;  // a plain double loop: an oracle sharing no code with either
    for (double v : d.to_vector<double>()) exact += v * v;
    CHECK(mse_loss(x, t, Reduction::Sum).item() == doctest::Approx(exact).epsilon(1e-6));
  }
  SUBCASE("empty input: mean is NaN (0 / 0, as in PyTorch), sum is 0, none is empty") {
    Tensor e = Tensor::zeros({0, 3});
    CHECK(std::isnan(mse_loss(e, e).item()));
    CHECK(mse_loss(e, e, Reduction::Sum).item() == 0);
    CHECK(mse_loss(e, e, Reduction::None).shape() == Shape{0, 3});
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(mse_loss(Tensor::zeros({3}), Tensor::zeros({3, 1})),
                            "mse_loss: input is [3], target is [3, 1]; they must have the same shape", ShapeError);
    CHECK_THROWS_CONTAINING(mse_loss(Tensor::zeros({3}), Tensor::zeros({3}, kFloat64)), "mse_loss", DTypeError);
    CHECK_THROWS_CONTAINING(mse_loss(Tensor::zeros({3}), Tensor::zeros({3}, kInt64)), "target has dtype int64",
                            DTypeError);
  }
}

TEST_CASE("binary_cross_entropy_with_logits") {
  // The fixture's logits include +-100 and +-30. At x = 100, y = 1 PyTorch's float32
  // loss is log(1 + e^-100) = log(1) = 0, heed's log1p(e^-100) = 3.7e-44: both right to
  // float32 precision, which atol (1e-6) accepts.
  SUBCASE("matches PyTorch with logits of +-100, soft targets, mean / sum / none") {
    check_loss_against_pytorch("bce", [](const Tensor& x, const Tensor& t, Reduction r) {
      return binary_cross_entropy_with_logits(x, t, r);
    }, /*target_grad=*/true);
  }
  SUBCASE("matches PyTorch with pos_weight") {
    Tensor pw = fx("bce_pos.pos_weight");
    check_loss_against_pytorch("bce_pos", [&](const Tensor& x, const Tensor& t, Reduction r) {
      return binary_cross_entropy_with_logits(x, t, r, pw);
    }, /*target_grad=*/true);
  }
  SUBCASE("stable far out: finite values, exact limits") {
    Tensor x = Tensor({1000.0, -1000.0, 1000.0, 0.0});
    Tensor y = Tensor({1.0, 0.0, 0.0, 1.0});
    check_values(binary_cross_entropy_with_logits(x, y, Reduction::None), {0, 0, 1000, std::log(2.0)}, 1e-7);
  }
  SUBCASE("the gradient at x = 0 is sigmoid(0) - y = 0.5 - y (no kink from max or |x|)") {
    Tensor x = Tensor::zeros({2}, kFloat64).requires_grad_();
    binary_cross_entropy_with_logits(x, Tensor({1.0, 0.25}, kFloat64), Reduction::Sum).backward();
    check_values(x.grad(), {-0.5, 0.25}, 1e-12);
  }
  SUBCASE("the module keeps pos_weight as a buffer") {
    BCEWithLogitsLoss loss(Reduction::Mean, Tensor({2.0}));
    CHECK(loss.state_dict().keys() == std::vector<std::string>{"pos_weight"});
    Tensor x = Tensor({0.3, -1.0}), y = Tensor({1.0, 0.0});
    CHECK(loss(x, y).item() == binary_cross_entropy_with_logits(x, y, Reduction::Mean, Tensor({2.0})).item());
    CHECK(BCEWithLogitsLoss().state_dict().empty());
  }
  SUBCASE("float64 gradcheck: logits, targets and pos_weight") {
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      CHECK(grad_ok([&](const TensorList& t) { return binary_cross_entropy_with_logits(t[0], t[1], r); },
                    {randn64({3, 4}) * 3, Tensor::rand({4, 3}, kFloat64).t()}));
      CHECK(grad_ok([&](const TensorList& t) { return binary_cross_entropy_with_logits(t[0], t[1], r, t[2]); },
                    {randn64({3, 4}) * 3, Tensor::rand({3, 4}, kFloat64), Tensor::rand({4}, kFloat64) + 0.5}));
    }
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(binary_cross_entropy_with_logits(Tensor::zeros({3}), Tensor::zeros({1, 3})),
                            "binary_cross_entropy_with_logits: input is [3], target is [1, 3]", ShapeError);
    CHECK_THROWS_CONTAINING(binary_cross_entropy_with_logits(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}),
                                                             Reduction::Mean, Tensor::ones({2})),
                            "pos_weight is [2], input is [2, 3]", ShapeError);
    CHECK_THROWS_CONTAINING(binary_cross_entropy_with_logits(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}),
                                                             Reduction::Mean, Tensor::ones({2, 1, 3})),
                            "pos_weight must broadcast", ShapeError);
    CHECK_THROWS_CONTAINING(binary_cross_entropy_with_logits(Tensor::zeros({3}), Tensor::zeros({3}, kInt64)),
                            "target has dtype int64", DTypeError);
  }
}
