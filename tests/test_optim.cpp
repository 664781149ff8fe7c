// Optimizers and schedulers against PyTorch 1.13 (tests/reference/optim.py writes
// fixtures/optim.safetensors and prints the scheduler sequences pasted below),
// updates worked by hand, save/resume, and every error.
#include <omp.h>

#include <array>
#include <filesystem>
#include <functional>
#include <memory>

#include "heed/nn/linear.h"
#include "heed/nn/serialize.h"
#include "heed/optim/adam.h"
#include "heed/optim/scheduler.h"
#include "heed/optim/sgd.h"
#include "helpers.h"
#include "reference_check.h"

using namespace heed;
using namespace heed::test;
namespace fs = std::filesystem;

namespace {

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// The configurations of tests/reference/optim.py, by the same names.
const std::vector<std::pair<std::string, MakeOptimizer>>& configs() {
  static const std::vector<std::pair<std::string, MakeOptimizer>> all = {
      {"sgd_nesterov",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(
             p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0, .weight_decay = 0.01, .nesterov = true});
       }},
      {"sgd_dampening",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
       }},
      {"sgd_plain",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .weight_decay = 0.01});
       }},
      {"adam_amsgrad",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.05, .weight_decay = 0.01, .amsgrad = true});
       }},
      {"adamw",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 0.05, .weight_decay = 0.1});
       }},
  };
  return all;
}

// The reference problem: loss = sum((tanh(x W^T + b) - target)^2).
Tensor loss_of(const nn::Linear& model, const StateDict& ref) {
  Tensor d = tanh(model(ref.at("x"))) - ref.at("target");
  return (d * d).sum();
}

// A Linear(4, 3) starting from the reference's initial weights.
std::unique_ptr<nn::Linear> reference_model(const StateDict& ref) {
  auto model = std::make_unique<nn::Linear>(4, 3);
  StateDict init;
  init.set("weight", ref.at("init.weight"));
  init.set("bias", ref.at("init.bias"));
  model->load_state_dict(init);
  return model;
}

void train_steps(nn::Linear& model, optim::Optimizer& opt, const StateDict& ref, int steps) {
  for (int k = 0; k < steps; ++k) {
    opt.zero_grad();
    loss_of(model, ref).backward();
    opt.step();
  }
}

// Bit-identical tensors.
void check_same(const std::string& what, const Tensor& got, const Tensor& want) {
  INFO(what);
  REQUIRE(got.defined());
  CHECK(got.shape() == want.shape());
  CHECK(got.dtype() == want.dtype());
  CHECK(got.to_vector<double>() == want.to_vector<double>());
}

std::vector<std::string> state_keys(const StateDict& s, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& [k, t] : s)
    if (k.rfind(prefix, 0) == 0) out.push_back(k.substr(prefix.size()));
  return out;
}

void check_lrs(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("epoch " << i);
    CAPTURE(got[i]);
    CAPTURE(want[i]);
    // Relative 1e-12, and absolute 1e-15 where the lr is 0 (a cosine's bottom).
    CHECK(std::abs(got[i] - want[i]) <= 1e-12 * std::abs(want[i]) + 1e-15);
  }
}

// The lr a scheduler gives group g at epochs 0..steps (get_last_lr after construction, then per step).
std::vector<double> lr_sequence(optim::LRScheduler& sched, optim::Optimizer& opt, int steps, size_t g = 0) {
  std::vector<double> out = {sched.get_last_lr().at(g)};
  CHECK(opt.lr(g) == out.back());
  for (int i = 0; i < steps; ++i) {
    sched.step();
    out.push_back(sched.get_last_lr().at(g));
    CHECK(opt.lr(g) == out.back());  // the scheduler really set it
  }
  return out;
}

// An optimizer with an lr and nothing else (it never moves its parameters).
struct PlainOptions {
  double lr = 0.1;
  template <class V>
  void visit(V&& v) { v("lr", lr); }
  static void check(const char*, const PlainOptions&) {}
};
struct PlainState {
  bool initialized() const { return false; }
  template <class V>
  void visit(V&&, const PlainOptions&) {}
};
struct Plain : optim::OptimizerBase<PlainOptions, PlainState> {
  explicit Plain(Tensor p) : OptimizerBase("Plain", {{{std::move(p)}, {}}}) {}
  void step() override {}
};

}  // namespace

TEST_CASE("optim: SGD, Adam and AdamW match PyTorch step by step") {
  const StateDict ref = load_safetensors(fixture_path("optim.safetensors"));
  for (const auto& [name, make] : configs()) {
    SUBCASE(name.c_str()) {
      auto model = reference_model(ref);
      auto opt = make(model->parameters());
      const std::vector<double> losses = ref.at(name + ".loss").to_vector<double>();
      for (int k = 1; k <= 5; ++k) {
        opt->zero_grad();
        Tensor loss = loss_of(*model, ref);
        CHECK(loss.item() == doctest::Approx(losses[k - 1]).epsilon(1e-5));
        loss.backward();
        opt->step();
        const std::string step = name + ".step" + std::to_string(k);
        check_close(step + ".weight", model->weight, ref.at(step + ".weight"), 1e-5, 1e-6);
        check_close(step + ".bias", model->bias, ref.at(step + ".bias"), 1e-5, 1e-6);
      }
      // The state has PyTorch's names and values: momentum buffers, moments, step counts.
      StateDict state = opt->state_dict();
      const std::vector<std::string> mine = state_keys(state, "state."), theirs = state_keys(ref, name + ".state.");
      CHECK(std::set<std::string>(mine.begin(), mine.end()) == std::set<std::string>(theirs.begin(), theirs.end()));
      for (const std::string& key : theirs) {
        const Tensor& want = ref.at(name + ".state." + key);
        if (want.dtype() == kInt64)
          check_same(key, state.at("state." + key), want);
        else
          check_close(name + " state." + key, state.at("state." + key), want, 1e-5, 1e-7);
      }
    }
  }
}

TEST_CASE("optim: save, resume and continue exactly") {
  // 5 uninterrupted steps must equal 3 steps, a save of model and optimizer, a fresh
  // model and optimizer loaded from the files, and 2 more steps: bit for bit.
  const StateDict ref = load_safetensors(fixture_path("optim.safetensors"));
  const fs::path dir = fs::temp_directory_path() / ("heed_optim_resume_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& [name, make] : configs()) {
    SUBCASE(name.c_str()) {
      auto straight = reference_model(ref);
      auto straight_opt = make(straight->parameters());
      train_steps(*straight, *straight_opt, ref, 5);

      {
        auto first = reference_model(ref);
        auto first_opt = make(first->parameters());
        train_steps(*first, *first_opt, ref, 3);
        save(*first, (dir / "model.safetensors").string());
        save_safetensors(first_opt->state_dict(), (dir / "optim.safetensors").string());
      }  // the first run is gone: only the files remain

      auto resumed = std::make_unique<nn::Linear>(4, 3);  // fresh random weights
      auto resumed_opt = make(resumed->parameters());
      resumed_opt->set_lr(123.0);  // overwritten by the load: hyperparameters are state too
      load(*resumed, (dir / "model.safetensors").string());
      resumed_opt->load_state_dict(load_safetensors((dir / "optim.safetensors").string()));
      CHECK(resumed_opt->lr() == straight_opt->lr());
      train_steps(*resumed, *resumed_opt, ref, 2);

      check_same("weight", resumed->weight, straight->weight);
      check_same("bias", resumed->bias, straight->bias);
      StateDict a = resumed_opt->state_dict(), b = straight_opt->state_dict();
      REQUIRE(a.keys() == b.keys());
      for (const auto& [key, t] : b) check_same(key, a.at(key), t);
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("optim: SGD by hand") {
  // p = [1, 2], g = [0.5, -1] twice; lr 0.1, momentum 0.9:
  //   step 1: b = g = [0.5, -1];            p = [1, 2] - 0.1 b = [0.95, 2.1]
  //   step 2: b = 0.9 b + g = [0.95, -1.9]; p = [0.95, 2.1] - 0.1 b = [0.855, 2.29]
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    Tensor p = Tensor({1.0, 2.0}, dtype).requires_grad_();
    Tensor unused = Tensor({7.0}, dtype).requires_grad_();  // never gets a gradient
    optim::SGD opt({p, unused}, {.lr = 0.1, .momentum = 0.9});
    p.set_grad(Tensor({0.5, -1.0}, dtype));
    opt.step();
    check_values(p, {0.95, 2.1});
    p.set_grad(Tensor({0.5, -1.0}, dtype));
    opt.step();
    check_values(p, {0.855, 2.29});
    check_values(unused, {7.0});  // skipped: no gradient, no state
    StateDict s = opt.state_dict();
    check_values(s.at("state.0.momentum_buffer"), {0.95, -1.9});
    CHECK_FALSE(s.contains("state.1.momentum_buffer"));
    CHECK(s.at("param_groups.0.params").to_vector<int64_t>() == std::vector<int64_t>{0, 1});
    CHECK(s.at("param_groups.0.nesterov").item() == 0);
  }
  SUBCASE("a gradient-free step leaves the version alone; a real one bumps it") {
    Tensor p = Tensor({1.0}).requires_grad_();
    optim::SGD opt({p}, {.lr = 0.1});
    const uint64_t v0 = p.version();
    opt.step();
    CHECK(p.version() == v0);
    p.set_grad(Tensor({1.0}));
    opt.step();
    CHECK(p.version() > v0);  // autograd sees the write (a saved p would now be stale)
  }
}

TEST_CASE("optim: Adam and AdamW by hand") {
  // On the first step m_hat = g and v_hat = g^2, so p moves by lr g / (|g| + eps):
  // lr times the sign of g, whatever g's size.
  Tensor p = Tensor({1.0, -1.0, 0.5}, kFloat64).requires_grad_();
  optim::Adam opt({p}, {.lr = 0.01});
  p.set_grad(Tensor({0.3, -2.0, 1e-3}, kFloat64));
  opt.step();
  check_values(p, {1.0 - 0.01 * 0.3 / (0.3 + 1e-8), -1.0 + 0.01 * 2.0 / (2.0 + 1e-8),
                   0.5 - 0.01 * 1e-3 / (1e-3 + 1e-8)},
               1e-12);
  CHECK(opt.state_dict().at("state.0.step").to_vector<int64_t>() == std::vector<int64_t>{1});

  // AdamW decays p before the Adam step: with g = 0 the moments stay 0 and only
  // the decay acts, p *= 1 - lr wd.
  Tensor q = Tensor({2.0, -4.0}, kFloat64).requires_grad_();
  optim::AdamW opt_w({q}, {.lr = 0.1, .weight_decay = 0.5});
  q.set_grad(Tensor({0.0, 0.0}, kFloat64));
  opt_w.step();
  check_values(q, {2.0 * 0.95, -4.0 * 0.95}, 1e-12);
}

TEST_CASE("optim: a large parameter, shared out between threads, updates as in one pass") {
  // Above kParallelGrain elements Adam cuts a parameter into one share per thread
  // (optim/adam.cpp). 100,003 elements do not divide by 3, so the shares differ.
  // An element no share covered would keep its old value and differ from the
  // one-thread run, which updates every element in one pass.
  manual_seed(4);
  Tensor start = Tensor::randn({100003}), grad = Tensor::randn({100003});
  auto run = [&](int threads, bool adamw) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Tensor p = start.clone().requires_grad_();
    std::unique_ptr<optim::Optimizer> opt;
    if (adamw) opt = std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, optim::AdamWOptions{.lr = 0.1});
    else opt = std::make_unique<optim::Adam>(std::vector<Tensor>{p}, optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true});
    for (int k = 0; k < 3; ++k) {
      p.set_grad(grad * (k + 1.0));
      opt->step();
    }
    omp_set_num_threads(saved);
    return p.to_vector<float>();
  };
  for (bool adamw : {false, true}) {
    CAPTURE(adamw);
    CHECK(run(3, adamw) == run(1, adamw));
    CHECK(run(2, adamw) == run(1, adamw));
  }
}

TEST_CASE("optim: strided parameters and gradients update like contiguous ones") {
  // The fused loops walk p, g and the state with their own strides.
  manual_seed(3);
  Tensor base = Tensor::randn({3, 4});
  Tensor grad_base = Tensor::randn({3, 4});
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    Tensor strided = base.clone().t();  // [4, 3], strides [1, 4]: a leaf, not contiguous
    REQUIRE_FALSE(strided.is_contiguous());
    strided.requires_grad_();
    Tensor plain = base.t().contiguous().requires_grad_();
    auto make = [&](Tensor p) -> std::unique_ptr<optim::Optimizer> {
      if (which == 0) return std::make_unique<optim::SGD>(std::vector<Tensor>{p}, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
      if (which == 1) return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true});
      return std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, optim::AdamWOptions{.lr = 0.1});
    };
    auto a = make(strided), b = make(plain);
    for (int k = 0; k < 3; ++k) {
      strided.set_grad(grad_base.t() * (k + 1.0));               // a strided gradient
      plain.set_grad((grad_base.t() * (k + 1.0)).contiguous());
      a->step();
      b->step();
    }
    CHECK(strided.to_vector<double>() == plain.to_vector<double>());
  }
}

TEST_CASE("optim: parameter groups, lr and zero_grad") {
  Tensor a = Tensor({1.0}).requires_grad_(), b = Tensor({1.0}).requires_grad_();
  optim::SGD opt({{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.01, .momentum = 0.5}}});
  CHECK(opt.num_groups() == 2);
  CHECK(opt.lr() == 0.1);
  CHECK(opt.lr(1) == 0.01);
  CHECK(opt.options(1).momentum == 0.5);
  a.set_grad(Tensor({1.0}));
  b.set_grad(Tensor({1.0}));
  opt.step();
  check_values(a, {0.9});
  check_values(b, {0.99});
  CHECK(opt.state_dict().at("param_groups.1.params").to_vector<int64_t>() == std::vector<int64_t>{1});
  opt.set_lr(1, 0.5);
  CHECK(opt.lr(1) == 0.5);
  opt.set_lr(0.2);
  CHECK(opt.lr(0) == 0.2);
  CHECK(opt.lr(1) == 0.2);
  CHECK(opt.parameters().size() == 2);
  CHECK_THROWS_CONTAINING(opt.lr(2), "SGD: group 2 is out of range (2 groups)", IndexError);
  CHECK_THROWS_CONTAINING(opt.set_lr(5, 0.1), "group 5 is out of range", IndexError);
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("optim: constructor errors") {
  Tensor p = Tensor({1.0}).requires_grad_();
  CHECK_THROWS_CONTAINING(optim::SGD({}, {.lr = 0.1}), "got no parameters", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({Tensor()}, {.lr = 0.1}), "parameter 0 of group 0 is undefined", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({Tensor::zeros({2}, kInt64)}, {.lr = 0.1}), "has dtype int64", DTypeError);
  CHECK_THROWS_CONTAINING(optim::SGD({p * 2.0}, {.lr = 0.1}), "is not a leaf", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({p, p}, {.lr = 0.1}), "appears twice", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({p}, {.lr = -1}), "SGD: lr is -1; it must be >= 0", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({p}, {.lr = 0.1, .momentum = -0.5}), "momentum is -0.5", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({p}, {.lr = 0.1, .weight_decay = -1}), "weight_decay is -1", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({p}, {.lr = 0.1, .nesterov = true}), "nesterov needs momentum > 0", ValueError);
  CHECK_THROWS_CONTAINING(optim::SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                          "dampening == 0", ValueError);
  CHECK_THROWS_CONTAINING(optim::Adam({p}, {.betas = {1.0, 0.999}}), "Adam: betas.first is 1", ValueError);
  CHECK_THROWS_CONTAINING(optim::Adam({p}, {.betas = {0.9, -0.1}}), "betas.second is -0.1", ValueError);
  CHECK_THROWS_CONTAINING(optim::Adam({p}, {.eps = -1}), "eps is -1", ValueError);
  CHECK_THROWS_CONTAINING(optim::AdamW({p}, {.lr = 0.1, .weight_decay = -0.1}), "AdamW: weight_decay is -0.1",
                          ValueError);
  CHECK_THROWS_CONTAINING(optim::Adam({p}, {.lr = std::nan("")}), "lr is nan", ValueError);
}

TEST_CASE("optim: load_state_dict errors leave the optimizer unchanged") {
  Tensor w = Tensor({{1.0, 2.0}}).requires_grad_(), b = Tensor({0.0}).requires_grad_();
  optim::Adam adam({w, b}, {.lr = 0.1});
  w.set_grad(Tensor({{1.0, 1.0}}));
  adam.step();
  const StateDict good = adam.state_dict();
  optim::SGD sgd({w, b}, {.lr = 0.1, .momentum = 0.9});
  auto edited = [&](const std::string& key, const Tensor& value) {
    StateDict s;
    for (const auto& [k, t] : good) s.set(k, k == key ? value : t);
    return s;
  };
  auto without = [&](const std::string& key) {
    StateDict s;
    for (const auto& [k, t] : good)
      if (k != key) s.set(k, t);
    return s;
  };

  optim::Adam other({w, b}, {.lr = 0.5});
  CHECK_THROWS_CONTAINING(other.load_state_dict(sgd.state_dict()), "missing key 'param_groups.0.betas'", ValueError);
  StateDict sgd_plus = sgd.state_dict();
  sgd_plus.set("param_groups.0.betas", good.at("param_groups.0.betas"));
  CHECK_THROWS_CONTAINING(sgd.load_state_dict(sgd_plus), "SGD.load_state_dict: unexpected key 'param_groups.0.betas'",
                          ValueError);
  CHECK_THROWS_CONTAINING(other.load_state_dict(without("state.0.exp_avg_sq")), "missing key 'state.0.exp_avg_sq'",
                          ValueError);
  CHECK_THROWS_CONTAINING(other.load_state_dict(edited("state.0.exp_avg", Tensor::zeros({3}))),
                          "'state.0.exp_avg' has shape [3] but its parameter has shape [1, 2]", ShapeError);
  CHECK_THROWS_CONTAINING(other.load_state_dict(edited("param_groups.0.amsgrad", Tensor::scalar(0.5, kFloat64))),
                          "must be 0 or 1", ValueError);
  CHECK_THROWS_CONTAINING(other.load_state_dict(edited("param_groups.0.lr", Tensor::scalar(-1, kFloat64))),
                          "lr is -1", ValueError);
  CHECK_THROWS_CONTAINING(other.load_state_dict(edited("param_groups.0.betas", Tensor::scalar(0.9, kFloat64))),
                          "'param_groups.0.betas' has shape []; expected [2]", ShapeError);
  CHECK_THROWS_CONTAINING(other.load_state_dict(edited("state.0.step", Tensor::scalar(1.5, kFloat64))),
                          "must be a whole number", ValueError);
  optim::Adam one({w}, {.lr = 0.5});
  CHECK_THROWS_CONTAINING(one.load_state_dict(good), "lists 2 parameters, but group 0 of this optimizer has 1",
                          ValueError);
  CHECK(other.lr() == 0.5);  // every failed load changed nothing
  CHECK(other.state_dict().size() == 6);  // params, lr, betas, eps, weight_decay, amsgrad: no state yet

  SUBCASE("PyTorch's float step count loads too") {
    other.load_state_dict(edited("state.0.step", Tensor::scalar(1.0)));
    CHECK(other.lr() == 0.1);
    CHECK(other.state_dict().at("state.0.step").to_vector<int64_t>() == std::vector<int64_t>{1});
  }
  SUBCASE("the loaded buffers are copies, not aliases") {
    other.load_state_dict(good);
    w.set_grad(Tensor({{1.0, 1.0}}));
    other.step();
    CHECK(other.state_dict().at("state.0.exp_avg").to_vector<double>() !=
          good.at("state.0.exp_avg").to_vector<double>());
    CHECK(adam.state_dict().at("state.0.exp_avg").to_vector<double>() ==
          good.at("state.0.exp_avg").to_vector<double>());
  }
}

TEST_CASE("optim: schedulers match PyTorch") {
  // Sequences printed by tests/reference/optim.py (PyTorch 1.13; get_last_lr() after
  // construction, then after each step).
  Tensor a = Tensor({0.0}).requires_grad_(), b = Tensor({0.0}).requires_grad_();

  SUBCASE("StepLR, two groups with their own base lr") {
    optim::SGD opt(std::vector<optim::SGD::Group>{{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.01}}});
    optim::StepLR sched(opt, /*step_size=*/3, /*gamma=*/0.5);
    std::vector<double> lr0 = {sched.get_last_lr()[0]}, lr1 = {sched.get_last_lr()[1]};
    for (int i = 0; i < 10; ++i) {
      sched.step();
      lr0.push_back(opt.lr(0));
      lr1.push_back(opt.lr(1));
    }
    check_lrs(lr0, {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125});
    check_lrs(lr1, {0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025, 0.0025, 0.0025, 0.00125, 0.00125});
    CHECK(sched.last_epoch() == 10);
  }
  SUBCASE("CosineAnnealingLR, past T_max and back up") {
    optim::SGD opt({a}, {.lr = 0.1});
    optim::CosineAnnealingLR sched(opt, /*T_max=*/5, /*eta_min=*/0.001);
    check_lrs(lr_sequence(sched, opt, 12),
              {0.1, 0.0905463412215599, 0.06579634122155989, 0.035203658778440096, 0.010453658778440105, 0.001,
               0.010453658778440102, 0.03520365877844012, 0.06579634122155993, 0.09054634122155995,
               0.10000000000000005, 0.09054634122155998, 0.06579634122155995});
  }
  SUBCASE("LinearWarmup = LinearLR(start_factor, 1.0, warmup_steps)") {
    optim::Adam opt({a}, {.lr = 0.1});
    optim::LinearWarmup sched(opt, /*warmup_steps=*/4, /*start_factor=*/0.001);
    check_lrs(lr_sequence(sched, opt, 7),
              {0.0001, 0.025075, 0.050050000000000004, 0.07502500000000001, 0.10000000000000002,
               0.10000000000000002, 0.10000000000000002, 0.10000000000000002});
  }
  SUBCASE("LambdaLR") {
    optim::SGD opt({a}, {.lr = 0.1});
    optim::LambdaLR sched(opt, [](int64_t e) { return std::pow(0.9, static_cast<double>(e)) + 0.01 * static_cast<double>(e); });
    check_lrs(lr_sequence(sched, opt, 6), {0.1, 0.09100000000000001, 0.08300000000000002, 0.07590000000000002, 0.06961,
                                           0.06404900000000001, 0.05914410000000001});
  }
  SUBCASE("SequentialLR: a warmup, then a cosine, two groups") {
    optim::SGD opt(std::vector<optim::SGD::Group>{{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.05}}});
    auto warmup = std::make_shared<optim::LinearWarmup>(opt, 3, 0.1);
    auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 5);
    optim::SequentialLR sched(opt, {warmup, cosine}, {3});
    check_lrs(lr_sequence(sched, opt, 10),
              {0.010000000000000002, 0.04, 0.07, 0.1, 0.09045084971874738, 0.06545084971874737, 0.03454915028125263,
               0.009549150281252633, 0.0, 0.009549150281252628, 0.03454915028125265});
    sched.set_last_epoch(0);
    check_lrs(lr_sequence(sched, opt, 10, 1),
              {0.005000000000000001, 0.02, 0.035, 0.05, 0.04522542485937369, 0.032725424859373686, 0.017274575140626316,
               0.004774575140626317, 0.0, 0.004774575140626314, 0.017274575140626323});
    CHECK_THROWS_CONTAINING(optim::SequentialLR(opt, {warmup, cosine}, {}), "2 schedulers and 0 milestones", ValueError);
    optim::SGD other({b}, {.lr = 0.5});
    CHECK_THROWS_CONTAINING(optim::SequentialLR(other, {warmup}, {}), "built on another optimizer", ValueError);
  }
  SUBCASE("OneCycleLR, cosine and linear") {
    optim::SGD opt({a}, {.lr = 0.1});
    optim::OneCycleLR cos(opt, 0.1, 10, {.cycle_momentum = false});
    check_lrs(lr_sequence(cos, opt, 10),
              {0.0040000000000000036, 0.052000000000000005, 0.1, 0.09504846320134738, 0.0811745653949763,
               0.06112620219362893, 0.03887419780637107, 0.0188258346050237, 0.004951936798652629, 4e-07,
               0.004951936798652624});
    CHECK_THROWS_CONTAINING(cos.step(), "stepped to 11 past total_steps (10)", ValueError);
    CHECK(cos.last_epoch() == 10);  // the refused step changed nothing
    optim::SGD opt2({b}, {.lr = 0.1});
    optim::OneCycleLR lin(opt2, 0.1, 12, {.pct_start = 0.25, .anneal_strategy = "linear", .cycle_momentum = false});
    check_lrs(lr_sequence(lin, opt2, 12),
              {0.004, 0.052000000000000005, 0.1, 0.08888893333333334, 0.07777786666666667, 0.0666668,
               0.055555733333333336, 0.04444466666666667, 0.033333600000000005, 0.022222533333333336,
               0.011111466666666667, 3.999999999976245e-07, -0.011110666666666671});
    CHECK_THROWS_CONTAINING(optim::OneCycleLR(opt2, 0.1, 3), "the warm-up phase needs more than one step", ValueError);
    CHECK_THROWS_CONTAINING(optim::OneCycleLR(opt2, 0.1, 30, {.anneal_strategy = "exp"}), "'cos' or 'linear'", ValueError);
  }
  SUBCASE("OneCycleLR cycles SGD's momentum and Adam's beta1, and the steps use them") {
    // lr, momentum and a float64 parameter stepped with gradient 1 + step / 10, after
    // construction and each step, as tests/reference/optim.py prints them.
    auto run = [](optim::Optimizer& opt, optim::LRScheduler& sched, int steps) {
      std::array<std::vector<double>, 3> seq;
      Tensor p = opt.params(0)[0];
      auto record = [&] {
        seq[0].push_back(opt.lr());
        seq[1].push_back(opt.momentum());
        seq[2].push_back(p.item());
      };
      record();
      for (int step = 0; step < steps; ++step) {
        p.set_grad(Tensor::full({1}, 1 + step / 10.0, kFloat64));
        opt.step();
        sched.step();
        record();
      }
      return seq;
    };
    // An SGD built without momentum: the scheduler turns it on, as in PyTorch.
    Tensor w = Tensor::zeros({1}, kFloat64).requires_grad_();
    optim::SGD sgd({w}, {.lr = 0.1});
    optim::OneCycleLR one_cycle(sgd, 0.1, 10);
    auto seq = run(sgd, one_cycle, 10);
    check_lrs(seq[0], {0.0040000000000000036, 0.052000000000000005, 0.1, 0.09504846320134738, 0.0811745653949763,
                       0.06112620219362893, 0.03887419780637107, 0.0188258346050237, 0.004951936798652629, 4e-07,
                       0.004951936798652624});
    check_lrs(seq[1], {0.95, 0.8999999999999999, 0.85, 0.854951556604879, 0.8688255099070633, 0.8888739533021842,
                       0.9111260466978157, 0.9311744900929366, 0.945048443395121, 0.95, 0.945048443395121});
    check_lrs(seq[2], {0.0, -0.0040000000000000036, -0.10800000000000001, -0.398, -0.7572223137057428,
                       -1.1374118293979845, -1.4835776767396622, -1.746360586868009, -1.8968652249319546,
                       -1.9431919071668293, -1.9431962221676229});

    Tensor v = Tensor::zeros({1}, kFloat64).requires_grad_();
    optim::Adam adam({v}, {.lr = 0.01});
    optim::OneCycleLR lin(adam, 0.01, 12,
                          {.pct_start = 0.25, .anneal_strategy = "linear", .base_momentum = 0.8, .max_momentum = 0.9});
    seq = run(adam, lin, 12);
    check_lrs(seq[0], {0.0004, 0.005200000000000001, 0.01, 0.008888893333333333, 0.007777786666666666, 0.00666668,
                       0.0055555733333333334, 0.0044444666666666665, 0.0033333600000000005, 0.0022222533333333327,
                       0.0011111466666666667, 3.999999999976245e-08, -0.0011110666666666671});
    check_lrs(seq[1], {0.9, 0.8500000000000001, 0.8, 0.8111111111111111, 0.8222222222222223, 0.8333333333333334,
                       0.8444444444444444, 0.8555555555555556, 0.8666666666666667, 0.8777777777777778,
                       0.888888888888889, 0.9, 0.9111111111111111});
    check_lrs(seq[2], {0.0, -0.0003999999960000001, -0.004856448575870878, -0.013030189296143605,
                       -0.02120103702244287, -0.02887441082389699, -0.03578653544731708, -0.04177352655344133,
                       -0.04672129342168035, -0.05054214999626804, -0.053161636934321896, -0.05450917029909874,
                       -0.054509220318836926});
    CHECK(adam.options().betas.second == 0.999);  // beta2 is left alone

    // Resuming puts the momentum back with the lr.
    optim::Adam adam2({Tensor::zeros({1}, kFloat64).requires_grad_()}, {.lr = 0.01});
    optim::OneCycleLR lin2(adam2, 0.01, 12,
                           {.pct_start = 0.25, .anneal_strategy = "linear", .base_momentum = 0.8, .max_momentum = 0.9});
    lin.set_last_epoch(5);
    lin2.load_state_dict(lin.state_dict());
    CHECK(adam2.momentum() == adam.momentum());
    CHECK(std::abs(adam2.momentum() - 0.8333333333333334) < 1e-12);

    // Bad settings are refused before anything changes.
    CHECK_THROWS_CONTAINING(optim::OneCycleLR(adam, 0.01, 12, {.max_momentum = 1.0}), "both must be in [0, 1)",
                            ValueError);
    CHECK_THROWS_CONTAINING(sgd.set_momentum(0, -0.5), "momentum is -0.5", ValueError);
    CHECK(sgd.momentum() == 0.945048443395121);

    // An optimizer with neither momentum nor betas cannot cycle them.
    Plain plain(Tensor::zeros({1}).requires_grad_());
    CHECK_FALSE(plain.has_momentum());
    CHECK_THROWS_CONTAINING(optim::OneCycleLR(plain, 0.1, 10), "pass .cycle_momentum = false", ValueError);
    CHECK_THROWS_CONTAINING(plain.momentum(), "neither momentum nor betas", ValueError);
    optim::OneCycleLR lr_only(plain, 0.1, 10, {.cycle_momentum = false});
    CHECK(std::abs(plain.lr() - 0.1 / 25) < 1e-15);
  }
  SUBCASE("ReduceLROnPlateau") {
    const std::vector<double> metrics = {1.0, 0.9, 0.95, 0.91, 0.9, 0.899, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6};
    auto run = [&](optim::PlateauOptions o) {
      optim::SGD opt({a}, {.lr = 0.1});
      optim::ReduceLROnPlateau sched(opt, o);
      std::vector<double> lrs;
      for (double m : metrics) {
        sched.step(m);
        lrs.push_back(opt.lr());
      }
      return lrs;
    };
    check_lrs(run({.factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1, .min_lr = 0.01}),
              {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.0125, 0.0125});
    check_lrs(run({.mode = "max", .factor = 0.5, .patience = 1, .threshold = 0.05, .threshold_mode = "abs"}),
              {0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.00625, 0.00625, 0.003125, 0.003125, 0.0015625,
               0.0015625});

    // Its state resumes: 7 steps, save, a new one loads and takes the other 7.
    optim::SGD opt({a}, {.lr = 0.1});
    optim::ReduceLROnPlateau first(opt, {.factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1});
    for (size_t i = 0; i < 7; ++i) first.step(metrics[i]);
    optim::ReduceLROnPlateau second(opt, {.factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1});
    second.load_state_dict(first.state_dict());
    for (size_t i = 7; i < metrics.size(); ++i) first.step(metrics[i]);
    const double lr_first = opt.lr();
    opt.set_lr(0.05);  // where the first run stood after 7 steps
    for (size_t i = 7; i < metrics.size(); ++i) second.step(metrics[i]);
    CHECK(opt.lr() == lr_first);
    CHECK(second.best() == first.best());
    CHECK_THROWS_CONTAINING(optim::ReduceLROnPlateau(opt, {.factor = 2}), "factor is 2", ValueError);
  }
  SUBCASE("errors") {
    optim::SGD opt({a}, {.lr = 0.1});
    CHECK_THROWS_CONTAINING(optim::StepLR(opt, 0), "StepLR: step_size is 0; it must be >= 1", ValueError);
    CHECK_THROWS_CONTAINING(optim::CosineAnnealingLR(opt, 0), "T_max is 0", ValueError);
    CHECK_THROWS_CONTAINING(optim::LinearWarmup(opt, 0), "warmup_steps is 0", ValueError);
    CHECK_THROWS_CONTAINING(optim::LinearWarmup(opt, 5, 0.0), "start_factor is 0; it must be in (0, 1]", ValueError);
    CHECK_THROWS_CONTAINING(optim::LinearWarmup(opt, 5, 1.5), "start_factor is 1.5", ValueError);
    CHECK(opt.lr() == 0.1);  // a scheduler that failed to construct set nothing
  }
}

TEST_CASE("optim: a scheduler resumes from a checkpoint, not from the decayed lr") {
  Tensor w = Tensor({1.0, 2.0}).requires_grad_();
  optim::Adam opt({w}, {.lr = 0.1});
  optim::StepLR sched(opt, 2, 0.5);
  for (int i = 0; i < 5; ++i) sched.step();
  CHECK(opt.lr() == 0.025);  // 0.1 halved at epochs 2 and 4
  const StateDict opt_state = opt.state_dict(), sched_state = sched.state_dict();
  CHECK(opt_state.at("param_groups.0.initial_lr").item() == 0.1);
  CHECK(sched_state.at("last_epoch").item() == 5);

  // A new process: build, load the optimizer, then the scheduler.
  Tensor w2 = Tensor({1.0, 2.0}).requires_grad_();
  optim::Adam opt2({w2}, {.lr = 0.1});
  opt2.load_state_dict(opt_state);
  CHECK(opt2.lr() == 0.025);
  optim::StepLR sched2(opt2, 2, 0.5);
  CHECK(sched2.base_lrs() == std::vector<double>{0.1});  // the checkpoint's initial lr, not the decayed 0.025
  sched2.load_state_dict(sched_state);
  CHECK(sched2.last_epoch() == 5);
  CHECK(opt2.lr() == 0.025);
  sched.step();
  sched2.step();
  CHECK(opt2.lr() == opt.lr());
  sched2.set_last_epoch(0);
  CHECK(opt2.lr() == 0.1);

  StateDict bad = sched_state;
  bad.set("extra", Tensor::scalar(1));
  CHECK_THROWS_CONTAINING(sched2.load_state_dict(bad), "unexpected key 'extra'", ValueError);
  CHECK_THROWS_CONTAINING(sched2.set_last_epoch(-1), "epoch -1 is negative", ValueError);
}
