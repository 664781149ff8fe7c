// The autograd engine (autograd/engine.cpp, node.h, grad_mode.h, gradcheck.h):
// accumulation, retain_graph, no-grad mode, detach, the version counter, deep
// graphs (no stack overflow forward, backward, or when the graph is destroyed),
// memory (a finished graph frees everything, no reference cycles), and the checks
// that make a wrong backward fail loudly.
#include <thread>
#include <unordered_set>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {

// ---- custom ops with deliberately broken backwards, built with record() ----------

// y = x^2, computed correctly, but the backward claims dx = dy * x (the 2 is missing).
Tensor wrong_square(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;  // the forward must not record its own mul
    y = x * x;
  }
  if (!needs_grad({x})) return y;
  SavedTensor sx(x);
  return record("wrong_square", y, {x}, [sx](const Tensor& dy) -> TensorList {
    return {dy * sx.get("wrong_square")};
  });
}

// y = x (a copy), with a backward that returns `make(dy)` as x's gradient.
template <class Make>
Tensor custom_identity(const char* name, const Tensor& x, Make make) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x.clone();
  }
  return record(name, y, {x}, [make](const Tensor& dy) -> TensorList { return make(dy); });
}

// Every node reachable from t's grad_fn, counted with an explicit stack.
size_t count_nodes(const Tensor& t) {
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack{t.grad_fn().get()};
  seen.insert(stack.back());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges())
      if (e.node && seen.insert(e.node.get()).second) stack.push_back(e.node.get());
  }
  return seen.size();
}

}  // namespace

// ---- accumulation ------------------------------------------------------------------

TEST_CASE("autograd/a tensor used twice gets both contributions") {
  Tensor x = Tensor({1, 2, 3}, kFloat64).requires_grad_();
  // y = x*x + (x + x): dy/dx = 2x + 2
  Tensor y = x * x + (x + x);
  y.backward(Tensor::ones({3}, kFloat64));
  check_values(x.grad(), {4, 6, 8});

  // The same node reached along two paths of different length (a diamond):
  // z = a*a + a with a = 3x, so dz/dx = (2a + 1) * 3
  Tensor w = Tensor({1, 2}, kFloat64).requires_grad_();
  Tensor a = w * 3.0;
  Tensor z = tanh(a) * 0.0 + a * a + a;
  z.backward(Tensor::ones({2}, kFloat64));
  check_values(w.grad(), {21, 39});
  CHECK_FALSE(a.grad().defined());  // only leaves keep a grad
}

TEST_CASE("autograd/many contributions to one tensor, summed in place without touching anyone's") {
  // m is used by six consumers, two of them through a transposed view, so its
  // pending gradient takes five additions (in place once it is the engine's own).
  Tensor x = randn64({3, 4}).requires_grad_();
  Tensor m = x * 2.0;
  Tensor M = randn64({3, 5});
  Tensor loss = (m * 1.0).sum() + (m * 2.0).sum() + (m * 3.0).sum() + matmul(m.t(), M).sum() +
                matmul(M.t(), m).sum() + (m + 0.0).sum();
  loss.backward();
  // d loss / dm = 1 + 2 + 3 + (M 1)_row + (M 1)_row + 1: every column gets 7 + 2 * rowsum(M)
  Tensor dm = 7.0 + 2.0 * M.sum({1}, /*keepdim=*/true).expand({3, 4});
  check_values(x.grad(), (2.0 * dm).to_vector<double>(), 1e-12);

  // A gradient someone else holds is never the one added into. Here a hook keeps
  // h's gradient, and h's backward (an add) hands that same tensor on to m2, whose
  // pending sum it may then start: the next contribution must go to a new tensor.
  // (Both orders of the two terms, so that either contribution can come first.)
  for (bool h_first : {true, false}) {
    INFO("h's term first: " << h_first);
    Tensor y = randn64({4}).requires_grad_();
    Tensor m2 = y * 2.0;
    Tensor h = m2 + Tensor::zeros({4}, kFloat64);
    Tensor w = Tensor({1.0, 2.0, 3.0, 4.0}, kFloat64);
    std::vector<Tensor> kept;
    h.register_hook([&](const Tensor& g) {
      kept.push_back(g);
      return Tensor();
    });
    Tensor via_h = (h * w).sum(), direct = (m2 * 3.0).sum();
    (h_first ? via_h + direct : direct + via_h).backward();
    REQUIRE(kept.size() == 1);
    check_values(kept[0], {1, 2, 3, 4});           // unchanged: still d loss / dh = w
    check_values(y.grad(), {8, 10, 12, 14});       // (w + 3) * 2
  }
}

TEST_CASE("autograd/two backward calls accumulate into grad") {
  Tensor x = Tensor({1, 2}).requires_grad_();
  (x * 3.0).backward(Tensor::ones({2}));
  check_values(x.grad(), {3, 3});
  (x * x).backward(Tensor::ones({2}));  // a fresh graph: adds 2x
  check_values(x.grad(), {5, 7});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  (x * 3.0).backward(Tensor::ones({2}));
  check_values(x.grad(), {3, 3});
}

TEST_CASE("autograd/retain_graph") {
  Tensor x = Tensor({0.5, -1.0}, kFloat64).requires_grad_();
  Tensor y = tanh(x) * x;
  Tensor g = Tensor::ones({2}, kFloat64);
  y.backward(g, /*retain_graph=*/true);
  std::vector<double> once = x.grad().to_vector<double>();
  SUBCASE("a second backward with it kept works, and accumulates") {
    y.backward(g, /*retain_graph=*/true);
    check_values(x.grad(), {2 * once[0], 2 * once[1]});
    y.backward(g);  // retain_graph false: the last one may free the graph
    check_values(x.grad(), {3 * once[0], 3 * once[1]});
    CHECK_THROWS_CONTAINING(y.backward(g), "retain_graph", AutogradError);
  }
  SUBCASE("without it, the second backward throws") {
    y.backward(g);
    CHECK(y.grad_fn()->released());
    CHECK_THROWS_CONTAINING(y.backward(g), "retain_graph", AutogradError);
    CHECK_THROWS_CONTAINING(y.backward(g), "a second time", AutogradError);
    CHECK(is_grad_enabled());  // the failed backward restored grad mode
  }
}

// ---- grad mode ---------------------------------------------------------------------

TEST_CASE("autograd/no-grad guard") {
  Tensor x = Tensor({1, 2}).requires_grad_();
  REQUIRE(is_grad_enabled());
  {
    NoGradGuard no_grad;
    CHECK_FALSE(is_grad_enabled());
    Tensor y = tanh(x * 2.0);
    CHECK(y.grad_fn() == nullptr);
    CHECK_FALSE(y.requires_grad());
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2})), "does not require grad", AutogradError);
    {
      NoGradGuard nested;
      CHECK_FALSE(is_grad_enabled());
    }
    CHECK_FALSE(is_grad_enabled());  // the inner guard restores "off", not "on"
  }
  CHECK(is_grad_enabled());
  CHECK((x * 2.0).grad_fn() != nullptr);

  // A graph built with grad mode on can be run backward inside a guard.
  Tensor y = x * 4.0;
  {
    NoGradGuard no_grad;
    y.backward(Tensor::ones({2}));
  }
  check_values(x.grad(), {4, 4});

  // It restores whatever was there before, including "off".
  set_grad_enabled(false);
  { NoGradGuard no_grad; }
  CHECK_FALSE(is_grad_enabled());
  set_grad_enabled(true);

  // Grad mode is per thread: a guard here does not switch it off elsewhere.
  NoGradGuard no_grad;
  bool other_thread_enabled = false;
  std::thread([&] { other_thread_enabled = is_grad_enabled(); }).join();
  CHECK(other_thread_enabled);
}

TEST_CASE("autograd/detach") {
  Tensor w = Tensor({1, 2}).requires_grad_();
  Tensor x = Tensor({3, 4}).requires_grad_();
  Tensor y = w * 2.0;
  Tensor d = y.detach();
  CHECK(d.shares_storage(y));
  CHECK(d.data_ptr<float>() == y.data_ptr<float>());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  Tensor z = d * x;
  z.backward(Tensor::ones({2}));
  check_values(x.grad(), {2, 4});
  CHECK_FALSE(w.grad().defined());  // nothing flows through the detached branch
  // A detached tensor is a new leaf: it may be flagged itself.
  d.requires_grad_();
  CHECK(d.requires_grad());
  CHECK(leaf_state(y.impl()) == nullptr);  // the flag went to d's own record, not to y's
}

TEST_CASE("autograd/requires_grad_ and backward misuse") {
  Tensor x = Tensor({1, 2}).requires_grad_();
  SUBCASE("requires_grad_ on a non-leaf") {
    CHECK_THROWS_CONTAINING((x * 2.0).requires_grad_(), "only leaf tensors", AutogradError);
    CHECK_THROWS_CONTAINING((x * 2.0).requires_grad_(), "'mul_scalar'", AutogradError);
  }
  SUBCASE("requires_grad_ on int64") {
    CHECK_THROWS_CONTAINING(Tensor::ones({2}, kInt64).requires_grad_(), "dtype int64",
                            DTypeError);
    Tensor::ones({2}, kInt64).requires_grad_(false);  // switching it off is always fine
  }
  SUBCASE("backward on a tensor that does not require grad") {
    CHECK_THROWS_CONTAINING(Tensor({1.0}).backward(), "does not require grad", AutogradError);
    CHECK_THROWS_CONTAINING((Tensor({1.0}) * 2.0).backward(), "does not require grad",
                            AutogradError);
  }
  SUBCASE("non-scalar backward needs a grad") {
    Tensor y = x * 2.0;
    CHECK_THROWS_CONTAINING(y.backward(), "one-element output", AutogradError);
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({3})), "must match", AutogradError);
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2}, kFloat64)), "must match", AutogradError);
    y.backward(Tensor({1, 10}));
    check_values(x.grad(), {2, 20});
  }
  SUBCASE("a one-element output needs none") {
    Tensor y = x.select(0, 1) * 5.0;
    CHECK(y.dim() == 0);
    y.backward();
    check_values(x.grad(), {0, 5});
  }
}

// ---- the version counter and in-place writes -------------------------------------

TEST_CASE("autograd/in-place write to a saved tensor") {
  Tensor x = Tensor({0.5, -1.0}).requires_grad_();
  SUBCASE("the saved output") {
    Tensor y = tanh(x);
    {
      NoGradGuard no_grad;
      y.mul_(2.0);
    }
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2})), "in-place", AutogradError);
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2})), "tanh", AutogradError);
  }
  SUBCASE("a saved input, written through a view") {
    Tensor a = x * 1.0;
    Tensor y = a * x;
    a.detach().slice(0, 0, 1).fill_(7);  // a detached view: same storage, same counter
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2})), "in-place", AutogradError);
  }
  SUBCASE("a saved leaf, updated under no-grad") {
    Tensor y = log(x * x + 1.0);
    Tensor z = log(x);  // log saves its input
    {
      NoGradGuard no_grad;
      x.add_(Tensor({1, 1}));
    }
    CHECK_THROWS_CONTAINING(z.backward(Tensor::ones({2})),
                            "log: a tensor of shape [2] saved for backward was modified by an "
                            "in-place operation",
                            AutogradError);
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2})), "mul:", AutogradError);
  }
  SUBCASE("a write that nothing saved is fine") {
    Tensor y = x * 3.0;  // mul by a scalar saves nothing
    {
      NoGradGuard no_grad;
      y.fill_(0);
    }
    y.backward(Tensor::ones({2}));
    check_values(x.grad(), {3, 3});
  }
}

TEST_CASE("autograd/in-place write to a tensor that requires grad") {
  Tensor x = Tensor({1, 2}).requires_grad_();
  CHECK_THROWS_CONTAINING(x.fill_(0), "fill_: in-place write", AutogradError);
  CHECK_THROWS_CONTAINING(x.mul_(2), "mul_: in-place write", AutogradError);
  CHECK_THROWS_CONTAINING(x.add_(Tensor({1, 1})), "add_: in-place write", AutogradError);
  CHECK_THROWS_CONTAINING(x.copy_(Tensor({1, 1})), "copy_: in-place write", AutogradError);
  CHECK_THROWS_CONTAINING((x * 2.0).zero_(), "in-place write", AutogradError);
  CHECK_THROWS_CONTAINING(x.slice(0, 0, 1).fill_(0), "in-place write", AutogradError);
  check_values(x, {1, 2});  // untouched
  uint64_t v = x.version();
  {
    NoGradGuard no_grad;  // how an optimizer updates: allowed, and counted
    x.add_(Tensor({1, 1}), -0.5);
  }
  check_values(x, {0.5, 1.5});
  CHECK(x.version() == v + 1);
}

TEST_CASE("inplace/writes") {
  SUBCASE("values and version bumps") {
    Tensor x = Tensor::zeros({2, 3});
    uint64_t v = x.version();
    x.fill_(2);
    x.mul_(1.5);
    x.add_(Tensor({1, 2, 3}), 2.0);  // broadcast [3] -> [2, 3]
    check_values(x, {5, 7, 9, 5, 7, 9});
    x.slice(1, 0, 3, 2).zero_();      // a strided view writes through
    check_values(x, {0, 7, 0, 0, 7, 0});
    x.t().copy_(Tensor({{1, 2}, {3, 4}, {5, 6}}));
    check_values(x, {1, 3, 5, 2, 4, 6});
    CHECK(x.version() == v + 5);
    Tensor i = Tensor::zeros({2}, kInt64);
    i.fill_(3);
    CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{3, 3});
  }
  SUBCASE("a source that overlaps the destination") {
    // Read naively, x.copy_(x.t()) would read x[1][0] after writing it.
    Tensor x({{1, 2}, {3, 4}});
    x.copy_(x.t());
    check_values(x, {1, 3, 2, 4});
    Tensor y({{1, 2}, {3, 4}});
    y.add_(y.t());
    check_values(y, {2, 5, 5, 8});
    Tensor z({1, 2, 3});
    z.add_(z, 2.0);
    check_values(z, {3, 6, 9});
  }
  SUBCASE("errors") {
    CHECK_THROWS_CONTAINING(Tensor::zeros({1, 3}).expand({2, 3}).fill_(1), "expand", ValueError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2}).add_(Tensor::ones({2}, kFloat64)), "same dtype",
                            DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2}, kInt64).mul_(2), "mul_: input has dtype int64",
                            DTypeError);
    CHECK_THROWS_CONTAINING(Tensor::zeros({2}).add_(Tensor::ones({2, 2})), "does not broadcast",
                            ShapeError);
    CHECK_THROWS_AS(Tensor::zeros({2}).copy_(Tensor::ones({3})), ShapeError);
  }
}

// ---- the engine's own checks and edge cases -----------------------------------------

TEST_CASE("autograd/engine edge cases") {
  SUBCASE("the root is a leaf") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    Tensor g({3, 4});
    x.backward(g);
    check_values(x.grad(), {3, 4});
    CHECK_FALSE(x.grad().shares_storage(g));  // the grad is the leaf's own copy
    x.backward(g);
    check_values(x.grad(), {6, 8});
    Tensor s = Tensor::scalar(2.0).requires_grad_();
    s.backward();
    CHECK(s.grad().item() == 1.0);
  }
  SUBCASE("a graph that failed mid-backward can run again") {
    // The engine keeps its counts on the nodes; an exception must not leave them set.
    Tensor x = Tensor({1.0, 2.0}).requires_grad_();
    bool fail = true;
    Tensor y = custom_identity("flaky", x * 3.0, [&fail](const Tensor& dy) -> TensorList {
      if (fail) throw ValueError("flaky: failing on purpose");
      return {dy};
    });
    Tensor loss = y.sum();
    CHECK_THROWS_CONTAINING(loss.backward({}, /*retain_graph=*/true), "on purpose", ValueError);
    fail = false;
    loss.backward();
    check_values(x.grad(), {3, 3});
  }
  SUBCASE("backward() from inside a backward of the same graph") {
    Tensor x = Tensor({1.0, 2.0}).requires_grad_();
    Tensor h = x * 2.0;
    Tensor loss = (h * h).sum();
    h.register_hook([&loss](const Tensor&) {
      loss.backward({}, /*retain_graph=*/true);  // the graph that is running: refused
      return Tensor();
    });
    CHECK_THROWS_CONTAINING(loss.backward({}, true), "another backward() that is still running",
                            AutogradError);
  }
  SUBCASE("a backward that returns the wrong shape") {
    Tensor x = Tensor::ones({2, 3}).requires_grad_();
    Tensor y = custom_identity("bad_shape", x, [](const Tensor& dy) -> TensorList {
      return {Tensor::ones({7}, dy.dtype())};
    });
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2, 3})), "backward of 'bad_shape'",
                            AutogradError);
    CHECK_THROWS_CONTAINING(custom_identity("bad_shape", x, [](const Tensor& dy) -> TensorList {
                              return {Tensor::ones({7}, dy.dtype())};
                            }).backward(Tensor::ones({2, 3})),
                            "gradient of shape [7] (float32) for input 0 of shape [2, 3]",
                            AutogradError);
    CHECK(is_grad_enabled());
  }
  SUBCASE("a backward that returns the wrong dtype") {
    Tensor x = Tensor::ones({2}, kFloat64).requires_grad_();
    Tensor y = custom_identity("bad_dtype", x, [](const Tensor& dy) -> TensorList {
      return {dy.to(kFloat32)};
    });
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2}, kFloat64)), "'bad_dtype'", AutogradError);
  }
  SUBCASE("a backward that returns the wrong number of gradients") {
    Tensor x = Tensor::ones({2}).requires_grad_();
    Tensor y = custom_identity("two_grads", x, [](const Tensor& dy) -> TensorList {
      return {dy, dy};
    });
    CHECK_THROWS_CONTAINING(y.backward(Tensor::ones({2})), "'two_grads' returned 2 gradients for 1",
                            AutogradError);
    Tensor z = custom_identity("no_grads", x, [](const Tensor&) -> TensorList { return {}; });
    CHECK_THROWS_CONTAINING(z.backward(Tensor::ones({2})), "'no_grads' returned 0 gradients",
                            AutogradError);
  }
  SUBCASE("a branch whose gradient is undefined") {
    // stop(a) sends no gradient back, so the node of `a = x * 2` is reached only by
    // an edge that carries nothing; x must still get the other path's gradient.
    Tensor x = Tensor({1, 2}).requires_grad_();
    Tensor w = Tensor({5, 5}).requires_grad_();
    Tensor a = x * w;
    Tensor stopped = custom_identity("stop", a, [](const Tensor&) -> TensorList { return {Tensor()}; });
    Tensor y = stopped + x * 3.0;
    y.backward(Tensor::ones({2}));
    check_values(x.grad(), {3, 3});
    CHECK_FALSE(w.grad().defined());
    // the node that got nothing did not run, so it was not released either
    CHECK_FALSE(a.grad_fn()->released());
    CHECK(y.grad_fn()->released());
  }
  SUBCASE("every path undefined") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    Tensor y = custom_identity("stop", tanh(x), [](const Tensor&) -> TensorList { return {Tensor()}; });
    y.backward(Tensor::ones({2}));
    CHECK_FALSE(x.grad().defined());
  }
  SUBCASE("an input that needs no gradient is skipped") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    Tensor c({3, 4});
    Tensor y = x * c + c;
    y.backward(Tensor::ones({2}));
    check_values(x.grad(), {3, 4});
    CHECK_FALSE(c.grad().defined());
  }
  SUBCASE("float32 end to end") {
    Tensor x = Tensor({0.5, 2}).requires_grad_();
    Tensor y = sigmoid(x) * exp(x);
    y.backward(Tensor::ones({2}));
    CHECK(x.grad().dtype() == kFloat32);
  }
}

// ---- gradcheck itself ---------------------------------------------------------------

TEST_CASE("autograd/a backward may add its gradient into the sum its input has so far") {
  // x feeds three ops whose backward adds dy into the sum the engine offers, and
  // returns a fresh gradient when none is offered. The first to run sees no sum
  // (there is none yet); the other two each see the one before them.
  std::vector<bool> offered;
  auto adding_identity = [&](const Tensor& x) {
    return custom_identity("adding_identity", x, [&offered](const Tensor& dy) -> TensorList {
      Tensor* sum = gradient_sum_of_input(0);
      offered.push_back(sum != nullptr);
      if (!sum) return {dy.clone()};
      sum->add_(dy);
      return {Tensor()};  // already added
    });
  };
  Tensor x = Tensor({1., 2.}).requires_grad_();
  auto loss = [&] { return (adding_identity(x) + 2 * adding_identity(x) + 3 * adding_identity(x)).sum(); };
  loss().backward();
  check_values(x.grad(), {6, 6});
  CHECK(offered == std::vector<bool>{false, true, true});
  CHECK(gradient_sum_of_input(0) == nullptr);  // no backward running

  // In anomaly mode nothing is offered: each contribution is checked on its own.
  offered.clear();
  x.zero_grad();
  {
    DetectAnomalyGuard anomaly;
    loss().backward();
  }
  check_values(x.grad(), {6, 6});
  CHECK(offered == std::vector<bool>{false, false, false});

  // A sum that someone else can see is not offered: here the first gradient to
  // arrive is dy itself, which add's backward also sends to its other input.
  offered.clear();
  x.zero_grad();
  Tensor y = adding_identity(x);
  (y + x).sum().backward();  // x gets dy from add, then from the identity
  check_values(x.grad(), {2, 2});
  CHECK(offered == std::vector<bool>{false});
}

TEST_CASE("autograd/gradcheck") {
  SUBCASE("it fails for a wrong backward, and says where") {
    std::string report;
    CHECK_FALSE(gradcheck([](const TensorList& x) { return wrong_square(x[0]); },
                          {Tensor({1.0, 2.0, 3.0}, kFloat64)}, {}, &report));
    CHECK(report.find("input 0") != std::string::npos);
    CHECK(report.find("backward gives 1") != std::string::npos);         // dy * x at x = 1
    CHECK(report.find("central differences give 2") != std::string::npos);  // 2x
    // With two inputs, it names the one whose gradient is wrong.
    report.clear();
    CHECK_FALSE(gradcheck([](const TensorList& x) { return x[0] * 2.0 + wrong_square(x[1]); },
                          {randn64({3}), randn64({3}) + 3.0}, {}, &report));
    CHECK(report.find("input 1") != std::string::npos);
  }
  SUBCASE("it passes for a right one, including the identity (a leaf root)") {
    CHECK(grad_ok([](const TensorList& x) { return x[0]; }, {randn64({2, 2})}));
    CHECK(grad_ok([](const TensorList& x) { return x[0] * x[1] + x[0]; },
                  {randn64({3}), randn64({3})}));
  }
  SUBCASE("it leaves the caller's tensors alone") {
    Tensor x = Tensor({1.0, 2.0}, kFloat64);
    CHECK(grad_ok([](const TensorList& t) { return t[0] * t[0]; }, {x}));
    CHECK(x.to_vector<double>() == std::vector<double>{1, 2});
    CHECK_FALSE(x.requires_grad());
    CHECK_FALSE(x.grad().defined());
  }
  SUBCASE("float32 and int64 inputs") {
    // a float32 input is checked in float64; an int64 one is passed through untouched
    Tensor idx = Tensor::ones({3}, kInt64);
    CHECK(grad_ok([](const TensorList& t) { return t[0] * t[1].to(kFloat64); },
                  {Tensor::randn({3}), idx}));
  }
  SUBCASE("it works inside a NoGradGuard") {
    NoGradGuard no_grad;
    CHECK(grad_ok([](const TensorList& t) { return tanh(t[0]); }, {randn64({3})}));
    CHECK_FALSE(gradcheck([](const TensorList& t) { return wrong_square(t[0]); },
                          {randn64({3}) + 3.0}));
    CHECK_FALSE(is_grad_enabled());
  }
}

// ---- deep graphs ----------------------------------------------------------------------

TEST_CASE("autograd/a 10,000-step recurrent chain") {
  // An LSTM-like cell from elementwise ops, unrolled over 10,000 steps: ~21 nodes a
  // step, so over 200,000 in one chain. Recursion over it anywhere (counting,
  // running, or destroying the graph) would overflow the stack.
  const int64_t baseline = Storage::live_bytes();
  {
    manual_seed(0);
    const Shape H{8};
    auto param = [&] { return (Tensor::randn(H) * 0.5).requires_grad_(); };
    Tensor wi = param(), wf = param(), wg = param(), wo = param();
    Tensor ui = param(), uf = param(), ug = param(), uo = param();
    Tensor x = Tensor::randn(H);
    Tensor h = Tensor::zeros(H), c = Tensor::zeros(H);
    const int steps = 10000;
    for (int t = 0; t < steps; ++t) {
      Tensor xt = x * std::sin(0.1 * t);  // an input sequence (needs no grad)
      Tensor i = sigmoid(h * wi + xt * ui);
      Tensor f = sigmoid(h * wf + xt * uf);
      Tensor g = tanh(h * wg + xt * ug);
      Tensor o = sigmoid(h * wo + xt * uo);
      c = f * c + i * g;
      h = o * tanh(c);
    }
    CHECK(count_nodes(h) >= 100000);
    h.backward(Tensor::ones(H));
    for (const Tensor& p : {wi, wf, wg, wo, ui, uf, ug, uo}) {
      REQUIRE(p.grad().defined());
      for (float v : p.grad().to_vector<float>()) CHECK(std::isfinite(v));
    }
  }  // the graph is destroyed here: with a recursive destructor this would crash
  CHECK(Storage::live_bytes() == baseline);

  {
    // Destroyed without running backward (saved tensors still in place), with each
    // step's tensor used twice, so most nodes are shared by two consumers.
    Tensor w = Tensor({0.5}).requires_grad_();
    Tensor h = Tensor({1.0});
    for (int t = 0; t < 50000; ++t) h = tanh(h * w) + h * 0.5;
    CHECK(count_nodes(h) >= 100000);
  }
  CHECK(Storage::live_bytes() == baseline);

  {
    // A residual chain, h = h + tanh(h * w): each add node points straight at the
    // previous add and also reaches it through tanh. A destructor that defers such
    // shared edges to its own member cleanup would recurse once per step.
    Tensor w = Tensor({0.5}).requires_grad_();
    Tensor h = Tensor({1.0});
    for (int t = 0; t < 100000; ++t) h = h + tanh(h * w);
    CHECK(count_nodes(h) >= 100000);
    h.backward();
    CHECK(std::isfinite(w.grad().item()));
  }
  CHECK(Storage::live_bytes() == baseline);
}

// ---- memory ------------------------------------------------------------------------------

TEST_CASE("autograd/memory does not grow over training iterations") {
  const int64_t baseline = Storage::live_bytes();
  {
    manual_seed(1);
    Tensor x = Tensor::randn({16, 8});
    Tensor w1 = (Tensor::randn({16, 8}) * 0.3).requires_grad_();
    Tensor b1 = Tensor::zeros({16, 8}).requires_grad_();
    Tensor w2 = (Tensor::randn({16, 8}) * 0.3).requires_grad_();
    std::vector<int64_t> live;
    for (int it = 0; it < 200; ++it) {
      Tensor y = sigmoid(tanh(x * w1 + b1) * w2);
      Tensor loss_grad = (y - 0.5) * 2.0;  // d/dy of (y - 0.5)^2
      y.backward(loss_grad);
      {
        NoGradGuard no_grad;  // an SGD step
        for (Tensor* p : {&w1, &b1, &w2}) {
          p->add_(p->grad(), -0.01);
          p->zero_grad();
        }
      }
      live.push_back(Storage::live_bytes());
    }
    for (int it = 10; it < 200; ++it) {
      CAPTURE(it);
      CHECK(live[it] == live[9]);
    }
  }
  CHECK(Storage::live_bytes() == baseline);
}

TEST_CASE("autograd/a finished graph frees its saved tensors and leaves no cycles") {
  const int64_t n = 1000, bytes = n * 8;
  Tensor x = Tensor::randn({n}, kFloat64).requires_grad_();
  std::weak_ptr<Node> out_node, acc_node;
  SUBCASE("without retain_graph") {
    {
      Tensor y = (x * 2.0) * (x * 3.0);  // mul saves both intermediates; nothing else holds them
      out_node = y.grad_fn();
      acc_node = leaf_state(x.impl())->accumulator;
      REQUIRE_FALSE(acc_node.expired());
      const int64_t before = Storage::live_bytes();
      y.backward(Tensor::ones({n}, kFloat64));
      // the two saved intermediates are freed; x.grad is the one new buffer
      CHECK(Storage::live_bytes() - before == bytes - 2 * bytes);
    }
    CHECK(out_node.expired());
    CHECK(acc_node.expired());
  }
  SUBCASE("with retain_graph: memory stays until the graph is dropped, and still no cycle") {
    {
      Tensor y = (x * 2.0) * (x * 3.0);
      out_node = y.grad_fn();
      acc_node = leaf_state(x.impl())->accumulator;
      const int64_t before = Storage::live_bytes();
      y.backward(Tensor::ones({n}, kFloat64), /*retain_graph=*/true);
      CHECK(Storage::live_bytes() - before == bytes);
    }
    CHECK(out_node.expired());
    CHECK(acc_node.expired());
  }
  SUBCASE("saving an op's own output makes no cycle") {
    {
      Tensor y = exp(tanh(sigmoid(x)));  // each saves its output y
      out_node = y.grad_fn();
    }
    CHECK(out_node.expired());
  }
}
