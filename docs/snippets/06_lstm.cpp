// Chapter 6: the LSTM's hand-written backward through time (ops/lstm.cpp)
// against autograd's, on the same equations written with heed's small ops.
#include "check.h"

using namespace heed;
using tour::check;

// [reference]
// One step, the equations as written, each op recording its own backward.
//   x: [B, in], h, c: [B, H], w_ih: [4H, in], w_hh: [4H, H], biases: [4H]
nn::LSTMState reference_step(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih,
                             const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  const int64_t H = h.size(1);
  Tensor z = matmul(x, w_ih.t()) + b_ih + matmul(h, w_hh.t()) + b_hh;  // [B, 4H]: i, f, g, o
  Tensor i = sigmoid(z.slice(1, 0, H)), f = sigmoid(z.slice(1, H, 2 * H));
  Tensor g = tanh(z.slice(1, 2 * H, 3 * H)), o = sigmoid(z.slice(1, 3 * H, 4 * H));
  Tensor c_next = f * c + i * g;
  return {o * tanh(c_next), c_next};
}
// [end reference]

int main() {
  manual_seed(0);
  // [compare]
  const int64_t T = 6, B = 2, I = 3, H = 4;
  nn::LSTM lstm(I, H);
  lstm.to(kFloat64);
  Tensor x = Tensor::randn({T, B, I}, kFloat64).requires_grad_();
  Tensor dout = Tensor::randn({T, B, H}, kFloat64), dc = Tensor::randn({B, H}, kFloat64);  // dL/dh_t, dL/dc_T

  // The fused layer: one op, with the backward through time derived by hand.
  auto fused = lstm(x);
  ((fused.output * dout).sum() + (fused.c.select(0, 0) * dc).sum()).backward();
  std::vector<Tensor> fused_grads{x.grad(), lstm.weight_ih[0].grad(), lstm.weight_hh[0].grad(), lstm.bias_ih[0].grad()};

  // The same layer, step by step through small ops: autograd derives the backward.
  x.zero_grad();
  lstm.zero_grad();
  Tensor h = Tensor::zeros({B, H}, kFloat64), c = Tensor::zeros({B, H}, kFloat64);
  std::vector<Tensor> hs;
  for (int64_t t = 0; t < T; ++t) {
    auto [h_next, c_next] = reference_step(x.select(0, t), h, c, lstm.weight_ih[0], lstm.weight_hh[0],
                                           lstm.bias_ih[0], lstm.bias_hh[0]);
    h = h_next, c = c_next;
    hs.push_back(h);
  }
  ((stack(hs, 0) * dout).sum() + (c * dc).sum()).backward();

  check(tour::max_diff(fused.output, stack(hs, 0)) < 1e-12, "forward: the fused layer computes the equations");
  const char* what[] = {"dx", "dW_ih", "dW_hh", "db"};
  std::vector<Tensor> auto_grads{x.grad(), lstm.weight_ih[0].grad(), lstm.weight_hh[0].grad(), lstm.bias_ih[0].grad()};
  for (size_t k = 0; k < 4; ++k)
    check(tour::max_diff(fused_grads[k], auto_grads[k]) < 1e-12,
          std::string("backward through time: ") + what[k] + " by hand = " + what[k] + " by autograd");
  // [end compare]

  // [gradcheck]
  check(gradcheck([](const TensorList& in) { return lstm_gates(in[0], in[1]); },
                  {Tensor::randn({2, 4 * 3}, kFloat64), Tensor::randn({2, 3}, kFloat64)}),
        "gradcheck: one step of the gate math (lstm_gates)");
  // [end gradcheck]
  return tour::failures();
}
