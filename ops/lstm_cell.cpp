// The LSTM cell's gate math, fused: one step (lstm_gates, for LSTMCell) and a
// whole layer's T steps (lstm_layer, for LSTM). Both use the same two row
// kernels below, so the derivative is written once.
//
// Forward, per element j of a batch row (ops/lstm.h names the gates):
//   i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
//   c' = f c + i g,   k = tanh(c'),   h' = o k
//
// Backward. Two gradients reach a step from later: dh' (from the loss and, in a
// sequence, from the next step's h' W_hh^T) and dc'_next (from the next step's
// f c' term, or from the loss for the last step). c' feeds h' through k and
// feeds later steps directly, so its total gradient is
//   dc' = dc'_next + dh' o (1 - k^2)            (d tanh(u)/du = 1 - tanh(u)^2)
// and then, from c' = f c + i g and h' = o k:
//   do = dh' k       dz_o = do o (1 - o)         (d sigmoid(u)/du = s (1 - s))
//   di = dc' g       dz_i = di i (1 - i)
//   df = dc' c       dz_f = df f (1 - f)
//   dg = dc' i       dz_g = dg (1 - g^2)
//   dc = dc' f                                   (what flows on to the step before)
// Every factor is an activation, c or k, so the forward saves the activations
// (i, f, g, o, written over z), c, and k = tanh(c'), and the backward needs no
// exp or tanh at all.
#include "heed/ops/lstm.h"

#include <bit>
#include <cmath>
#include <cstdint>

#include "heed/autograd/node.h"
#include "heed/core/iterate.h"
#include "heed/ops/blas.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/map.h"
#include "heed/ops/reduce.h"

namespace heed {

namespace {

// Each element of the forward costs five exp-like functions, so a few thousand
// elements already outweigh starting OpenMP threads (about a microsecond).
constexpr int64_t kGateGrain = 4096;

// ---- sigmoid and tanh, fast in float -------------------------------------------
//
// The forward needs five of these per element. Through libm (one call per
// element, which the compiler cannot turn into SIMD code; glibc's tanhf is slower
// still) they took a quarter of a training step. Both reduce to expm1(x) = e^x - 1:
//   sigmoid(z) = 1 / (1 + e^-z)               = 1 / (2 + expm1(-z))
//   tanh(u)    = (e^2u - 1) / (e^2u + 1)      = expm1(2u) / (expm1(2u) + 2)
// (expm1 rather than exp keeps tanh accurate near 0, where e^2u - 1 would cancel.)
// expm1 is computed the textbook way, in plain arithmetic that the compiler
// vectorizes:
//   x = n ln2 + r,   n = round(x / ln2),   |r| <= ln2 / 2
//   e^x - 1 = 2^n (e^r - 1) + (2^n - 1)
//   e^r - 1 = r + r^2/2! + ... + r^7/7!      (the next term is < 2e-8 of the sum)
// Measured against double precision, the largest relative error of sigmoid and
// tanh is 2.2e-7, a few float ulps. float64 (gradchecks) uses libm instead.

// cond ? a : b, chosen with bit masks. A plain ?: on floats keeps GCC from
// vectorizing the loop (under the default -ftrapping-math); this is the same
// choice without a branch.
inline float pick(bool cond, float a, float b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(cond);  // all ones or all zeros
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) | (std::bit_cast<uint32_t>(b) & ~mask));
}

inline float expm1_fast(float x) {
  // Keep 2^n a normal float: n in [-126, 127]. e^88 is near float's largest value
  // and e^-87 is 1e-38 (so expm1 is -1). NaN fails both tests and stays NaN.
  x = pick(x < -87.0f, -87.0f, x);
  x = pick(x > 88.0f, 88.0f, x);
  // n = round(x / ln2): adding 1.5 * 2^23 pushes the fraction bits out of the
  // float, so it rounds to an integer, which then sits in the low bits.
  const float shifter = 12582912.0f;  // 1.5 * 2^23
  const float shifted = x * 1.44269504088896341f + shifter;
  const float n = shifted - shifter;
  const uint32_t n_bits = std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(shifter);
  // r = x - n ln2 with ln2 split in a head whose product with n is exact, and a
  // tail (Cody and Waite's trick): a plain n * ln2 would round away r's low bits.
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  const float er = r * (1 + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                       r * (1.0f / 720 + r * (1.0f / 5040)))))));  // e^r - 1
  const float two_n = std::bit_cast<float>((n_bits + 127u) << 23);  // 2^n, built in the exponent bits
  return two_n * er + (two_n - 1);
}

inline float sigmoid_of(float z) { return 1 / (2 + expm1_fast(-z)); }
inline float tanh_of(float u) {
  const float e = expm1_fast(2 * u);
  return e / (e + 2);
}
inline double sigmoid_of(double z) { return 1 / (1 + std::exp(-z)); }
inline double tanh_of(double u) { return std::tanh(u); }

// ---- the two row kernels -----------------------------------------------------

// One batch row forward.
//   z:      [4H]  in: pre-activations (i, f, g, o); out: the activations
//   c_prev: [H];  c, h, k: [H] out (c', h' and tanh(c'))
template <class T>
void gates_forward_row(T* z, const T* c_prev, T* c, T* h, T* k, int64_t H) {
  T* zi = z;
  T* zf = z + H;
  T* zg = z + 2 * H;
  T* zo = z + 3 * H;
  // Each j touches only element j of each block: the iterations are independent.
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T i = sigmoid_of(zi[j]), f = sigmoid_of(zf[j]), g = tanh_of(zg[j]), o = sigmoid_of(zo[j]);
    const T cj = f * c_prev[j] + i * g;
    const T kj = tanh_of(cj);
    zi[j] = i, zf[j] = f, zg[j] = g, zo[j] = o;
    c[j] = cj, h[j] = o * kj, k[j] = kj;
  }
}

// One batch row backward (the formulas at the top of this file).
//   a: [4H] activations;  c_prev, k: [H] saved by the forward
//   dh: [H] the whole gradient of h'
//   dc: [H] in: dc'_next; out: the gradient of c_prev
//   dz: [4H] out: the gradient of the pre-activations
template <class T>
void gates_backward_row(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz,
                        int64_t H) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j], kj = k[j];
    const T dhj = dh[j];
    const T dcj = dc[j] + dhj * o * (1 - kj * kj);
    dz[j] = dcj * g * i * (1 - i);
    dz[H + j] = dcj * c_prev[j] * f * (1 - f);
    dz[2 * H + j] = dcj * i * (1 - g * g);
    dz[3 * H + j] = dhj * kj * o * (1 - o);
    dc[j] = dcj * f;
  }
}

// One step for all B rows, forward. Pointers are to the step's [B, 4H] / [B, H] blocks.
template <class T>
void gates_forward(T* z, const T* c_prev, T* c, T* h, T* k, int64_t B, int64_t H) {
  // Row b reads and writes only row b of every block: threads never collide.
  parallel_for(B, B > 1 && B * H >= kGateGrain, [&](int64_t b) {
    gates_forward_row(z + b * 4 * H, c_prev + b * H, c + b * H, h + b * H, k + b * H, H);
  });
}

// One step for all B rows, backward.
template <class T>
void gates_backward(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz, int64_t B,
                    int64_t H) {
  // Row b writes only row b of dc and dz: race-free.
  parallel_for(B, B > 1 && B * H >= kGateGrain, [&](int64_t b) {
    gates_backward_row(a + b * 4 * H, c_prev + b * H, k + b * H, dh + b * H, dc + b * H,
                       dz + b * 4 * H, H);
  });
}

// ---- argument checks -------------------------------------------------------------

void check_dtypes(const char* op, const TensorList& ts) {
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    check_floating(op, t);
    check_same_dtype(op, ts[0], t);
  }
}

// A state (h or c) must be [B, H].
void check_state(const char* op, const char* name, const Tensor& s, int64_t B, int64_t H,
                 const char* rule) {
  if (s.shape() != Shape{B, H})
    throw ShapeError(msg(op, ": ", name, " is ", s.shape(), "; it must be [B, H] = [", B, ", ", H,
                         "] (", rule, ")"));
}

void check_layer_args(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                      const Tensor& b_hh, const Tensor& h0, const Tensor& c0) {
  const char* op = "lstm_layer";
  check_dtypes(op, {x, w_ih, w_hh, b_ih, b_hh, h0, c0});
  if (w_hh.dim() != 2 || w_hh.size(0) != 4 * w_hh.size(1))
    throw ShapeError(msg(op, ": w_hh is ", w_hh.shape(), "; it must be [4H, H]"));
  const int64_t H = w_hh.size(1);
  if (x.dim() != 3 || x.size(0) == 0)
    throw ShapeError(msg(op, ": x is ", x.shape(), "; it must be [T, B, in] with T > 0"));
  if (w_ih.shape() != Shape{4 * H, x.size(2)})
    throw ShapeError(msg(op, ": x is ", x.shape(), " and w_hh is ", w_hh.shape(), ", so w_ih must be [4H, in] = [",
                         4 * H, ", ", x.size(2), "], but it is ", w_ih.shape()));
  if (b_ih.defined() != b_hh.defined())
    throw ValueError(msg(op, ": pass both biases or neither"));
  for (const Tensor* b : {&b_ih, &b_hh})
    if (b->defined() && b->shape() != Shape{4 * H})
      throw ShapeError(msg(op, ": a bias is ", b->shape(), "; it must be [4H] = [", 4 * H, "]"));
  check_state(op, "h0", h0, x.size(1), H, "B from x, H from w_hh");
  check_state(op, "c0", c0, x.size(1), H, "B from x, H from w_hh");
}

// ---- the two time loops of lstm_layer --------------------------------------------

// Scratch of one layer's forward, in time order, saved for its backward. cs[0] is
// c0, so step t (counted from 1, as in the formulas) reads c_{t-1} at cs[t - 1]
// and writes c_t at cs[t].
struct LayerScratch {
  Tensor acts;  // [T, B, 4H]: the input side of z_t on entry to steps_forward, then the activations
  Tensor cs;    // [T+1, B, H]: c_0 .. c_T
  Tensor ks;    // [T, B, H]:   tanh(c_1) .. tanh(c_T)
};

// For t = 1 .. T: z_t += h_{t-1} W_hh^T, then the gate math. Writes h_1 .. h_T
// into out[0, T) (out: [T+1, B, H]).
void steps_forward(const Tensor& h0, const Tensor& w_hh, LayerScratch& s, Tensor& out) {
  const int64_t T = s.acts.size(0), B = s.acts.size(1), H = w_hh.size(1);
  const Tensor w_hh_t = w_hh.detach().t();  // [H, 4H], a view: a BLAS flag
  dispatch_floating(out.dtype(), [&](auto tag) {
    using E = decltype(tag);
    E* pa = s.acts.data_ptr<E>();
    E* pc = s.cs.data_ptr<E>();
    E* pk = s.ks.data_ptr<E>();
    E* ph = out.data_ptr<E>();
    for (int64_t t = 1; t <= T; ++t) {
      Tensor h_prev = t == 1 ? h0.detach() : out.select(0, t - 2);
      gemm(h_prev, w_hh_t, s.acts.select(0, t - 1), 1.0, 1.0);  // beta = 1: add to the input side
      gates_forward(pa + (t - 1) * B * 4 * H, pc + (t - 1) * B * H, pc + t * B * H,
                    ph + (t - 1) * B * H, pk + (t - 1) * B * H, B, H);
    }
  });
}

// For t = T .. 1: dh_t = dy_t + dz_{t+1} W_hh, then the row backward. Fills dz
// ([T, B, 4H]) and turns dc from dc_T into dc_0.
void steps_backward(const Tensor& dy, const Tensor& w_hh, const LayerScratch& s, Tensor& dz,
                    Tensor& dc) {
  const int64_t T = s.acts.size(0), B = s.acts.size(1), H = w_hh.size(1);
  Tensor dh = make_tensor({B, H}, dy.dtype(), false);  // dh_t, the whole gradient of h_t
  dispatch_floating(dy.dtype(), [&](auto tag) {
    using E = decltype(tag);
    const E* pa = s.acts.data_ptr<E>();
    const E* pc = s.cs.data_ptr<E>();
    const E* pk = s.ks.data_ptr<E>();
    E* pdz = dz.data_ptr<E>();
    E* pdc = dc.data_ptr<E>();
    for (int64_t t = T; t >= 1; --t) {
      // h_t went to the output (dy_t) and, through h_t W_hh^T, into z_{t+1}.
      // beta = 1 adds the product to the copy of dy_t.
      copy_elements(dh, dy.select(0, t - 1));
      if (t < T) gemm(dz.select(0, t), w_hh, dh, 1.0, 1.0);
      gates_backward(pa + (t - 1) * B * 4 * H, pc + (t - 1) * B * H, pk + (t - 1) * B * H,
                     dh.data_ptr<E>(), pdc, pdz + (t - 1) * B * 4 * H, B, H);
    }
  });
}

}  // namespace

// ==== one step ======================================================================

// [h', c'] = the gate math of (gates, c)
// dgates, dc = the row backward above, with dh' = dy[0] and dc'_next = dy[1]
// saves: the activations and tanh(c') (scratch buffers of this op), and c
Tensor lstm_gates(const Tensor& gates, const Tensor& c) {
  check_dtypes("lstm_gates", {gates, c});
  if (gates.dim() != 2 || gates.size(1) % 4 != 0)
    throw ShapeError(msg("lstm_gates: gates is ", gates.shape(),
                         "; it must be [B, 4H], the pre-activations of the gates i, f, g, o side by side"));
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  check_state("lstm_gates", "c", c, B, H, "B and 4H from gates");

  Tensor acts = gates.detach().clone();  // [B, 4H]: z, overwritten with the activations
  Tensor c_in = c.detach().contiguous();  // [B, H]
  Tensor k = make_tensor({B, H}, c.dtype(), /*zero_fill=*/false);     // tanh(c')
  Tensor out = make_tensor({2, B, H}, c.dtype(), /*zero_fill=*/false);  // [h', c']
  dispatch_floating(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data_ptr<T>();
    gates_forward(acts.data_ptr<T>(), c_in.data_ptr<T>(), o + B * H, o, k.data_ptr<T>(), B, H);
  });
  if (!needs_grad({gates, c})) return out;

  // acts and k are this op's own scratch tensors (nobody else can write to them,
  // and they have no grad_fn), so the closure may hold them directly; c is the
  // caller's, so it goes through SavedTensor's in-place-write check.
  SavedTensor saved_c(c);
  return record("lstm_gates", out, {gates, c}, [acts, k, saved_c, B, H](const Tensor& dy_in) -> TensorList {
    Tensor dy = dy_in.contiguous();  // [2, B, H]; a gradient may arrive as a broadcast view
    Tensor c_prev = saved_c.get("lstm_gates").contiguous();
    Tensor dgates = make_tensor({B, 4 * H}, dy.dtype(), /*zero_fill=*/false);
    Tensor dc = dy.select(0, 1).clone();  // in: dc'; the kernel turns it into dc
    dispatch_floating(dy.dtype(), [&](auto tag) {
      using T = decltype(tag);
      gates_backward(acts.data_ptr<T>(), c_prev.data_ptr<T>(), k.data_ptr<T>(), dy.data_ptr<T>(),
                     dc.data_ptr<T>(), dgates.data_ptr<T>(), B, H);
    });
    return {dgates, dc};
  });
}

// ==== a whole layer =====================================================================

// z_t = x_t W_ih^T + b_ih + b_hh + h_{t-1} W_hh^T;  h_t, c_t = the gate math of (z_t, c_{t-1})
// backward, for t = T .. 1:  dh_t = dy_t + dz_{t+1} W_hh;  dz_t, dc_{t-1} = the row backward(dh_t, dc_t);
//   then, with dz all T steps' [B, 4H] gradients stacked into [T B, 4H]:
//   dx = dz W_ih,  dW_ih = dz^T x,  db_ih = db_hh = dz summed over rows,
//   dW_hh = sum_t dz_t^T h_{t-1},  dh0 = dz_1 W_hh,  dc0 = dc_0
// saves: the activations, c_0..c_T and tanh(c_1..c_T) (scratch), x, W_ih, W_hh, h0,
//   and the output (which holds h_1..h_T)
Tensor lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                  const Tensor& b_hh, const Tensor& h0, const Tensor& c0) {
  check_layer_args(x, w_ih, w_hh, b_ih, b_hh, h0, c0);
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
  const DType dtype = x.dtype();
  LayerScratch s{make_tensor({T, B, 4 * H}, dtype, false), make_tensor({T + 1, B, H}, dtype, false),
                 make_tensor({T, B, H}, dtype, false)};
  Tensor out = make_tensor({T + 1, B, H}, dtype, false);  // h_1 .. h_T, then c_T

  // The input side of every step at once, one [T B, in] x [in, 4H] product, on
  // top of the biases (beta = 1). Only h_{t-1} W_hh^T has to wait for the step before.
  Tensor x2 = x.detach().reshape({T * B, I});  // a copy only if x is not contiguous
  Tensor acts2 = s.acts.view({T * B, 4 * H});
  if (b_ih.defined()) copy_elements(acts2, b_ih.detach() + b_hh.detach());  // [4H] to every row
  gemm(x2, w_ih.detach().t(), acts2, 1.0, b_ih.defined() ? 1.0 : 0.0);
  copy_elements(s.cs.select(0, 0), c0);
  steps_forward(h0, w_hh, s, out);
  copy_elements(out.select(0, T), s.cs.select(0, T));
  if (!needs_grad({x, w_ih, w_hh, b_ih, b_hh, h0, c0})) return out;

  struct Need {
    bool x, w_ih, w_hh, b, h0;
  } need{x.requires_grad(), w_ih.requires_grad(), w_hh.requires_grad(),
         b_ih.defined() && (b_ih.requires_grad() || b_hh.requires_grad()), h0.requires_grad()};
  // The scratch is this op's own (no one else can write to it), so the closure
  // holds it directly; the caller's tensors and the output go through SavedTensor.
  SavedTensor saved_x(x2), saved_w_ih(w_ih), saved_w_hh(w_hh), saved_h0(h0), saved_out(out);
  const Shape x_shape = x.shape();
  return record("lstm_layer", out, {x, w_ih, w_hh, b_ih, b_hh, h0, c0},
                [s, saved_x, saved_w_ih, saved_w_hh, saved_h0, saved_out, x_shape, need, T, B,
                 H](const Tensor& dy_in) -> TensorList {
    const char* op = "lstm_layer";
    Tensor dy = dy_in.contiguous();  // [T+1, B, H]: dh_1 .. dh_T from outside, then dc_T
    Tensor w_hh = saved_w_hh.get(op), w_ih = saved_w_ih.get(op);  // [4H, H], [4H, in]
    Tensor dz = make_tensor({T, B, 4 * H}, dy.dtype(), false);
    Tensor dc = dy.select(0, T).clone();  // dc_T, turned into dc_0
    steps_backward(dy, w_hh, s, dz, dc);

    // Everything else sums over all steps, so it is a few large products.
    Tensor dz2 = dz.view({T * B, 4 * H});
    Tensor dx, dw_ih, dw_hh, db, dh0;
    if (need.x) {
      dx = make_tensor({T * B, w_ih.size(1)}, dy.dtype(), false);
      gemm(dz2, w_ih, dx);
      dx = dx.view(x_shape);
    }
    if (need.w_ih) {
      dw_ih = make_tensor(w_ih.shape(), dy.dtype(), false);
      gemm(dz2.t(), saved_x.get(op), dw_ih);
    }
    if (need.w_hh) {
      // dW_hh = sum_t dz_t^T h_{t-1}. For t >= 2 the h_{t-1} are h_1 .. h_{T-1}, back
      // to back in the output, so those T-1 steps are one product with K = (T-1) B.
      dw_hh = make_tensor(w_hh.shape(), dy.dtype(), false);
      gemm(dz.select(0, 0).t(), saved_h0.get(op), dw_hh);
      if (T > 1)
        gemm(dz.slice(0, 1, T).reshape({(T - 1) * B, 4 * H}).t(),
             saved_out.get(op).slice(0, 0, T - 1).reshape({(T - 1) * B, H}), dw_hh, 1.0, 1.0);
    }
    if (need.b) db = sum(dz2, {0});  // b_ih and b_hh enter z alike: one gradient serves both
    if (need.h0) {                   // h0 fed z_1 through h0 W_hh^T
      dh0 = make_tensor({B, H}, dy.dtype(), false);
      gemm(dz.select(0, 0), w_hh, dh0);
    }
    return {dx, dw_ih, dw_hh, db, db, dh0, dc};
  });
}

}  // namespace heed
