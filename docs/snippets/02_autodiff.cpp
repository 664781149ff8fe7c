// Chapter 2: the graph the forward pass records, and what backward() does with it.
#include "check.h"

using namespace heed;
using tour::check;

int main() {
  // [graph]
  Tensor x = Tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();  // leaves
  Tensor w = Tensor({0.5, -1.0, 2.0}, kFloat64).requires_grad_();
  Tensor h = tanh(x * w);       // records two nodes: mul, then tanh
  Tensor loss = (h + x).sum();  // x is used twice: by mul and by add

  check(x.is_leaf() && h.grad_fn()->name() == "tanh", "a leaf has no grad_fn; h's grad_fn is the tanh node");
  const Node& add = *loss.grad_fn()->next_edges()[0].node;  // sum -> add
  check(add.name() == "add" && add.next_edges()[0].node->name() == "tanh",
        "each node has one edge per input, pointing back at the node that made it");
  check(add.next_edges()[1].node->name() == "AccumulateGrad",
        "an edge to a leaf ends in its AccumulateGrad node");
  // [end graph]

  // [backward]
  loss.backward();
  // d loss / dx = w (1 - h^2) through tanh(x * w), plus 1 through h + x: both paths, added.
  Tensor expected = w.detach() * (1 - h.detach().pow(2)) + 1;
  check(tour::max_diff(x.grad(), expected) < 1e-15, "a tensor used twice gets the sum of both gradients");
  check(tour::throws<AutogradError>([&] { loss.backward(); }, "retain_graph"),
        "a second backward through the same graph fails: its saved tensors are gone");
  Tensor again = (tanh(x * w) + x).sum();
  again.backward();
  check(tour::max_diff(x.grad(), 2 * expected) < 1e-15, "backward() adds into grad(): a second pass doubles it");
  x.zero_grad();
  check(!x.grad().defined(), "zero_grad() drops it; the next backward writes a fresh one");
  // [end backward]

  // [freed]
  // y = tanh(big) is held only by the tanh node (which saved it for backward).
  Tensor big = Tensor::randn({1000, 1000}).requires_grad_();
  Tensor total = tanh(big).sum();
  total.backward({}, /*retain_graph=*/true);
  const int64_t kept = Storage::live_bytes();
  big.zero_grad();
  total.backward();  // without retain_graph, each node frees what it saved once it has run
  const int64_t after = Storage::live_bytes();
  check(kept - after >= 1000 * 1000 * 4, "the default backward frees the 4 MB tanh saved, though total is still alive");
  // [end freed]

  // [version]
  Tensor y = tanh(x);
  { NoGradGuard no_grad; y.mul_(2); }  // y was saved by tanh; this write changes it under the graph
  check(tour::throws<AutogradError>([&] { y.sum().backward(); }, "modified by an in-place operation"),
        "the version counter catches a saved tensor written in place");
  // [end version]

  // [no_grad]
  {
    NoGradGuard no_grad;  // evaluation, optimizer updates: no graph wanted
    Tensor z = tanh(x * w);
    check(!z.requires_grad() && !z.grad_fn(), "under NoGradGuard ops record nothing");
  }
  Tensor d = x.detach();
  check(d.shares_storage(x) && !d.requires_grad(), "detach() is the same memory, cut from the graph");
  (d * x).sum().backward();  // only the x path counts: d is a constant
  check(tour::max_diff(x.grad(), d) < 1e-15, "no gradient flows through a detached tensor");
  // [end no_grad]
  return tour::failures();
}
