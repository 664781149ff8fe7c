// Chapter 10: what makes a small training step cheap. Each claim is about where
// memory comes from and how many graph nodes a step records, not about time (times
// are the benchmarks' business, bench/), so each can be checked exactly.
#include "check.h"

#include <heed/core/object_pool.h>

using namespace heed;
using tour::check;

namespace {

// Every node reachable from t's grad_fn.
int count_nodes(const Tensor& t) {
  std::vector<const Node*> seen{t.grad_fn().get()};
  for (size_t i = 0; i < seen.size(); ++i)
    for (const Edge& e : seen[i]->next_edges())
      if (e.node && std::find(seen.begin(), seen.end(), e.node.get()) == seen.end()) seen.push_back(e.node.get());
  return static_cast<int>(seen.size());
}

}  // namespace

int main() {
  manual_seed(0);
  // [sizes]
  // A shape keeps up to six sizes inside itself: making one allocates nothing.
  Shape s{32, 20, 128};
  const auto* inside = reinterpret_cast<const char*>(&s);
  const auto* data = reinterpret_cast<const char*>(s.data());
  check(data >= inside && data < inside + sizeof(Shape), "Shape{32, 20, 128} keeps its sizes inline");
  // [end sizes]

  // [recycled]
  // A small tensor's memory comes back for the next tensor of a similar size.
  const void* first = nullptr;
  {
    Tensor h = Tensor::randn({1, 10});
    first = h.raw_data_ptr();
  }  // h dies: its 40 bytes go to this thread's cache, not back to malloc
  Tensor next = Tensor::zeros({1, 10});
  check(!Storage::kCachesSmallBlocks || next.raw_data_ptr() == first,
        "the next [1, 10] tensor reuses the block the last one freed");
  check(next.sum().item() == 0.0, "and zeros() still zeroes it");
  // [end recycled]

  // [one_node]
  // The article-001 network: Linear, tanh, Linear, MSE. Each layer is one op.
  nn::Sequential net{std::make_shared<nn::Linear>(10, 10), std::make_shared<nn::Tanh>(),
                     std::make_shared<nn::Linear>(10, 5)};
  Tensor x = Tensor::randn({1, 10}), y = Tensor::randn({1, 5});
  Tensor loss = nn::mse_loss(net(x), y);
  // linear, tanh, linear, mse_loss, and one AccumulateGrad per parameter (4)
  check(count_nodes(loss) == 8, "the whole step records 4 ops and 4 parameter accumulators");
  // [end one_node]

  // [adopted]
  // A parameter's gradient is the tensor the backward made, not a copy of it: a
  // hook sees that tensor on its way in, and grad() is the same memory.
  Tensor w = net.parameters()[0];
  const void* made = nullptr;
  w.register_hook([&made](const Tensor& g) {
    made = g.raw_data_ptr();  // the address only: holding g itself would force a copy
    return Tensor();          // keep g as it is
  });
  loss.backward();
  check(w.grad().raw_data_ptr() == made, "the weight's grad is the very tensor linear's backward made");
  // [end adopted]
  return tour::failures();
}
