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

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "heed/autograd/node.h"
#include "heed/core/iterate.h"
#include "heed/ops/blas.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/fast_math.h"
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
// still) they took a quarter of a training step. Both reduce to expm1(x) = e^x - 1,
// which ops/fast_math.h computes in plain arithmetic that the compiler vectorizes:
//   sigmoid(z) = 1 / (1 + e^-z)               = 1 / (2 + expm1(-z))
//   tanh(u)    = (e^2u - 1) / (e^2u + 1)      = expm1(2u) / (expm1(2u) + 2)
// (expm1 rather than exp keeps tanh accurate near 0, where e^2u - 1 would cancel.)
// Measured against double precision, the largest relative error of sigmoid and
// tanh is 2.2e-7, a few float ulps. float64 (gradchecks) uses libm instead.

[[gnu::always_inline]] inline float sigmoid_of(float z) { return 1 / (2 + expm1_fast(-z)); }
[[gnu::always_inline]] inline float tanh_of(float u) {
  const float e = expm1_fast(2 * u);
  return e / (e + 2);
}
inline double sigmoid_of(double z) { return 1 / (1 + std::exp(-z)); }
inline double tanh_of(double u) { return std::tanh(u); }

// ---- the two row kernels -----------------------------------------------------

// One batch row forward, for the n hidden units starting at z (a whole row when
// n == H; a thread's block of units in lstm_layer, ops/lstm.h).
//   z:      the row's [4H] gate block at the first unit: in, pre-activations
//           (i, f, g, o, H apart); out, the activations
//   bias:   with kBias, the [4H] bias at the same unit, added to z first
//   c_prev: [n];  c, h, k: [n] out (c', h' and tanh(c'))
template <bool kBias, class T>
[[gnu::always_inline]] inline void gates_forward_row(T* z, const T* bias, const T* c_prev, T* c, T* h, T* k,
                                                     int64_t n, int64_t H) {
  T* zi = z;
  T* zf = z + H;
  T* zg = z + 2 * H;
  T* zo = z + 3 * H;
  // Each j touches only element j of each block: the iterations are independent.
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    T a_i = zi[j], a_f = zf[j], a_g = zg[j], a_o = zo[j];
    if constexpr (kBias) a_i += bias[j], a_f += bias[H + j], a_g += bias[2 * H + j], a_o += bias[3 * H + j];
    const T i = sigmoid_of(a_i), f = sigmoid_of(a_f), g = tanh_of(a_g), o = sigmoid_of(a_o);
    const T cj = f * c_prev[j] + i * g;
    const T kj = tanh_of(cj);
    zi[j] = i, zf[j] = f, zg[j] = g, zo[j] = o;
    c[j] = cj, h[j] = o * kj, k[j] = kj;
  }
}

// One batch row backward (the formulas at the top of this file), for n units
// as in the forward.
//   a: the row's [4H] activations at the first unit;  c_prev, k: [n] saved by the forward
//   dh: [n] the whole gradient of h'
//   dc: [n] in: dc'_next; out: the gradient of c_prev
//   dz: the row's [4H] gradient of the pre-activations at the first unit, out
template <class T>
[[gnu::always_inline]] inline void gates_backward_row(const T* a, const T* c_prev, const T* k, const T* dh, T* dc,
                                                      T* dz, int64_t n, int64_t H) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
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

// ---- the row kernels over a block of rows, compiled for three CPUs ------------
//
// The gate math is the one part of an LSTM that is neither a BLAS product nor
// memory-bound: five exp-like functions per element, ~200 arithmetic
// instructions. Compiled for the baseline x86-64 (SSE2, 4 floats per
// instruction) it took 36 us per step of W3 (B 32, H 256) on each of two
// threads, a tenth of the training step; AVX2 does 8 floats per instruction and
// AVX-512 16 (8 us per step). So these entry points are compiled three times (GCC's
// target_clones) and the loader picks the one the CPU runs; always_inline above
// puts a copy of the row kernels in each. heed builds with -ffp-contract=off, so
// all three compute the same numbers.
//
// A block is `rows` rows of n units; consecutive rows are 4H apart in z, a and dz
// and H apart in the [B, H] buffers (c, h, k, dh, dc).

template <class T>
[[gnu::always_inline]] inline void forward_rows(T* z, const T* bias, const T* c_prev, T* c, T* h, T* k,
                                                int64_t rows, int64_t n, int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t r = b * H;
    if (bias) gates_forward_row<true>(z + b * 4 * H, bias, c_prev + r, c + r, h + r, k + r, n, H);
    else gates_forward_row<false>(z + b * 4 * H, bias, c_prev + r, c + r, h + r, k + r, n, H);
  }
}

template <class T>
[[gnu::always_inline]] inline void backward_rows(const T* a, const T* c_prev, const T* k, const T* dh, T* dc,
                                                 T* dz, int64_t rows, int64_t n, int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t r = b * H;
    gates_backward_row(a + b * 4 * H, c_prev + r, k + r, dh + r, dc + r, dz + b * 4 * H, n, H);
  }
}

}  // namespace

// (Outside the anonymous namespace: GCC makes target clones of external functions only.)
namespace detail {

[[gnu::target_clones("avx512f", "avx2", "default")]]
void lstm_forward_rows(float* z, const float* bias, const float* c_prev, float* c, float* h, float* k,
                       int64_t rows, int64_t n, int64_t H) {
  forward_rows(z, bias, c_prev, c, h, k, rows, n, H);
}
void lstm_forward_rows(double* z, const double* bias, const double* c_prev, double* c, double* h, double* k,
                       int64_t rows, int64_t n, int64_t H) {
  forward_rows(z, bias, c_prev, c, h, k, rows, n, H);
}

[[gnu::target_clones("avx512f", "avx2", "default")]]
void lstm_backward_rows(const float* a, const float* c_prev, const float* k, const float* dh, float* dc, float* dz,
                        int64_t rows, int64_t n, int64_t H) {
  backward_rows(a, c_prev, k, dh, dc, dz, rows, n, H);
}
void lstm_backward_rows(const double* a, const double* c_prev, const double* k, const double* dh, double* dc,
                        double* dz, int64_t rows, int64_t n, int64_t H) {
  backward_rows(a, c_prev, k, dh, dc, dz, rows, n, H);
}

}  // namespace detail

namespace {

using detail::lstm_backward_rows;
using detail::lstm_forward_rows;

// One step for all B rows, forward (lstm_gates: the biases are already in z).
template <class T>
void gates_forward(T* z, const T* c_prev, T* c, T* h, T* k, int64_t B, int64_t H) {
  // Row b reads and writes only row b of every block: threads never collide.
  parallel_for(B, B > 1 && B * H >= kGateGrain, [&](int64_t b) {
    lstm_forward_rows(z + b * 4 * H, static_cast<const T*>(nullptr), c_prev + b * H, c + b * H, h + b * H,
                      k + b * H, 1, H, H);
  });
}

// One step for all B rows, backward.
template <class T>
void gates_backward(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz, int64_t B,
                    int64_t H) {
  // Row b writes only row b of dc and dz: race-free.
  parallel_for(B, B > 1 && B * H >= kGateGrain, [&](int64_t b) {
    lstm_backward_rows(a + b * 4 * H, c_prev + b * H, k + b * H, dh + b * H, dc + b * H, dz + b * 4 * H, 1, H, H);
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
//
// Step t needs all of h_{t-1}, so the steps run one after another; what threads
// can share is the work inside a step. It is split by hidden unit: thread p owns
// the units [u0, u1) and, at every step, computes its columns of h_{t-1} W_hh^T
// (the [u0, u1) columns of each of the four gate blocks), then the gate math of
// its units for all B rows. It reads only what it wrote itself, except h_{t-1},
// which every thread reads: one barrier per step, and one OpenMP team for all T
// steps, each thread keeping its own rows of W_hh in its core's cache.
//
// The simple alternative, BLAS threading each step's small product and
// parallel_for the gate math, starts two thread teams per step and makes each
// thread wait at the end of both. On an idle machine that costs little (W3,
// B 32 H 256 T 50: 19.4 ms a training step against 19.0 ms), but every wait is a
// chance to lose the CPU: with one other busy process on the two cores, W3 took
// 88-96 ms that way and 40 ms this way.

// A step's product is B x H x 4H multiply-adds. Sharing it pays once each
// thread's part is well above the barrier that ends a step (about a microsecond):
// 2^18 multiply-adds take ~5 us on one core.
constexpr int64_t kStepGrain = int64_t{1} << 18;
// A thread owns whole blocks of 16 units: whole cache lines of every row, whole SIMD vectors.
constexpr int64_t kUnitBlock = 16;

int team_size(int64_t B, int64_t H) {
  if (B * 4 * H * H < kStepGrain) return 1;
  return static_cast<int>(std::clamp<int64_t>(omp_get_max_threads(), 1, H / kUnitBlock));
}

// The units [first, last) of thread p of P: H in blocks of kUnitBlock, shared out
// as evenly as whole blocks allow.
std::pair<int64_t, int64_t> units_of(int p, int P, int64_t H) {
  const int64_t blocks = (H + kUnitBlock - 1) / kUnitBlock;
  auto edge = [&](int64_t q) { return std::min(H, blocks * q / P * kUnitBlock); };
  return {edge(p), edge(p + 1)};
}

// body(p, P) on every thread p of a team of P (threads <= 1: on this thread, no
// team). The team can be smaller than asked for (inside another parallel region
// it is 1), so body must split the work by the P it is given. body must not throw.
template <class F>
void run_team(int threads, F&& body) {
  if (threads <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}

// The end of a step: every thread's part of it is written before any thread reads it.
inline void step_barrier(int P) {
  if (P > 1) {
#pragma omp barrier
  }
}

// Scratch of one layer's forward, in time order, saved for its backward. cs[0] is
// c0, so step t (counted from 1, as in the formulas) reads c_{t-1} at cs[t - 1]
// and writes c_t at cs[t].
struct LayerScratch {
  Tensor acts;  // [T, B, 4H]: the input side of z_t on entry to steps_forward, then the activations
  Tensor cs;    // [T+1, B, H]: c_0 .. c_T
  Tensor ks;    // [T, B, H]:   tanh(c_1) .. tanh(c_T)
};

// For t = 1 .. T: z_t += h_{t-1} W_hh^T and the biases, then the gate math.
// Writes h_1 .. h_T into out[0, T) (out: [T+1, B, H]).
//   h0: [B, H], w_hh: [4H, H], bias: [4H] (b_ih + b_hh) or undefined; all contiguous
void steps_forward(const Tensor& h0, const Tensor& w_hh, const Tensor& bias, LayerScratch& s, Tensor& out) {
  const int64_t T = s.acts.size(0), B = s.acts.size(1), H = w_hh.size(1);
  dispatch_floating(out.dtype(), [&](auto tag) {
    using E = decltype(tag);
    E* pa = s.acts.data_ptr<E>();
    E* pc = s.cs.data_ptr<E>();
    E* pk = s.ks.data_ptr<E>();
    E* ph = out.data_ptr<E>();
    const E* pw = w_hh.data_ptr<E>();
    const E* pb = bias.defined() ? bias.data_ptr<E>() : nullptr;
    const E* ph0 = h0.data_ptr<E>();
    run_team(team_size(B, H), [&](int p, int P) {
      const auto [u0, u1] = units_of(p, P, H);
      const int64_t n = u1 - u0;
      for (int64_t t = 1; t <= T; ++t) {
        const E* h_prev = t == 1 ? ph0 : ph + (t - 2) * B * H;  // [B, H]
        E* z = pa + (t - 1) * B * 4 * H;                                     // [B, 4H]
        // This thread's columns of h_{t-1} W_hh^T: rows [u0, u1) of each gate block
        // of W_hh (all four at once when it owns every unit). beta = 1 adds them to
        // the input side already in z.
        if (n == H)
          gemm_raw(false, true, B, 4 * H, H, E(1), h_prev, H, pw, H, E(1), z, 4 * H);
        else
          for (int64_t g = 0; g < 4; ++g)
            gemm_raw(false, true, B, n, H, E(1), h_prev, H, pw + (g * H + u0) * H, H, E(1), z + g * H + u0, 4 * H);
        const int64_t at = (t - 1) * B * H + u0;  // unit u0 of row 0 of c_{t-1}, h_t and k_t
        lstm_forward_rows(z + u0, pb ? pb + u0 : pb, pc + at, pc + at + B * H, ph + at, pk + at, B, n, H);
        step_barrier(P);  // h_t is whole before step t+1 reads it
      }
    });
  });
}

// For t = T .. 1: dh_t = dy_t + dz_{t+1} W_hh, then the row backward. Fills dz
// ([T, B, 4H]) and turns dc from dc_T into dc_0. Threads share a step by unit as
// in the forward: thread p computes columns [u0, u1) of dh_t, which is all the row
// backward of its units needs, and writes those units' columns of dz_t, which
// every thread reads at the next step.
//   dy: [T+1, B, H], w_hh: [4H, H], both contiguous
void steps_backward(const Tensor& dy, const Tensor& w_hh, const LayerScratch& s, Tensor& dz, Tensor& dc) {
  const int64_t T = s.acts.size(0), B = s.acts.size(1), H = w_hh.size(1);
  Tensor dh = make_tensor({B, H}, dy.dtype(), false);  // dh_t, the whole gradient of h_t
  dispatch_floating(dy.dtype(), [&](auto tag) {
    using E = decltype(tag);
    const E* pa = s.acts.data_ptr<E>();
    const E* pc = s.cs.data_ptr<E>();
    const E* pk = s.ks.data_ptr<E>();
    const E* pdy = dy.data_ptr<E>();
    const E* pw = w_hh.data_ptr<E>();
    E* pdz = dz.data_ptr<E>();
    E* pdc = dc.data_ptr<E>();
    E* pdh = dh.data_ptr<E>();
    // With T = 1 (an LSTMCell step) there is no product to share, only the gate math.
    run_team(T > 1 ? team_size(B, H) : 1, [&](int p, int P) {
      const auto [u0, u1] = units_of(p, P, H);
      const int64_t n = u1 - u0;
      for (int64_t t = T; t >= 1; --t) {
        // h_t went to the output (dy_t) and, through h_t W_hh^T, into z_{t+1}:
        // columns [u0, u1) of dz_{t+1} W_hh, added (beta = 1) to a copy of dy_t.
        for (int64_t b = 0; b < B; ++b) std::copy_n(pdy + (t - 1) * B * H + b * H + u0, n, pdh + b * H + u0);
        if (t < T) gemm_raw(false, false, B, n, 4 * H, E(1), pdz + t * B * 4 * H, 4 * H, pw + u0, H, E(1), pdh + u0, H);
        const int64_t r = (t - 1) * B;  // step t's first row in the [T B, .] buffers
        lstm_backward_rows(pa + r * 4 * H + u0, pc + r * H + u0, pk + r * H + u0, pdh + u0, pdc + u0,
                           pdz + r * 4 * H + u0, B, n, H);
        step_barrier(P);  // dz_t is whole before step t-1 reads it
      }
    });
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

  // The input side of every step at once, one [T B, in] x [in, 4H] product. Only
  // h_{t-1} W_hh^T has to wait for the step before. (This gemm also checks that
  // T B and 4H fit BLAS's int, so the time loops' products need not.) The biases
  // are added by the gate kernel, which reads every z anyway.
  Tensor x2 = x.detach().reshape({T * B, I});  // a copy only if x is not contiguous
  gemm(x2, w_ih.detach().t(), s.acts.view({T * B, 4 * H}));
  Tensor bias = b_ih.defined() ? (b_ih.detach() + b_hh.detach()).contiguous() : Tensor();  // [4H]
  copy_elements(s.cs.select(0, 0), c0);
  steps_forward(h0.detach().contiguous(), w_hh.detach().contiguous(), bias, s, out);
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
    steps_backward(dy, w_hh.contiguous(), s, dz, dc);

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
