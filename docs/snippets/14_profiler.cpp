// Chapter 14: where a training step's time goes. A small network trains for a
// few steps under the profiler; the claims are about what the table holds.
#include <cstdio>
#include <fstream>

#include "check.h"

using namespace heed;

// Two layers, each under a label of its own, so that the backward rows can say
// which layer made them.
// [net]
struct Net : nn::Module {
  std::shared_ptr<nn::Linear> l1 = register_module("l1", std::make_shared<nn::Linear>(64, 256));
  std::shared_ptr<nn::Linear> l2 = register_module("l2", std::make_shared<nn::Linear>(256, 10));
  Tensor forward(const Tensor& x) const {
    Tensor h;
    {
      profiler::Scope label("layer 1");
      h = relu((*l1)(x));
    }
    profiler::Scope label("layer 2");
    return (*l2)(h);
  }
};
// [end net]

int main() {
  manual_seed(0);
  Net net;
  optim::Adam opt(net.parameters(), {.lr = 1e-3});
  Tensor x = Tensor::randn({128, 64}), y = Tensor::randint(0, 10, {128});

  // [use]
  profiler::Profiler prof;  // recording from here
  for (int step = 0; step < 10; ++step) {
    Tensor loss = nn::cross_entropy(net.forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  prof.stop();  // to here
  std::cout << prof.table({.row_limit = 12}) << "\n"
            << prof.table({.group_by_site = true, .kind = profiler::Kind::Backward, .row_limit = 6});
  prof.write_chrome_trace("profile.json");
  // [end use]

  auto row = [&](const std::string& name, profiler::Kind kind, const std::string& site = "") {
    for (const profiler::Row& r : prof.rows(!site.empty()))
      if (r.name == name && r.kind == kind && r.site == site) return r;
    return profiler::Row{};
  };
  using profiler::Kind;
  tour::check(row("linear", Kind::Op).calls == 20 && row("linear", Kind::Backward).calls == 20,
              "two linears a step, forward and backward, over 10 steps");
  // x W^T for [128, 64] x [64, 256] and [128, 256] x [256, 10]: 2 M N K each.
  const int64_t f1 = 2 * 128 * 256 * 64, f2 = 2 * 128 * 10 * 256;
  tour::check(row("linear", Kind::Op).flops == 10 * (f1 + f2), "the forward FLOPs are 2 M N K per product");
  tour::check(row("linear", Kind::Backward, "layer 1").flops == 10 * f1,
              "layer 1's backward makes dW only (x needs no gradient): one product");
  tour::check(row("linear", Kind::Backward, "layer 2").flops == 10 * 2 * f2,
              "layer 2's backward makes dW and dh: two products");
  tour::check(row("backward", Kind::Phase).total_ns >= row("linear", Kind::Backward).total_ns,
              "the backward phase holds every node's backward");
  int64_t self_sum = 0;
  for (const profiler::Row& r : prof.rows()) self_sum += r.self_ns;
  tour::check(self_sum == prof.self_ns_sum() && self_sum <= prof.wall_ns(),
              "the self times add up, to no more than the time the profiler ran");
  tour::check(std::ifstream("profile.json").good(), "wrote the Chrome trace profile.json");
  return tour::failures();
}
