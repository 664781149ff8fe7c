// Chapter 7: the softmax backward, derived. The Jacobian is diag(y) - y y^T, so
// the vector-Jacobian product collapses to dx = y * (dy - sum(dy * y)).
#include "check.h"

using namespace heed;
using tour::check;

int main() {
  manual_seed(0);
  // [jacobian]
  Tensor x = Tensor::randn({5}, kFloat64).requires_grad_();
  Tensor y = softmax(x, 0);
  Tensor dy = Tensor::randn({5}, kFloat64);
  y.backward(dy);

  Tensor yv = y.detach();
  Tensor J = Tensor::eye(5, kFloat64) * yv - matmul(yv.unsqueeze(1), yv.unsqueeze(0));  // J_jk = y_j (delta_jk - y_k)
  Tensor dx_full = matmul(J.t(), dy);                 // the chain rule, with the whole [5, 5] Jacobian
  Tensor dx_short = yv * (dy - (dy * yv).sum());      // the same in O(n): one dot product
  check(tour::max_diff(x.grad(), dx_full) < 1e-15, "autograd's dx equals J^T dy, J = diag(y) - y y^T");
  check(tour::max_diff(dx_full, dx_short) < 1e-15, "J^T dy = y * (dy - <dy, y>)");
  check(std::abs(x.grad().sum().item()) < 1e-15, "dx sums to 0: adding c to every x changes nothing");
  // [end jacobian]

  // [stability]
  Tensor big({1000.0, 1001.0, 1002.0});
  Tensor small({0.0, 1.0, 2.0});
  check(tour::max_diff(softmax(big, 0), softmax(small, 0)) < 1e-6,
        "softmax(x + c) = softmax(x): subtracting the max keeps exp(1000) from overflowing");
  check(gradcheck([](const TensorList& in) { return softmax(in[0], 1); }, {Tensor::randn({3, 4}, kFloat64)}),
        "gradcheck: softmax along dim 1");
  // [end stability]
  return tour::failures();
}
