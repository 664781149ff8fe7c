// The LSTM kernels as the formulas read (ops/lstm.cpp derives them), one loop
// per formula, on one thread.
#include <cmath>

#include "heed/ops/kernels/gemm.h"
#include "heed/ops/kernels/lstm.h"

namespace heed::kernels::reference {

namespace {

template <class T>
T sigmoid(T z) {
  return 1 / (1 + std::exp(-z));
}

// Row b of the gate math: z is the row's [4H] gate block, bias [4H] or null.
template <class T>
void gates_row(T* z, const T* bias, const T* c_prev, T* c, T* h, T* k, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    T zi = z[j], zf = z[H + j], zg = z[2 * H + j], zo = z[3 * H + j];
    if (bias) zi += bias[j], zf += bias[H + j], zg += bias[2 * H + j], zo += bias[3 * H + j];
    const T i = sigmoid(zi), f = sigmoid(zf), g = std::tanh(zg), o = sigmoid(zo);
    c[j] = f * c_prev[j] + i * g;  // c' = f c + i g
    k[j] = std::tanh(c[j]);        // k = tanh(c')
    h[j] = o * k[j];               // h' = o k
    z[j] = i, z[H + j] = f, z[2 * H + j] = g, z[3 * H + j] = o;
  }
}

// Row b of the gate backward (the formulas at the top of ops/lstm.cpp).
template <class T>
void gates_backward_row(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
    const T dc_total = dc[j] + dh[j] * o * (1 - k[j] * k[j]);  // dc' = dc'_next + dh' o (1 - k^2)
    dz[j] = dc_total * g * i * (1 - i);                       // dz_i = dc' g  i (1 - i)
    dz[H + j] = dc_total * c_prev[j] * f * (1 - f);           // dz_f = dc' c  f (1 - f)
    dz[2 * H + j] = dc_total * i * (1 - g * g);               // dz_g = dc' i  (1 - g^2)
    dz[3 * H + j] = dh[j] * k[j] * o * (1 - o);               // dz_o = dh' k  o (1 - o)
    dc[j] = dc_total * f;                                     // dc   = dc' f
  }
}

}  // namespace

template <class T>
void lstm_gates(T* z, const T* c_prev, T* c, T* h, T* k, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; ++b)
    gates_row(z + b * 4 * H, static_cast<const T*>(nullptr), c_prev + b * H, c + b * H, h + b * H, k + b * H, H);
}

template <class T>
void lstm_gates_backward(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; ++b)
    gates_backward_row(a + b * 4 * H, c_prev + b * H, k + b * H, dh + b * H, dc + b * H, dz + b * 4 * H, H);
}

template <class T>
void lstm_steps(T* z, const T* bias, const T* h0, const T* w_hh, T* cs, T* ks, T* hs, int64_t steps, int64_t B,
                int64_t H) {
  for (int64_t t = 1; t <= steps; ++t) {
    const T* h_prev = t == 1 ? h0 : hs + (t - 2) * B * H;  // [B, H]
    T* zt = z + (t - 1) * B * 4 * H;                         // [B, 4H]
    gemm(false, true, B, 4 * H, H, T(1), h_prev, H, w_hh, H, T(1), zt, 4 * H);  // z_t += h_{t-1} W_hh^T
    for (int64_t b = 0; b < B; ++b) {
      const int64_t r = (t - 1) * B * H + b * H;  // row b of step t in the [T, B, H] buffers
      gates_row(zt + b * 4 * H, bias, cs + r, cs + r + B * H, hs + r, ks + r, H);
    }
  }
}

template <class T>
void lstm_steps_backward(const T* acts, const T* cs, const T* ks, const T* dy, const T* w_hh, T* dz, T* dc, T* dh,
                         int64_t steps, int64_t B, int64_t H) {
  for (int64_t t = steps; t >= 1; --t) {
    // dh_t = dy_t + dz_{t+1} W_hh: h_t went to the output and into z_{t+1}.
    for (int64_t e = 0; e < B * H; ++e) dh[e] = dy[(t - 1) * B * H + e];
    if (t < steps) gemm(false, false, B, H, 4 * H, T(1), dz + t * B * 4 * H, 4 * H, w_hh, H, T(1), dh, H);
    const int64_t r = (t - 1) * B;  // step t's first row in the [T B, .] buffers
    lstm_gates_backward(acts + r * 4 * H, cs + r * H, ks + r * H, dh, dc, dz + r * 4 * H, B, H);
  }
}

HEED_LSTM_KERNELS_FOR(float)
HEED_LSTM_KERNELS_FOR(double)

}  // namespace heed::kernels::reference
