// A first training loop: fit y = 3x - 2 (plus noise) with one weight and a bias.
#include <heed/heed.h>

#include <iostream>

int main() {
  using namespace heed;
  manual_seed(0);
  Tensor x = Tensor::randn({64, 1});
  Tensor y = x * 3.0 - 2.0 + Tensor::randn({64, 1}) * 0.1;
  Tensor w = Tensor::zeros({1, 1}).requires_grad_();
  Tensor b = Tensor::zeros({1}).requires_grad_();
  for (int step = 0; step <= 100; ++step) {
    Tensor loss = (matmul(x, w) + b - y).pow(2).mean();
    w.zero_grad();
    b.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;
      w.add_(w.grad(), -0.1);
      b.add_(b.grad(), -0.1);
    }
    if (step % 20 == 0) std::cout << "step " << step << "  loss " << loss.item() << "\n";
  }
  std::cout << "w = " << w.item() << ", b = " << b.item() << "\n";
}
