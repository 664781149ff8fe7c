// The LSTM cell's gate math as fused ops: one step (lstm_gates) and a whole
// layer's T steps (lstm_layer, which LSTM and LSTMCell run on). The loops are
// kernels (ops/kernels/lstm.h); this file is the math they compute.
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

#include <algorithm>

#include "heed/autograd/engine.h"
#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/blas.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/kernels/lstm.h"
#include "heed/ops/map.h"
#include "heed/ops/reduce.h"

namespace heed {

namespace {

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

// Scratch of one layer's forward, in time order, saved for its backward. cs[0] is
// c0, so step t (counted from 1, as in the formulas) reads c_{t-1} at cs[t - 1]
// and writes c_t at cs[t].
struct LayerScratch {
  Tensor acts;  // [T, B, 4H]: the input side of z_t, then the activations
  Tensor cs;    // [T+1, B, H]: c_0 .. c_T
  Tensor ks;    // [T, B, H]:   tanh(c_1) .. tanh(c_T)
};

}  // namespace

// ==== one step ======================================================================

// [h', c'] = the gate math of (gates, c)
// dgates, dc = the row backward above, with dh' = dy[0] and dc'_next = dy[1]
// saves: the activations and tanh(c') (scratch buffers of this op), and c
Tensor lstm_gates(const Tensor& gates, const Tensor& c) {
  profiler::OpScope prof("lstm_gates");
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
    kernels::lstm_gates(acts.data_ptr<T>(), c_in.data_ptr<T>(), o + B * H, o, k.data_ptr<T>(), B, H);
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
      kernels::lstm_gates_backward(acts.data_ptr<T>(), c_prev.data_ptr<T>(), k.data_ptr<T>(), dy.data_ptr<T>(),
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
  profiler::OpScope prof("lstm_layer");
  check_layer_args(x, w_ih, w_hh, b_ih, b_hh, h0, c0);
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
  const DType dtype = x.dtype();
  LayerScratch s{make_tensor({T, B, 4 * H}, dtype, false), make_tensor({T + 1, B, H}, dtype, false),
                 make_tensor({T, B, H}, dtype, false)};
  Tensor out = make_tensor({T + 1, B, H}, dtype, false);  // h_1 .. h_T, then c_T

  // The input side of every step at once, one [T B, in] x [in, 4H] product. Only
  // h_{t-1} W_hh^T has to wait for the step before. The biases are added by the
  // gate kernel, which reads every z anyway.
  Tensor x2 = x.detach().reshape({T * B, I});  // a copy only if x is not contiguous
  gemm(x2, w_ih.detach().t(), s.acts.view({T * B, 4 * H}));
  Tensor bias = b_ih.defined() ? (b_ih.detach() + b_hh.detach()).contiguous() : Tensor();  // [4H]
  copy_elements(s.cs.select(0, 0), c0);
  const Tensor h0c = h0.detach().contiguous(), w_hhc = w_hh.detach().contiguous();
  dispatch_floating(dtype, [&](auto tag) {
    using E = decltype(tag);
    kernels::lstm_steps(s.acts.data_ptr<E>(), bias.defined() ? bias.data_ptr<E>() : nullptr, h0c.data_ptr<E>(),
                        w_hhc.data_ptr<E>(), s.cs.data_ptr<E>(), s.ks.data_ptr<E>(), out.data_ptr<E>(), T, B, H);
  });
  copy_elements(out.select(0, T), s.cs.select(0, T));
  profiler::add_flops(T * 2 * B * 4 * H * H);  // h_{t-1} W_hh^T at every step (the gemm above counts itself)
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
    const Tensor w_hhc = w_hh.contiguous();
    Tensor dh = make_tensor({B, H}, dy.dtype(), false);  // the kernel's scratch: dh_t, the whole gradient of h_t
    profiler::add_flops(T * 2 * B * 4 * H * H);  // dh_{t-1} = dz_t W_hh at every step
    dispatch_floating(dy.dtype(), [&](auto tag) {
      using E = decltype(tag);
      kernels::lstm_steps_backward(s.acts.data_ptr<E>(), s.cs.data_ptr<E>(), s.ks.data_ptr<E>(), dy.data_ptr<E>(),
                                   w_hhc.data_ptr<E>(), dz.data_ptr<E>(), dc.data_ptr<E>(), dh.data_ptr<E>(), T, B, H);
    });

    // Everything else sums over all steps, so it is a few large products.
    Tensor dz2 = dz.view({T * B, 4 * H});
    Tensor dx, dw_ih, dw_hh, db, dh0;
    // A weight's gradient goes straight into the sum the engine holds for it when
    // there is one (a cell run at every step of a decoder: each step's product adds
    // itself, autograd/engine.h); otherwise into a fresh tensor, returned.
    auto weight_grad = [&](size_t input, const Tensor& w, Tensor& fresh) -> std::pair<Tensor, double> {
      if (Tensor* sum = gradient_sum_of_input(input)) return {*sum, 1.0};
      fresh = make_tensor(w.shape(), dy.dtype(), false);
      return {fresh, 0.0};
    };
    if (need.x) dx = make_tensor({T * B, w_ih.size(1)}, dy.dtype(), false);
    if (need.h0) dh0 = make_tensor({B, H}, dy.dtype(), false);  // h0 fed z_1 through h0 W_hh^T
    const Tensor dz1 = dz.select(0, 0);
    // One step (a cell): dx = dz W_ih and dh0 = dz W_hh read the same dz, and
    // dW_ih = dz^T x and dW_hh = dz^T h0 the same dz^T, the two of each pair in
    // the ratio in : H. Within a factor of 2, side by side (gemm_pair) each pair
    // is one fork and join, and a thread running both packs dz once where two
    // cut products would pack it twice. (Over several steps dx and dW_ih grow
    // with T and dh0 does not: each goes alone.)
    const int64_t I = w_ih.size(1);
    const bool paired = T == 1 && 2 * std::min(I, H) >= std::max(I, H);
    if (paired && need.x && need.h0) {
      gemm_pair(dz2, w_ih, dx, dz1, w_hh, dh0);
    } else {
      if (need.x) gemm(dz2, w_ih, dx);
      if (need.h0) gemm(dz1, w_hh, dh0);
    }
    if (paired && need.w_ih && need.w_hh) {
      auto [dwi, beta_i] = weight_grad(1, w_ih, dw_ih);
      auto [dwh, beta_h] = weight_grad(2, w_hh, dw_hh);
      gemm_pair(dz2.t(), saved_x.get(op), dwi, dz1.t(), saved_h0.get(op), dwh, beta_i, beta_h);
    } else {
      if (need.w_ih) {
        auto [dw, beta] = weight_grad(1, w_ih, dw_ih);
        gemm(dz2.t(), saved_x.get(op), dw, 1.0, beta);
      }
      if (need.w_hh) {
        // dW_hh = sum_t dz_t^T h_{t-1}. For t >= 2 the h_{t-1} are h_1 .. h_{T-1},
        // back to back in the output, so those T-1 steps are one product with K = (T-1) B.
        auto [dw, beta] = weight_grad(2, w_hh, dw_hh);
        gemm(dz1.t(), saved_h0.get(op), dw, 1.0, beta);
        if (T > 1)
          gemm(dz.slice(0, 1, T).reshape({(T - 1) * B, 4 * H}).t(),
               saved_out.get(op).slice(0, 0, T - 1).reshape({(T - 1) * B, H}), dw, 1.0, 1.0);
      }
    }
    if (need.x) dx = dx.view(x_shape);
    if (need.b) db = sum(dz2, {0});  // b_ih and b_hh enter z alike: one gradient serves both
    return {dx, dw_ih, dw_hh, db, db, dh0, dc};
  });
}

}  // namespace heed
