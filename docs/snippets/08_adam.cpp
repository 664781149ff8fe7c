// Chapter 8: Adam, written out in plain loops and compared with optim::Adam;
// what its first step is; and why AdamW decays weights apart from the gradient.
#include "check.h"

#include <cmath>

using namespace heed;
using tour::check;

int main() {
  // [by_hand]
  const double lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  Tensor p = Tensor({1.0, -2.0, 3.0}, kFloat64).requires_grad_();
  optim::Adam adam({p}, {.lr = lr, .betas = {beta1, beta2}, .eps = eps});
  std::vector<double> mine = p.to_vector<double>(), m(3, 0.0), v(3, 0.0);  // the moments start at 0

  for (int t = 1; t <= 5; ++t) {
    adam.zero_grad();
    (p * p * p).sum().backward();                         // g = 3 p^2
    adam.step();
    for (size_t j = 0; j < 3; ++j) {
      const double g = 3 * mine[j] * mine[j];
      m[j] = beta1 * m[j] + (1 - beta1) * g;              // first moment: a running mean of g
      v[j] = beta2 * v[j] + (1 - beta2) * g * g;          // second moment: a running mean of g^2
      const double m_hat = m[j] / (1 - std::pow(beta1, t));  // undo the pull toward the zero start
      const double v_hat = v[j] / (1 - std::pow(beta2, t));
      mine[j] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  check(tour::max_diff(p.detach(), Tensor::from_vector(mine, {3})) < 1e-12, "5 steps of optim::Adam = the formulas by hand");
  // [end by_hand]

  // [first_step]
  // Step 1: m_hat = g and v_hat = g^2, so the update is lr * g / (|g| + eps) = lr * sign(g).
  Tensor q = Tensor({0.5, -0.001, 1000.0}, kFloat64).requires_grad_();
  optim::Adam first({q}, {.lr = lr});
  (q * Tensor({2.0, -3.0, 0.01}, kFloat64)).sum().backward();  // g = (2, -3, 0.01): sizes 300x apart
  first.step();
  Tensor moved = Tensor({0.5, -0.001, 1000.0}, kFloat64) - q.detach();
  check(tour::max_diff(moved, Tensor({lr, -lr, lr}, kFloat64)) < 1e-6, "Adam's first step is lr * sign(g), whatever |g| is");
  // [end first_step]

  // [weight_decay]
  // With a zero loss gradient, only the weight decay moves p.
  auto first_move = [](double wd, bool decoupled) {
    Tensor w = Tensor({2.0}, kFloat64).requires_grad_();
    w.set_grad(Tensor({0.0}, kFloat64));
    if (decoupled) optim::AdamW({w}, {.lr = 0.1, .weight_decay = wd}).step();
    else optim::Adam({w}, {.lr = 0.1, .weight_decay = wd}).step();
    return 2.0 - w.item();
  };
  // Adam folds wd * p into g, and then normalizes g away: a 100x smaller wd moves p just as far.
  check(std::abs(first_move(1e-2, false) - first_move(1e-4, false)) < 1e-5, "Adam + L2: the decay step is lr, for wd = 1e-2 and 1e-4 alike");
  // AdamW shrinks p itself, outside the moments: p = p (1 - lr wd), proportional to wd.
  check(std::abs(first_move(1e-2, true) - 2.0 * 0.1 * 1e-2) < 1e-15, "AdamW: p = p (1 - lr wd), a decay proportional to wd");
  // [end weight_decay]

  // [state]
  StateDict state = adam.state_dict();
  check(state.contains("state.0.exp_avg") && state.contains("state.0.exp_avg_sq") &&
            state["state.0.step"].item() == 5,
        "state_dict(): m, v and the step count, under PyTorch's names");
  // [end state]
  return tour::failures();
}
