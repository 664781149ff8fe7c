// The LSTM kernels, fast: the gate math in vector lanes with a fast exp, compiled
// for three CPUs, and a layer's time loop on one OpenMP team. The formulas are
// in ops/lstm.cpp; reference/lstm.cpp computes the same in plain loops.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "heed/core/parallel.h"
#include "heed/ops/kernels/fast/fast_math.h"
#include "heed/ops/kernels/fast/panel_gemm.h"
#include "heed/ops/kernels/fast/target_clones.h"
#include "heed/ops/kernels/gemm.h"
#include "heed/ops/kernels/lstm.h"

namespace heed::kernels::fast {

namespace {

// ---- sigmoid and tanh, fast in float -------------------------------------------
//
// The forward needs five of these per element. Through libm each is a function
// call per element, which the compiler cannot turn into vector code (and glibc's
// tanhf is slower still); in a training step they cost a sizable share of the
// time. fast_math.h computes both from its expm1 in plain arithmetic that the
// compiler vectorizes. float64 (gradchecks) uses libm.
[[gnu::always_inline]] inline float sigmoid_of(float z) { return sigmoid_fast(z); }
[[gnu::always_inline]] inline float tanh_of(float u) { return tanh_fast(u); }
inline double sigmoid_of(double z) { return 1 / (1 + std::exp(-z)); }
inline double tanh_of(double u) { return std::tanh(u); }

// ---- the two row kernels -----------------------------------------------------
//
// One batch row, for the n hidden units starting at z (a whole row when n == H;
// a thread's block of units in the time loop). The gate blocks are H apart.

// z: the row's gate block at the first unit; in, pre-activations; out, the
// activations. bias: with kBias, the [4H] bias at the same unit, added first.
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

// a: the row's activations at the first unit; dz: the row's gate gradient there.
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

// A block of `rows` rows of n units; rows are 4H apart in z, a and dz and H apart
// in the [B, H] buffers.
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

// ---- the row blocks, compiled for three CPUs --------------------------------------
//
// The gate math is neither a product nor bound by memory: five exp-like functions
// per element, some two hundred arithmetic instructions. Baseline x86-64 (SSE2)
// does 4 floats per instruction, AVX2 8 and AVX-512 16, so the float entry points
// are compiled three times (GCC's target_clones, of external functions only,
// hence outside the anonymous namespace) and the loader picks the one the CPU
// runs; always_inline above puts a copy of the row kernels in each. This file
// is compiled with -ffp-contract=fast (CMakeLists.txt): the copies for CPUs with
// FMA (AVX-512, and x86-64-v3, AVX2's level) fuse the multiply-adds of the
// exp-like functions, which are most of the work; the baseline copy cannot, so
// its last bits can differ from theirs (docs/10-fast.md).
namespace detail {

HEED_TARGET_CLONES("avx512f", "arch=x86-64-v3", "default")
void lstm_forward_rows(float* z, const float* bias, const float* c_prev, float* c, float* h, float* k,
                       int64_t rows, int64_t n, int64_t H) {
  forward_rows(z, bias, c_prev, c, h, k, rows, n, H);
}
void lstm_forward_rows(double* z, const double* bias, const double* c_prev, double* c, double* h, double* k,
                       int64_t rows, int64_t n, int64_t H) {
  forward_rows(z, bias, c_prev, c, h, k, rows, n, H);
}

HEED_TARGET_CLONES("avx512f", "arch=x86-64-v3", "default")
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

// Each element of the forward costs five exp-like functions, so a few thousand
// elements already outweigh starting OpenMP threads (about a microsecond).
constexpr int64_t kGateGrain = 4096;

// ---- the time loop ------------------------------------------------------------------
//
// Step t needs all of h_{t-1}, so the steps run one after another; what threads
// can share is the work inside a step. It is split by hidden unit: thread p owns
// the units [u0, u1) and, at every step, computes its columns of h_{t-1} W_hh^T
// (the [u0, u1) columns of each of the four gate blocks), then the gate math of
// its units for all B rows. It reads only what it wrote itself, except h_{t-1},
// which every thread reads: one barrier per step, and one OpenMP team for all T
// steps.
//
// The products go through panel_gemm (panel_gemm.h): W_hh is the same at every
// step, so each thread packs its own units' rows of W_hh once, before the first
// step, and they stay in its core's cache from step to step. panel_gemm computes
// each element of z as one sum in a fixed order whatever the columns a call
// covers, so the units can follow the thread count and the bits still do not
// (tests/test_determinism.cpp).
//
// The simple alternative, the product threaded by gemm and then the gate math by
// parallel_for, starts two thread teams per step and makes each thread wait at
// the end of both. Every wait is a chance to lose the CPU to another process,
// and a lost CPU stalls the whole step (bench/RESULTS.md, note 5).

// A step's product is B x H x 4H multiply-adds. Sharing it pays once each
// thread's part is well above the barrier that ends a step (about a microsecond):
// 2^18 multiply-adds take a few microseconds on one core.
constexpr int64_t kStepGrain = int64_t{1} << 18;

int team_size(int64_t B, int64_t H) {
  if (B * 4 * H * H < kStepGrain) return 1;
  return static_cast<int>(std::clamp<int64_t>(omp_get_max_threads(), 1, panel_count(H)));
}

// Thread p of P: its units [u0, u1), whole panels (the last one may be short),
// shared out as evenly as whole panels allow.
std::pair<int64_t, int64_t> units_of(int p, int P, int64_t H) {
  const int64_t panels = panel_count(H);
  return {std::min(H, panels * p / P * kPanel), std::min(H, panels * (p + 1) / P * kPanel)};
}

// body(p, P) on every thread p of a team of P (threads <= 1: on this thread, no
// team). The team can be smaller than asked for (inside another parallel region
// it is 1), so body must split the work by the P it is given.
template <class F>
void run_team(int threads, F&& body) {
  if (threads <= 1) {
    body(0, 1);
    return;
  }
  const profiler::RegionContext context = profiler::region_context();  // for the trace, when profiling
#pragma omp parallel num_threads(threads)
  {
    profiler::RegionScope region(context);
    body(omp_get_thread_num(), omp_get_num_threads());
  }
}

// The end of a step: every thread's part of it is written before any thread reads it.
inline void step_barrier(int P) {
  if (P > 1) {
#pragma omp barrier
  }
}

}  // namespace

namespace {

// One step's gate math for B rows (bias null: none), rows shared between the threads.
template <class T>
void gates_by_row(T* z, const T* bias, const T* c_prev, T* c, T* h, T* k, int64_t B, int64_t H) {
  // Row b reads and writes only row b of every block: threads never collide.
  parallel_for(B, B > 1 && B * H >= kGateGrain, [&](int64_t b) {
    lstm_forward_rows(z + b * 4 * H, bias, c_prev + b * H, c + b * H, h + b * H, k + b * H, 1, H, H);
  });
}

}  // namespace

template <class T>
void lstm_gates(T* z, const T* c_prev, T* c, T* h, T* k, int64_t B, int64_t H) {
  gates_by_row(z, static_cast<const T*>(nullptr), c_prev, c, h, k, B, H);
}

template <class T>
void lstm_gates_backward(const T* a, const T* c_prev, const T* k, const T* dh, T* dc, T* dz, int64_t B, int64_t H) {
  // Row b writes only row b of dc and dz: race-free.
  parallel_for(B, B > 1 && B * H >= kGateGrain, [&](int64_t b) {
    lstm_backward_rows(a + b * 4 * H, c_prev + b * H, k + b * H, dh + b * H, dc + b * H, dz + b * 4 * H, 1, H, H);
  });
}

template <class T>
void lstm_steps(T* z, const T* bias, const T* h0, const T* w_hh, T* cs, T* ks, T* hs, int64_t steps, int64_t B,
                int64_t H) {
  // One step (an LSTMCell's) has nothing to pack W_hh for: packing it costs
  // about as much as the one product that would use it. gemm makes that product
  // (its bits, too, are the same on any number of threads: gemm.h), then the
  // gate math runs row by row, as in lstm_gates.
  if (steps == 1) {
    gemm(false, true, B, 4 * H, H, T(1), h0, H, w_hh, H, T(1), z, 4 * H);
    gates_by_row(z, bias, cs, cs + B * H, hs, ks, B, H);
    return;
  }
  // W_hh^T [H, 4H] packed gate block by gate block: block g, the columns
  // [gH, (g+1)H), at g * per_gate; a unit u0 at a panel's start at u0 H in it.
  const int64_t per_gate = packed_size(H, H);
  const auto panels = std::make_unique_for_overwrite<T[]>(4 * per_gate);
  run_team(team_size(B, H), [&](int p, int P) {
    const auto [u0, u1] = units_of(p, P, H);
    const int64_t n = u1 - u0;
    for (int64_t g = 0; g < 4; ++g)  // this thread's units, the only ones it reads
      pack_panels(true, H, n, w_hh + (g * H + u0) * H, H, panels.get() + g * per_gate + u0 * H);
    for (int64_t t = 1; t <= steps; ++t) {
      const T* h_prev = t == 1 ? h0 : hs + (t - 2) * B * H;  // [B, H]
      T* zt = z + (t - 1) * B * 4 * H;                         // [B, 4H]
      // This thread's columns of h_{t-1} W_hh^T, gate by gate, added to the
      // input side already in z.
      for (int64_t g = 0; g < 4; ++g)
        panel_gemm(false, B, n, H, h_prev, H, packed(panels.get() + g * per_gate + u0 * H, H), zt + g * H + u0, 4 * H);
      const int64_t at = (t - 1) * B * H + u0;  // unit u0 of row 0 of c_{t-1}, h_t and k_t
      lstm_forward_rows(zt + u0, bias ? bias + u0 : bias, cs + at, cs + at + B * H, hs + at, ks + at, B, n, H);
      step_barrier(P);  // h_t is whole before step t+1 reads it
    }
  });
}

// Threads share a step by units as in the forward: thread p computes columns
// [u0, u1) of dh_t, which is all the row backward of its units needs, and writes
// those units' columns of dz_t, which every thread reads at the next step.
template <class T>
void lstm_steps_backward(const T* acts, const T* cs, const T* ks, const T* dy, const T* w_hh, T* dz, T* dc, T* dh,
                         int64_t steps, int64_t B, int64_t H) {
  // With one step (an LSTMCell) there is no product to share, only the gate math.
  const bool products = steps > 1;
  // W_hh [4H, H] packed as it is: unit u0, at a panel's start, at u0 4H.
  const auto panels = std::make_unique_for_overwrite<T[]>(products ? packed_size(4 * H, H) : 0);
  run_team(products ? team_size(B, H) : 1, [&](int p, int P) {
    const auto [u0, u1] = units_of(p, P, H);
    const int64_t n = u1 - u0;
    T* own = panels.get() + u0 * 4 * H;  // this thread's columns of W_hh, the only ones it reads
    if (products) pack_panels(false, 4 * H, n, w_hh + u0, H, own);
    for (int64_t t = steps; t >= 1; --t) {
      // h_t went to the output (dy_t) and, through h_t W_hh^T, into z_{t+1}:
      // columns [u0, u1) of dz_{t+1} W_hh, added to a copy of dy_t.
      for (int64_t b = 0; b < B; ++b) std::copy_n(dy + (t - 1) * B * H + b * H + u0, n, dh + b * H + u0);
      if (t < steps) panel_gemm(false, B, n, 4 * H, dz + t * B * 4 * H, 4 * H, packed(own, 4 * H), dh + u0, H);
      const int64_t r = (t - 1) * B;  // step t's first row in the [T B, .] buffers
      lstm_backward_rows(acts + r * 4 * H + u0, cs + r * H + u0, ks + r * H + u0, dh + u0, dc + u0,
                         dz + r * 4 * H + u0, B, n, H);
      step_barrier(P);  // dz_t is whole before step t-1 reads it
    }
  });
}

HEED_LSTM_KERNELS_FOR(float)
HEED_LSTM_KERNELS_FOR(double)

}  // namespace heed::kernels::fast
