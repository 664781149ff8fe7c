// heed from several threads of the user's at once: each thread's training is
// its own (grad mode, object pools and the autograd graph are per thread or per
// graph), so two of them must not disturb each other. tests/run_all.sh also runs
// these under ThreadSanitizer (HEED_SANITIZE_THREAD), which fails on any data race.
//
// The models are built on the main thread: building one draws its initial
// weights from the default random generator, which threads may not share.
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
