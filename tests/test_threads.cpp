// heed from several threads of the user's at once: each thread's training is
// its own (grad mode, object pools and the autograd graph are per thread or per
// graph), so two of them must not disturb each other. tests/run_all.sh also runs
// these under ThreadSanitizer (HEED_SANITIZE_THREAD), which fails on any data race.
//
// The models are built on the main thread, so that their initial weights do not
// depend on which thread draws from the default generator first.
#include <algorithm>
#include <thread>

#include "helpers.h"

using namespace heed;
using namespace heed::test;

namespace {

// A small sequence model: an LSTM, then a linear read-out of the last step.
struct Model : nn::Module {
  Model()
      : lstm(register_module("lstm", std::make_shared<nn::LSTM>(3, 8))),
        head(register_module("head", std::make_shared<nn::Linear>(8, 2))) {}
  Tensor forward(const Tensor& x) const { return (*head)((*lstm)(x).output.select(0, -1)); }  // x [T, B, 3]
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;
};

// `steps` Adam steps of `model` on (x, y); the loss of each, in order.
std::vector<float> train(Model& model, const Tensor& x, const Tensor& y, int steps) {
  optim::Adam opt(model.parameters(), {.lr = 1e-2});
  std::vector<float> losses;
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    Tensor loss = nn::mse_loss(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push_back(static_cast<float>(loss.item()));
  }
  return losses;
}

// A copy of the module's state (state_dict() shares the parameters' memory).
StateDict snapshot(const nn::Module& m) {
  StateDict s;
  for (const auto& [name, t] : m.state_dict()) s.set(name, t.clone());
  return s;
}

}  // namespace

TEST_CASE("threads: two trainings at once give the bits each gives alone") {
  manual_seed(11);
  Model a, b;
  const StateDict a0 = snapshot(a), b0 = snapshot(b);
  const Tensor xa = Tensor::randn({5, 4, 3}), ya = Tensor::randn({4, 2});
  const Tensor xb = Tensor::randn({7, 4, 3}), yb = Tensor::randn({4, 2});
  const std::vector<float> alone_a = train(a, xa, ya, 20), alone_b = train(b, xb, yb, 20);

  a.load_state_dict(a0);  // back to the start, and both at once
  b.load_state_dict(b0);
  std::vector<float> together_a, together_b;
  std::thread ta([&] { together_a = train(a, xa, ya, 20); });
  std::thread tb([&] { together_b = train(b, xb, yb, 20); });
  ta.join();
  tb.join();
  CHECK(together_a == alone_a);
  CHECK(together_b == alone_b);
}

TEST_CASE("threads: evaluation under no-grad beside a training") {
  manual_seed(12);
  Model trained, frozen;
  const Tensor x = Tensor::randn({5, 4, 3}), y = Tensor::randn({4, 2});
  Tensor expected;
  {
    NoGradGuard no_grad;
    expected = frozen.forward(x);
  }
  std::vector<Tensor> outputs;
  std::thread evaluator([&] {
    NoGradGuard no_grad;  // this thread's grad mode only
    for (int i = 0; i < 20; ++i) outputs.push_back(frozen.forward(x));
  });
  const std::vector<float> losses = train(trained, x, y, 20);
  evaluator.join();
  CHECK(losses.back() < losses.front());
  for (const Tensor& out : outputs) {
    CHECK_FALSE(out.requires_grad());
    CHECK(out.to_vector<float>() == expected.to_vector<float>());
  }
}

TEST_CASE("threads: two threads drawing from the default generator") {
  // Each tensor is one unbroken stretch of the sequence (the generator's lock),
  // so the tensors the two threads draw are, in some order, exactly the tensors
  // one thread draws alone: none lost, none repeated, none interleaved.
  constexpr int kEach = 300;
  const Shape shape{7};  // odd: Box-Muller's spare normal carries from one tensor to the next
  manual_seed(13);
  std::vector<std::vector<double>> alone;
  for (int i = 0; i < 2 * kEach; ++i) alone.push_back(Tensor::randn(shape, kFloat64).to_vector<double>());

  manual_seed(13);
  std::vector<std::vector<double>> drawn_a, drawn_b;
  auto draw = [&](std::vector<std::vector<double>>& out) {
    for (int i = 0; i < kEach; ++i) out.push_back(Tensor::randn(shape, kFloat64).to_vector<double>());
  };
  std::thread ta(draw, std::ref(drawn_a));
  std::thread tb(draw, std::ref(drawn_b));
  ta.join();
  tb.join();
  std::vector<std::vector<double>> together = drawn_a;
  together.insert(together.end(), drawn_b.begin(), drawn_b.end());
  std::sort(alone.begin(), alone.end());
  std::sort(together.begin(), together.end());
  CHECK(together == alone);
}

TEST_CASE("threads: a generator each gives the numbers it gives alone") {
  auto draws = [](Generator& g) {
    std::vector<float> v;
    for (int i = 0; i < 200; ++i) {
      const std::vector<float> t = dropout(Tensor::ones({5}), 0.5, true, g).to_vector();
      v.insert(v.end(), t.begin(), t.end());
    }
    return v;
  };
  Generator a(1), b(2);
  const std::vector<float> alone_a = draws(a), alone_b = draws(b);
  a.manual_seed(1);
  b.manual_seed(2);
  std::vector<float> together_a, together_b;
  std::thread ta([&] { together_a = draws(a); });
  std::thread tb([&] { together_b = draws(b); });
  ta.join();
  tb.join();
  CHECK(together_a == alone_a);
  CHECK(together_b == alone_b);
}
