// The LSTM's kernels: the gate math of one step, and the time loop of a layer.
// ops/lstm.cpp derives the formulas; these compute them.
//
// Dims: T steps, B batch rows, H hidden units. A row of gates is [4H]: the
// blocks i, f, g, o side by side (PyTorch's order), H apart.
//   i, f, o = sigmoid(z_i, z_f, z_o),  g = tanh(z_g)
//   c' = f c + i g,   k = tanh(c'),   h' = o k
// The forward overwrites the pre-activations z with the activations (i, f, g, o)
// and keeps k: every factor of the backward is then at hand, with no exp or tanh
// to recompute.
#pragma once

#include <cstdint>

#include "heed/ops/kernels/kernels.h"

namespace heed::kernels {

// The same four functions in each namespace, for T = float and T = double:
//
// lstm_gates: one step for B rows.
//   z [B, 4H] in: pre-activations (biases included), out: activations
//   c_prev [B, H];  c, h, k [B, H] out: c', h', tanh(c')
// lstm_gates_backward:
//   a [B, 4H] the activations;  c_prev, k [B, H] as saved;  dh [B, H] the gradient of h'
//   dc [B, H] in: the gradient of c' from later; out: the gradient of c_prev
//   dz [B, 4H] out: the gradient of the pre-activations
// lstm_steps: a layer's T steps, z_t += h_{t-1} W_hh^T + bias, then the gate math.
//   z [T, B, 4H] in: x_t W_ih^T for every t; out: the activations
//   bias [4H] (b_ih + b_hh) or null;  h0 [B, H];  w_hh [4H, H]
//   cs [T+1, B, H]: in, cs[0] = c_0; out, c_1 .. c_T;  ks [T, B, H] out: tanh(c_t)
//   hs [T, B, H] out: h_1 .. h_T
// lstm_steps_backward: for t = T .. 1, dh_t = dy_t + dz_{t+1} W_hh, then the gate backward.
//   acts, cs, ks as the forward left them;  dy [T, B, H] the gradient of h_1 .. h_T from outside
//   w_hh [4H, H];  dz [T, B, 4H] out;  dc [B, H] in: dc_T, out: dc_0;  dh [B, H] scratch

// The formulas, loop by loop, with libm's exp and tanh; one product per step.
namespace reference {
template <class T>
void lstm_gates(T* z, const T* c_prev, T* c, T* h, T* k, int64_t B, int64_t H);
template <class T>
void lstm_gates_backward(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz, int64_t B, int64_t H);
template <class T>
void lstm_steps(T* z, const T* bias, const T* h0, const T* w_hh, T* cs, T* ks, T* hs, int64_t steps, int64_t B,
                int64_t H);
template <class T>
void lstm_steps_backward(const T* acts, const T* cs, const T* ks, const T* dy, const T* w_hh, T* dz, T* dc, T* dh,
                         int64_t steps, int64_t B, int64_t H);
}  // namespace reference

// The gate math in vector lanes with a fast exp, compiled for three CPUs; the
// time loop on one OpenMP team that shares every step by hidden unit, its
// products by W_hh packed once per sequence (ops/kernels/fast/lstm.cpp,
// panel_gemm.h).
namespace fast {
template <class T>
void lstm_gates(T* z, const T* c_prev, T* c, T* h, T* k, int64_t B, int64_t H);
template <class T>
void lstm_gates_backward(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz, int64_t B, int64_t H);
template <class T>
void lstm_steps(T* z, const T* bias, const T* h0, const T* w_hh, T* cs, T* ks, T* hs, int64_t steps, int64_t B,
                int64_t H);
template <class T>
void lstm_steps_backward(const T* acts, const T* cs, const T* ks, const T* dy, const T* w_hh, T* dz, T* dc, T* dh,
                         int64_t steps, int64_t B, int64_t H);
}  // namespace fast

// Each version's .cpp ends with HEED_LSTM_KERNELS_FOR(float) and (double): the
// one list of what it compiles, for both versions.
#define HEED_LSTM_KERNELS_FOR(T) \
  template void lstm_gates(T*, const T*, T*, T*, T*, int64_t, int64_t);                                        \
  template void lstm_gates_backward(const T*, const T*, const T*, const T*, T*, T*, int64_t, int64_t);          \
  template void lstm_steps(T*, const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t);            \
  template void lstm_steps_backward(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t,      \
                                    int64_t, int64_t);

}  // namespace heed::kernels
