// Uses the installed package: a tiny gradient computation, checked by value.
#include <heed/heed.h>

#include <cmath>
#include <iostream>

int main() {
  using namespace heed;
  Tensor x = Tensor({1.0, 2.0, 3.0}).requires_grad_();
  Tensor y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  std::vector<float> g = x.grad().to_vector<float>();
  bool ok = y.item() == 14.0 && g == std::vector<float>{2, 4, 6};
  std::cout << (ok ? "consumer ok" : "consumer FAILED") << ": y = " << y.item() << "\n";
  return ok ? 0 : 1;
}
