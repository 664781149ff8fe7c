// Chapter 3: a new op, softplus, written outside heed with heed's own tools:
// forward, backward, record(), then the three kinds of test every op gets.
#include "check.h"

#include <heed/ops/map.h>

#include <cmath>

using namespace heed;
using tour::check;

namespace tour {

// [op]
// y = softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|)   (e^-|x| <= 1: never overflows)
// dx = dy * sigmoid(x) = dy / (1 + e^-x)
// saves: x
Tensor softplus(const Tensor& x) {
  Tensor y = unary_map("softplus", x, [](auto v) {  // checks the dtype, loops, threads
    using T = decltype(v);
    return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v)));
  });
  if (!needs_grad({x})) return y;  // inference: no node, nothing saved
  SavedTensor saved_x(x);          // a detached alias + its version: no cycle, no stale data
  return record("softplus", y, {x}, [saved_x](const Tensor& dy) -> TensorList {
    Tensor xv = saved_x.get("softplus");
    return {binary_map("softplus_backward", dy, xv, [](auto g, auto v) { return g / (1 + std::exp(-v)); })};
  });
}
// [end op]

// Two deliberately wrong backwards. The first has a sign error: sigmoid(-x), not sigmoid(x).
Tensor wrong_softplus(const Tensor& x) {
  Tensor y = softplus(x.detach());
  if (!needs_grad({x})) return y;
  SavedTensor saved_x(x);
  return record("wrong_softplus", y, {x}, [saved_x](const Tensor& dy) -> TensorList {
    return {dy / (1 + exp(saved_x.get("wrong_softplus")))};
  });
}

// The second returns a gradient of the wrong shape.
Tensor broken_sum(const Tensor& x) {
  Tensor y = sum(x.detach());
  if (!needs_grad({x})) return y;
  return record("broken_sum", y, {x}, [](const Tensor& dy) -> TensorList { return {dy}; });  // [] for [2, 3]
}

}  // namespace tour

int main() {
  // [tests]
  // 1. values, against numbers worked out by hand
  Tensor y = tour::softplus(Tensor({-100.0, 0.0, 100.0}, kFloat64));
  check(std::abs(y.at({1}) - std::log(2.0)) < 1e-15, "softplus(0) = log 2");
  check(y.at({2}) == 100 && y.at({0}) > 0 && y.at({0}) < 1e-43, "softplus(100) = 100, softplus(-100) = e^-100: no overflow");

  // 2. the backward against central differences, in float64; also on a transposed
  //    (non-contiguous) input and through a broadcast
  check(gradcheck([](const TensorList& in) { return tour::softplus(in[0]); }, {Tensor::randn({3, 4}, kFloat64)}),
        "gradcheck: softplus");
  check(gradcheck([](const TensorList& in) { return tour::softplus(in[0].t()); }, {Tensor::randn({3, 4}, kFloat64)}),
        "gradcheck: softplus of a transposed view");
  check(gradcheck([](const TensorList& in) { return tour::softplus(in[0] + in[1]); },
                  {Tensor::randn({3, 1}, kFloat64), Tensor::randn({4}, kFloat64)}),
        "gradcheck: softplus of a broadcast sum");

  // 3. each error, with the op's name in it
  check(tour::throws<DTypeError>([] { tour::softplus(Tensor::arange(3, kInt64)); }, "softplus"),
        "an int64 input is a DTypeError naming softplus");
  // [end tests]

  // [catching_bugs]
  check(!gradcheck([](const TensorList& in) { return tour::wrong_softplus(in[0]); }, {Tensor::randn({3}, kFloat64)}),
        "gradcheck rejects a backward with a sign error");
  Tensor x = Tensor::ones({2, 3}).requires_grad_();
  check(tour::throws<AutogradError>([&] { tour::broken_sum(x).backward(); }, "backward of 'broken_sum'"),
        "the engine names an op whose backward returns the wrong shape");
  // [end catching_bugs]
  return tour::failures();
}
