// Chapter 1: broadcasting. Shapes are aligned from the right; a size-1 (or
// missing) dim is repeated by giving it stride 0, which costs no memory.
#include "check.h"

using namespace heed;
using tour::check;

int main() {
  Tensor col({{1}, {2}, {3}});     // [3, 1]
  Tensor row({10, 20, 30, 40});    // [4]
  Tensor sum = col + row;          // [3, 1] + [4] -> [3, 4]
  check(sum.shape() == Shape{3, 4} && sum.at({2, 3}) == 3 + 40, "[3, 1] + [4] gives [3, 4], sum[i, j] = col[i] + row[j]");
  check(broadcast_shapes("demo", {2, 1, 4}, {3, 1}) == Shape{2, 3, 4}, "[2, 1, 4] with [3, 1] broadcasts to [2, 3, 4]");

  Tensor wide = col.expand({3, 4});  // what the kernel sees: col repeated along dim 1
  check(wide.strides() == Strides{1, 0} && wide.shares_storage(col), "expand() repeats a size-1 dim with stride 0, no copy");

  check(tour::throws<ShapeError>([&] { Tensor::ones({3}) + Tensor::ones({4}); }, "do not broadcast"),
        "[3] + [4] is an error that names both shapes");

  // Backward undoes the broadcast: each of row's elements was used 3 times
  // (once per row of the result), so its gradient is the sum of 3 gradients.
  Tensor r = Tensor({10, 20, 30, 40}).requires_grad_();
  (col + r).sum().backward();
  check(r.grad().to_vector<float>() == std::vector<float>{3, 3, 3, 3}, "the gradient of a broadcast input is summed back to its shape");
  return tour::failures();
}
