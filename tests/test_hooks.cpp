// Gradient hooks (autograd/hooks.h, Tensor::register_hook): a hook sees the total
// gradient of its tensor, may replace it, runs in order with other hooks, can be
// removed, and a replacement of the wrong shape fails with both shapes named.
#include <memory>
#include <vector>

#include "helpers.h"
#include "heed/nn/linear.h"

using namespace heed;
using namespace heed::test;

TEST_CASE("hooks/a hook on a leaf sees its gradient before it is accumulated") {
  Tensor x = Tensor({1, 2, 3}, kFloat64).requires_grad_();
  std::vector<double> seen;
  bool grad_was_empty = false;
  x.register_hook([&](const Tensor& g) {
    seen = g.to_vector<double>();
    grad_was_empty = !x.grad().defined();  // (capturing x by reference is fine: no copy of the handle)
    return Tensor();
  });
  (x * x).sum().backward();
  CHECK(seen == std::vector<double>{2, 4, 6});  // d(sum x^2)/dx = 2x
  CHECK(grad_was_empty);                         // it ran before accumulation
  check_values(x.grad(), {2, 4, 6});             // and did not change the gradient
}

TEST_CASE("hooks/a replacement changes what reaches grad") {
  SUBCASE("leaf") {
    Tensor x = Tensor({1, 2, 3}, kFloat64).requires_grad_();
    x.register_hook([](const Tensor& g) { return g * 2.0; });
    (x * x).sum().backward();
    check_values(x.grad(), {4, 8, 12});
  }
  SUBCASE("tensor made by an op: the replacement flows on to the leaves") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    Tensor a = x * 3.0;
    a.register_hook([](const Tensor& g) { return Tensor::ones_like(g); });
    (a * a).sum().backward();  // without the hook: 2a * 3 = [18, 36]
    check_values(x.grad(), {3, 3});
  }
  SUBCASE("hooks run in order, each on the one before's result") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    std::vector<double> second_saw;
    x.register_hook([](const Tensor& g) { return g + 10.0; });
    x.register_hook([&](const Tensor& g) {
      second_saw = g.to_vector<double>();
      return g * 2.0;
    });
    x.sum().backward();
    CHECK(second_saw == std::vector<double>{11, 11});
    check_values(x.grad(), {22, 22});
  }
}

TEST_CASE("hooks/a hook on a tensor used twice sees the total gradient") {
  // z = a*a + a with a = 3x: dz/da = 2a + 1 arrives in two parts; the hook sees the sum.
  Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
  Tensor a = x * 3.0;
  std::vector<std::vector<double>> calls;
  a.register_hook([&](const Tensor& g) {
    calls.push_back(g.to_vector<double>());
    return Tensor();
  });
  (a * a + a).sum().backward();
  REQUIRE(calls.size() == 1);  // once, with everything: not once per use
  CHECK(calls[0] == std::vector<double>{7, 13});
  check_values(x.grad(), {21, 39});
}

TEST_CASE("hooks/a hook on the root sees the gradient backward starts from") {
  Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
  Tensor y = x * 2.0;
  std::vector<double> seen;
  y.register_hook([&](const Tensor& g) {
    seen = g.to_vector<double>();
    return Tensor();
  });
  y.backward(Tensor({5, 7}, kFloat64));
  CHECK(seen == std::vector<double>{5, 7});
}

TEST_CASE("hooks/where hooks live") {
  SUBCASE("a leaf's hook outlives graphs: it runs in every backward") {
    Tensor w = Tensor({1, 2}, kFloat64).requires_grad_();
    int calls = 0;
    w.register_hook([&](const Tensor&) {
      ++calls;
      return Tensor();
    });
    for (int step = 0; step < 3; ++step) (w * w).sum().backward();  // a new graph each time
    CHECK(calls == 3);
  }
  SUBCASE("an op output's hook lives on its node: it runs though the handle is gone") {
    Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
    Tensor a = x * 2.0;
    int calls = 0;
    a.register_hook([&](const Tensor&) {
      ++calls;
      return Tensor();
    });
    Tensor loss = a.sum();
    a = Tensor();
    loss.backward();
    CHECK(calls == 1);
  }
  SUBCASE("a hook runs with grad mode off, like the rest of backward") {
    Tensor x = Tensor({1.0}, kFloat64).requires_grad_();
    bool grad_mode = true;
    x.register_hook([&](const Tensor&) {
      grad_mode = is_grad_enabled();
      return Tensor();
    });
    (x * 2.0).sum().backward();
    CHECK_FALSE(grad_mode);
  }
  SUBCASE("no gradient reaches a tensor: its hook does not run") {
    Tensor x = Tensor({1.0}, kFloat64).requires_grad_();
    Tensor y = Tensor({1.0}, kFloat64).requires_grad_();
    int calls = 0;
    y.register_hook([&](const Tensor&) {
      ++calls;
      return Tensor();
    });
    (x * 2.0).sum().backward();
    CHECK(calls == 0);
  }
}

TEST_CASE("hooks/remove_hook") {
  Tensor x = Tensor({1, 2}, kFloat64).requires_grad_();
  int first = 0, second = 0;
  int id1 = x.register_hook([&](const Tensor&) {
    ++first;
    return Tensor();
  });
  int id2 = x.register_hook([&](const Tensor& g) {
    ++second;
    return g * 0.0;
  });
  CHECK(id1 != id2);
  x.remove_hook(id2);
  x.sum().backward();
  CHECK(first == 1);
  CHECK(second == 0);
  check_values(x.grad(), {1, 1});  // the zeroing hook is gone

  x.remove_hook(id1);
  x.sum().backward();
  CHECK(first == 1);

  SUBCASE("removing twice, or from another tensor, is an error") {
    CHECK_THROWS_CONTAINING(x.remove_hook(id1), "no hook with id", ValueError);
    Tensor a = x * 2.0;
    int id3 = a.register_hook([](const Tensor&) { return Tensor(); });
    CHECK_THROWS_CONTAINING(x.remove_hook(id3), "registered on another tensor", ValueError);
    a.remove_hook(id3);  // from its own tensor it goes
  }
  SUBCASE("a hook may remove itself while running") {
    Tensor y = Tensor({1.0}, kFloat64).requires_grad_();
    int calls = 0;
    auto id = std::make_shared<int>(0);
    // y is captured by pointer, not by value: a copy of the handle would be a cycle.
    Tensor* py = &y;
    *id = y.register_hook([&calls, id, py](const Tensor&) {
      ++calls;
      py->remove_hook(*id);
      return Tensor();
    });
    (y * 1.0).sum().backward();
    (y * 1.0).sum().backward();
    CHECK(calls == 1);
  }
}

TEST_CASE("hooks/errors") {
  Tensor x = Tensor({1, 2, 3}).requires_grad_();
  SUBCASE("a replacement of the wrong shape names both shapes") {
    x.register_hook([](const Tensor&) { return Tensor::zeros({2}); });
    CHECK_THROWS_CONTAINING((x * 2.0).sum().backward(), "of shape [3] (float32) returned a gradient of shape [2]",
                            AutogradError);
  }
  SUBCASE("a replacement of the wrong dtype") {
    Tensor a = x * 2.0;
    a.register_hook([](const Tensor& g) { return g.to(kFloat64); });
    CHECK_THROWS_CONTAINING(a.sum().backward(), "the tensor made by 'mul_scalar' of shape [3] (float32)",
                            AutogradError);
  }
  SUBCASE("a tensor that needs no gradient cannot have a hook") {
    Tensor c = Tensor({1, 2});
    CHECK_THROWS_CONTAINING(c.register_hook([](const Tensor&) { return Tensor(); }), "does not require grad",
                            AutogradError);
  }
  SUBCASE("an empty function") {
    CHECK_THROWS_CONTAINING(x.register_hook(nullptr), "empty", ValueError);
  }
}

TEST_CASE("hooks/a hook that captures no tensor leaves no cycle") {
  std::weak_ptr<TensorImpl> leaf;
  std::weak_ptr<Node> node;
  {
    Tensor x = Tensor({1, 2}).requires_grad_();
    Tensor a = x * 2.0;
    auto count = std::make_shared<int>(0);
    x.register_hook([count](const Tensor&) { ++*count; return Tensor(); });
    a.register_hook([count](const Tensor&) { ++*count; return Tensor(); });
    a.sum().backward();
    CHECK(*count == 2);
    leaf = x.impl_ptr();
    node = a.grad_fn();
  }
  CHECK(leaf.expired());
  CHECK(node.expired());
}

TEST_CASE("hooks/gradient norms of a module's parameters") {
  // What examples/gradient_norms.cpp does: a hook per parameter, named.
  manual_seed(0);
  nn::Linear layer(4, 3);
  Tensor x = Tensor::randn({5, 4});
  std::vector<std::pair<std::string, double>> norms;
  for (auto& [name, p] : layer.named_parameters())
    p.register_hook([&norms, name = name](const Tensor& g) {
      norms.emplace_back(name, std::sqrt(g.pow(2).sum().item()));
      return Tensor();
    });
  layer.forward(x).pow(2).mean().backward();
  REQUIRE(norms.size() == 2);
  for (auto& [name, norm] : norms) {
    Tensor grad = name == "weight" ? layer.weight.grad() : layer.bias.grad();
    CHECK(norm == doctest::Approx(std::sqrt(grad.pow(2).sum().item())));
    CHECK(norm > 0);
  }
}

TEST_CASE("hooks/post-accumulate: once per backward, after the leaf's whole gradient is in grad()") {
  Tensor w = Tensor({1, 2}, kFloat64).requires_grad_();
  Tensor unused = Tensor({5}, kFloat64).requires_grad_();
  std::vector<std::vector<double>> seen;
  const int id = w.register_post_accumulate_grad_hook([&](const Tensor& leaf) { seen.push_back(leaf.grad().to_vector<double>()); });
  unused.register_post_accumulate_grad_hook([&](const Tensor&) { seen.push_back({-1}); });
  // w is used twice: the hook runs once, with both contributions summed.
  ((w * 3.0).sum() + (w * w).sum()).backward();  // d/dw = 3 + 2w
  REQUIRE(seen.size() == 1);  // not for `unused`, which got no gradient
  CHECK(seen[0] == std::vector<double>{5, 7});
  // A second backward accumulates on top; the hook sees the running total.
  (w * 3.0).sum().backward();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1] == std::vector<double>{8, 10});
  w.remove_hook(id);
  (w * 3.0).sum().backward();
  CHECK(seen.size() == 2);
  CHECK_THROWS_WITH_AS(w.remove_hook(id), doctest::Contains("has no hook with id"), ValueError);

  Tensor made = w * 2.0;
  CHECK_THROWS_WITH_AS(made.register_post_accumulate_grad_hook([](const Tensor&) {}), doctest::Contains("made by an op"),
                       AutogradError);
  CHECK_THROWS_WITH_AS(Tensor({1.0}).register_post_accumulate_grad_hook([](const Tensor&) {}),
                       doctest::Contains("does not require grad"), AutogradError);
}

TEST_CASE("hooks/post-accumulate hooks fire in the order backward reaches the leaves: last layer first") {
  // What DistributedDataParallel relies on: the gradients of the layers nearest
  // the loss are ready first, so their all-reduce can start while backward goes on.
  manual_seed(0);
  nn::Linear first(3, 4), second(4, 2);
  std::vector<std::string> order;
  for (auto* layer : {&first, &second})
    for (auto& [name, p] : layer->named_parameters())
      p.register_post_accumulate_grad_hook(
          [&order, name = std::string(layer == &first ? "first." : "second.") + name](const Tensor&) {
            order.push_back(name);
          });
  second.forward(tanh(first.forward(Tensor::randn({5, 3})))).sum().backward();
  REQUIRE(order.size() == 4);
  CHECK(order[0].rfind("second.", 0) == 0);
  CHECK(order[1].rfind("second.", 0) == 0);
  CHECK(order[2].rfind("first.", 0) == 0);
  CHECK(order[3].rfind("first.", 0) == 0);
}

TEST_CASE("hooks/queue_callback: runs when the backward is done, in order, and is refused outside one") {
  Tensor a = Tensor({1, 2}, kFloat64).requires_grad_();
  Tensor b = Tensor({3}, kFloat64).requires_grad_();
  std::vector<std::string> events;
  bool all_grads_there = false;
  a.register_post_accumulate_grad_hook([&](const Tensor&) {
    events.push_back("a accumulated");
    queue_callback([&] {
      events.push_back("first callback");
      all_grads_there = a.grad().defined() && b.grad().defined();
      queue_callback([&] { events.push_back("queued by a callback"); });
    });
    queue_callback([&] { events.push_back("second callback"); });
  });
  ((a * 2.0).sum() * b.sum()).backward();
  CHECK(events == std::vector<std::string>{"a accumulated", "first callback", "second callback", "queued by a callback"});
  CHECK(all_grads_there);
  // One backward's callbacks do not carry into the next.
  events.clear();
  (b * 2.0).sum().backward();
  CHECK(events.empty());
  CHECK_THROWS_WITH_AS(queue_callback([] {}), doctest::Contains("no backward() is running"), AutogradError);
}

TEST_CASE("hooks/current_backward_id: one number per backward, also after one that threw, and 0 outside") {
  CHECK(current_backward_id() == 0);
  Tensor a = Tensor({1, 2}, kFloat64).requires_grad_();
  Tensor b = Tensor({3}, kFloat64).requires_grad_();
  std::vector<uint64_t> seen;
  auto record = [&](const Tensor&) { seen.push_back(current_backward_id()); };
  a.register_post_accumulate_grad_hook(record);
  b.register_post_accumulate_grad_hook(record);
  ((a * 2.0).sum() * b.sum()).backward();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] != 0);
  CHECK(seen[0] == seen[1]);  // both leaves, one backward

  Tensor h = a * 3.0;
  h.register_hook([](const Tensor&) -> Tensor { throw ValueError("thrown inside backward"); });
  Tensor loss = h.sum() * b.sum();
  CHECK_THROWS_AS(loss.backward(), ValueError);  // b's hook runs, a's is never reached
  REQUIRE(seen.size() == 3);
  CHECK(seen[2] != seen[0]);
  CHECK(current_backward_id() == 0);  // the throw restored "outside"

  (b * 2.0).sum().backward();
  REQUIRE(seen.size() == 4);
  CHECK(seen[3] != seen[2]);
}
