// The LSTM's gate math as fused ops, each with a hand-written backward
// (ops/lstm.cpp). nn/lstm.h builds LSTM on lstm_layer, and LSTMCell too
// (one step is a layer over a sequence of length 1).
//
// Dims: T time steps, B batch, H hidden size. The four gates sit side by side
// in PyTorch's order i, f, g, o, so a row of gate pre-activations is [4H]:
//
//   i = sigmoid(z_i)   input gate: how much of the candidate to write
//   f = sigmoid(z_f)   forget gate: how much of the old cell to keep
//   g = tanh(z_g)      the candidate value
//   o = sigmoid(z_o)   output gate: how much of the cell to show
//   c' = f c + i g,    h' = o tanh(c')
//
// Written as ~15 small ops this would allocate ~15 tensors per step and walk as
// many graph nodes back; fused, it is one loop forward and one loop back.
#pragma once

#include "heed/core/tensor.h"

namespace heed {

// One step of the gate math.
//   gates: [B, 4H] pre-activations z (i, f, g, o),  c: [B, H]  ->  [2, B, H]
// holding h' at [0] and c' at [1]. They are packed into one tensor because a
// graph node has one output; take them apart with select(0, 0) and select(0, 1).
Tensor lstm_gates(const Tensor& gates, const Tensor& c);

// A whole LSTM layer over T steps, as one op (the way cuDNN does it):
//   z_t = x_t W_ih^T + b_ih + b_hh + h_{t-1} W_hh^T,   (h_t, c_t) = the gate math above
//   x: [T, B, in] (T > 0),  w_ih: [4H, in],  w_hh: [4H, H],  b_ih, b_hh: [4H] (both
//   or neither: undefined for a layer without bias),  h0, c0: [B, H]
//   -> [T+1, B, H]: [0, T) are h_1 .. h_T (the layer's output), [T] is c_T.
// The input side of all T steps is one matrix product, done before the loop;
// only h_{t-1} W_hh^T has to be a product per step, and threads share each step
// by hidden unit. The backward runs the steps in reverse, collecting every step's
// gate gradient, so that dW_ih, dW_hh and dx are again single large products
// instead of T small ones.
Tensor lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                  const Tensor& b_hh, const Tensor& h0, const Tensor& c0);

}  // namespace heed
