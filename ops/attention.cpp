// Scaled dot-product attention as one fused op: the formulas, the argument
// checks and the graph record. The loops are the attention kernels
// (ops/kernels/attention.h): the reference one composes the steps entry by
// entry; the fast one runs each entry's steps on one thread while its block is
// in cache.
//
// Per batch entry (q [Tq, D], k [Tk, D], v [Tk, Dv]):
//   forward   S   = scale q k^T (+ bias)         [Tq, Tk]
//             P   = softmax(S) along each row, hidden scores excluded
//             W   = P * drop  (with dropout; else W = P)   the weights
//             out = W v                          [Tq, Dv]
//   backward  out = W v        =>  dW = dout v^T,     dv = W^T dout
//             W = P * drop     =>  dP = dW * drop
//             P = softmax(S)   =>  dS = P * (dP - rowsum(dP * P))   (ops/softmax.cpp)
//             S = scale q k^T  =>  dq = scale dS k,   dk = scale dS^T q
// A hidden score has P = 0, so dS = 0 there: its mask is not needed again.
// saves: q, k, v and P (with dropout, also the mask drawn and W).
//
// The weights are a second output with a node of their own. Its backward is the
// one above from its second line (dW is then the weights' own gradient), and
// its inputs are q and k only. A loss that never uses the weights never reaches it.
#include "heed/ops/attention.h"

#include <cmath>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "heed/autograd/engine.h"
#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/blas.h"
#include "heed/ops/dropout.h"
#include "heed/ops/kernels/attention.h"
#include "heed/ops/map.h"

namespace heed {

namespace {

using kernels::AttentionDims;

// One operand for the kernels: its matrices' offsets (from the start of its
// storage) and row stride. t: [batch..., R, C] with contiguous rows (readable()).
struct Operand {
  Tensor t;
  std::vector<int64_t> offsets;
  int64_t ld = 0;
  template <class T>
  kernels::Matrices<const T> in() const {
    return {t.data_ptr<T>() - t.offset(), offsets.data(), ld};
  }
  template <class T>
  kernels::Matrices<T> out() const {
    return {static_cast<T*>(const_cast<void*>(t.raw_data_ptr())) - t.offset(), offsets.data(), ld};
  }
};

Operand operand(const Tensor& t, const Shape& batch) {
  return {t, batch_offsets(t, batch), t.size(-2) > 1 ? t.strides()[t.dim() - 2] : t.size(-1)};
}

// The kernels read each row of q, k, v in place: the last dim must be
// contiguous and the rows must not overlap. Anything else (an expand along the
// rows, say) is copied first. (No graph: a kernel's scratch copy.)
Tensor readable(const Tensor& t) {
  const bool rows_ok = t.strides()[t.dim() - 1] == 1 && (t.size(-2) <= 1 || t.strides()[t.dim() - 2] >= t.size(-1));
  return rows_ok ? t.detach() : copy_of(t);
}

// A mask or a bias as the kernels read it: in the op's dtype, at least 2-D, with
// the offsets of each entry's [Tq, Tk] block and the strides within one (0
// where it broadcasts).
struct MaskOperand {
  Tensor t;
  std::vector<int64_t> offsets;
  int64_t row_stride() const { return t.size(-2) == 1 ? 0 : t.strides()[t.dim() - 2]; }
  int64_t col_stride() const { return t.size(-1) == 1 ? 0 : t.strides()[t.dim() - 1]; }
  template <class T>
  const T* base() const {
    return t.data_ptr<T>() - t.offset();
  }
};

// what: "mask" or "bias".
std::optional<MaskOperand> mask_operand(const char* op, const char* what, const Tensor& mask, const Shape& batch,
                                        const AttentionDims& d, DType dtype) {
  if (!mask.defined()) return std::nullopt;
  Shape scores = batch;
  scores.insert(scores.end(), {d.Tq, d.Tk});
  bool fits = mask.dim() <= static_cast<int64_t>(scores.size());
  for (int64_t i = 1; fits && i <= mask.dim(); ++i)
    fits = mask.size(-i) == 1 || mask.size(-i) == scores[scores.size() - i];
  if (!fits)
    throw ShapeError(msg(op, ": ", what, " is ", mask.shape(), ", the scores are ", scores, " [.., Tq, Tk]; the ",
                         what, " must broadcast to the scores' shape"));
  Tensor m = mask.dtype() == dtype ? mask.detach() : copy_of(mask, dtype);
  while (m.dim() < 2) {  // [Tk] or a 0-d mask: as a [1, Tk] or [1, 1] one
    Shape s = m.shape();
    Strides st = m.strides();
    s.insert(s.begin(), 1);
    st.insert(st.begin(), 0);
    m = make_view(m, s, st, m.offset());
  }
  return MaskOperand{m, batch_offsets(m, batch)};
}

template <class T>
kernels::Hidden<T> hidden_of(const std::optional<MaskOperand>& mask, const std::optional<MaskOperand>& bias,
                             bool causal) {
  kernels::Hidden<T> h;
  h.causal = causal;
  if (mask) {
    h.mask = mask->base<T>();
    h.offsets = mask->offsets.data();
    h.row_stride = mask->row_stride();
    h.col_stride = mask->col_stride();
  }
  if (bias) {
    h.bias = bias->base<T>();
    h.bias_offsets = bias->offsets.data();
    h.bias_row_stride = bias->row_stride();
    h.bias_col_stride = bias->col_stride();
  }
  return h;
}

// Where the gradients go: dq, dk, dv are the tensors (or views) the kernel writes
// them into, undefined where no gradient is needed; `grads` is what the backward
// returns, one per input of the node. add_dk (add_dv): dk (dv) is the sum the
// engine holds for that input, which the kernel adds to.
struct Grads {
  TensorList grads;
  Tensor dq, dk, dv;
  bool add_dk = false, add_dv = false;
};

// The names of the two nodes, the output's and the weights'.
struct Names {
  const char* out;
  const char* weights;
};

// Columns [col0, col0 + H D) of t [.., T, W] (last dim contiguous) as H heads of
// D: a [.., H, T, D] view (head h is columns col0 + [hD, (h+1)D)), or, with
// head_dim false (H = 1), the [.., T, D] view of those columns. No copy, no graph.
Tensor heads_view(const Tensor& t, int64_t H, int64_t D, int64_t col0, bool head_dim) {
  const int64_t n = t.dim();
  Shape shape(t.shape().begin(), t.shape().end() - 2);
  Strides strides(t.strides().begin(), t.strides().end() - 2);
  if (head_dim) {
    shape.push_back(H);
    strides.push_back(D);
  }
  shape.insert(shape.end(), {t.size(-2), D});
  strides.insert(strides.end(), {t.strides()[n - 2], 1});
  return make_view(t, shape, strides, t.offset() + col0);
}

// Where the op's output goes. The kernels write [batch.., Tq, Dv] matrices;
// the op returns `shape`. Plain: the same thing. Heads side by side: the result
// is [.., T, H D] and the kernels write its [.., H, T, D] view, so the heads'
// outputs land where the output projection reads them, with no copy.
struct OutLayout {
  Shape shape;
  int64_t heads = 0, D = 0;  // heads > 0: heads side by side, each D wide
  // t, shaped like the result (the result itself, or its gradient) -> what the kernels use.
  Tensor kernel_view(const Tensor& t) const {
    if (heads == 0) return t;
    const Tensor c = t.is_contiguous() ? t : copy_of(t);
    return heads_view(c, heads, D, 0, true);
  }
};

// The options every entry point passes through.
struct Options {
  double scale;
  Tensor mask;
  bool causal;
  double dropout_p;
  Tensor bias;
};

// What the entry points share. q, k, v: detached views the kernels read. `inputs`
// are what the graph sees ({q, k, v}, or {qkv} when packed; the weights' node
// takes `weight_inputs`: q and k, or {qkv}), and make_grads(with_v) makes the
// gradient tensors of one backward.
template <class MakeGrads>
std::pair<Tensor, Tensor> run(Names names, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d,
                              const Options& o, const OutLayout& layout, std::span<const Tensor> inputs,
                              std::span<const Tensor> weight_inputs, MakeGrads make_grads) {
  const double scale = o.scale, dropout_p = o.dropout_p;
  const bool causal = o.causal;
  const Tensor &mask = o.mask, &bias = o.bias;
  const Shape batch(q.shape().begin(), q.shape().end() - 2);
  Shape w_shape = batch;
  w_shape.insert(w_shape.end(), {d.Tq, d.Tk});
  const std::optional<MaskOperand> m = mask_operand(names.out, "mask", mask, batch, d, q.dtype());
  const std::optional<MaskOperand> bi = mask_operand(names.out, "bias", bias, batch, d, q.dtype());
  Tensor P = make_tensor(w_shape, q.dtype(), /*zero_fill=*/false);  // the kernel writes all
  Tensor out = make_tensor(layout.shape, q.dtype(), /*zero_fill=*/false);
  const Operand oout = operand(layout.kernel_view(out), batch);
  const Tensor drop = dropout_p > 0 ? dropout_mask(w_shape, q.dtype(), dropout_p) : Tensor();
  Tensor weights = drop.defined() ? make_tensor(w_shape, q.dtype(), /*zero_fill=*/false) : P;
  const Operand oq = operand(q, batch), ok = operand(k, batch), ov = operand(v, batch);
  dispatch_floating(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::attention_forward<T>(d, static_cast<T>(scale), oq.in<T>(), ok.in<T>(), ov.in<T>(), hidden_of<T>(m, bi, causal),
                                  drop.defined() ? drop.data_ptr<T>() : nullptr, P.data_ptr<T>(),
                                  drop.defined() ? weights.data_ptr<T>() : nullptr, oout.out<T>());
  });
  // S = q k^T and out = W v, counted whole: the keys a causal mask hides
  // (which the fast kernel skips) included, as FLOPs of a model are counted.
  profiler::add_flops(2 * numel(batch) * d.Tq * d.Tk * (d.D + d.Dv));
  if (!needs_grad(TensorList(inputs.begin(), inputs.end()))) return {out, weights};

  // Saved before either node is attached, so that both hold a plain alias of the
  // weights rather than the weights tensor with its node.
  const SavedTensor sq(q), sk(k), sv(v), sp(P), sw(weights);
  // The backward of either node: dout given (out's node) or dweights (the weights').
  auto backward = [=, op = names.out](const Tensor& dout, const Tensor& dweights) -> TensorList {
    const Tensor qv = sq.get(op), kv = sk.get(op), vv = sv.get(op), Pv = sp.get(op), Wv = sw.get(op);
    const bool from_out = dout.defined();
    const Grads g = make_grads(/*with_v=*/from_out);
    const Operand oq = operand(qv, batch), ok = operand(kv, batch), ov = operand(vv, batch);
    const Operand og = operand(readable(from_out ? layout.kernel_view(dout) : dweights), batch);
    std::optional<Operand> odq, odk, odv;
    if (g.dq.defined()) odq = operand(g.dq, batch);
    if (g.dk.defined()) odk = operand(g.dk, batch);
    if (g.dv.defined()) odv = operand(g.dv, batch);
    // One product each: dW = dout v^T, dv = W^T dout, dq = dS k, dk = dS^T q.
    profiler::add_flops(2 * numel(batch) * d.Tq * d.Tk *
                        ((from_out ? d.Dv : 0) + (odv ? d.Dv : 0) + (odq ? d.D : 0) + (odk ? d.D : 0)));
    dispatch_floating(qv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const kernels::Matrices<const T> mg = og.in<T>();
      std::optional<kernels::Matrices<T>> mdq, mdk, mdv;
      if (odq) mdq = odq->out<T>();
      if (odk) mdk = odk->out<T>();
      if (odv) mdv = odv->out<T>();
      kernels::attention_backward<T>(d, static_cast<T>(scale), causal, oq.in<T>(), ok.in<T>(), ov.in<T>(), Pv.data_ptr<T>(),
                                     drop.defined() ? drop.data_ptr<T>() : nullptr,
                                     drop.defined() ? Wv.data_ptr<T>() : nullptr, from_out ? &mg : nullptr,
                                     from_out ? nullptr : &mg, mdq ? &*mdq : nullptr, mdk ? &*mdk : nullptr,
                                     mdv ? &*mdv : nullptr, g.add_dk, g.add_dv);
    });
    return g.grads;
  };
  out = record(names.out, out, inputs, [backward](const Tensor& dout) { return backward(dout, Tensor()); });
  // The weights depend on q and k only: without a gradient to give them, no node.
  if (needs_grad(TensorList(weight_inputs.begin(), weight_inputs.end())))
    weights = record(names.weights, weights, weight_inputs,
                     [backward](const Tensor& dweights) { return backward(Tensor(), dweights); });
  return {out, weights};
}

void check_options(const char* op, double scale, double dropout_p, const Tensor& bias) {
  if (!std::isfinite(scale)) throw ValueError(msg(op, ": scale is ", scale, "; it must be finite"));
  if (bias.defined() && !is_floating(bias.dtype()))
    throw DTypeError(msg(op, ": bias is ", bias.dtype(), "; an additive bias must be floating-point (a mask of "
                         "which scores to hide goes in `mask`)"));
  if (bias.defined() && bias.requires_grad())
    throw ValueError(msg(op, ": bias requires grad; the fused op gives no gradient to its additive bias (detach "
                         "it, or add a learned bias to the scores with the composed ops)"));
  if (!(dropout_p >= 0 && dropout_p < 1))
    throw ValueError(msg(op, ": dropout_p is ", dropout_p, "; it must be in [0, 1)"));
}

}  // namespace

std::pair<Tensor, Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                    const Tensor& mask, bool causal, double dropout_p, const Tensor& bias) {
  profiler::OpScope prof("attention");
  const char* op = "attention";
  check_floating(op, q);
  check_same_dtype(op, q, k);
  check_same_dtype(op, q, v);
  check_options(op, scale, dropout_p, bias);
  if (q.dim() < 2 || k.dim() != q.dim() || v.dim() != q.dim())
    throw ShapeError(msg(op, ": q is ", q.shape(), ", k ", k.shape(), ", v ", v.shape(),
                         "; they must have one number of dims, at least 2: [.., Tq, D], [.., Tk, D], [.., Tk, Dv]"));
  const int64_t n = q.dim();
  for (int64_t i = 0; i + 2 < n; ++i)
    if (k.size(i) != q.size(i) || v.size(i) != q.size(i))
      throw ShapeError(msg(op, ": q is ", q.shape(), ", k ", k.shape(), ", v ", v.shape(),
                           "; their leading (batch) dims must be equal"));
  if (k.size(-1) != q.size(-1))
    throw ShapeError(msg(op, ": q is ", q.shape(), ", k is ", k.shape(), "; q's last dim (", q.size(-1),
                         ") must equal k's (", k.size(-1), ")"));
  if (v.size(-2) != k.size(-2))
    throw ShapeError(msg(op, ": k is ", k.shape(), ", v is ", v.shape(), "; there must be one value per key (dim -2: ",
                         k.size(-2), " vs ", v.size(-2), ")"));
  const AttentionDims d{numel(Shape(q.shape().begin(), q.shape().end() - 2)), q.size(-2), k.size(-2), q.size(-1),
                        v.size(-1)};
  const bool need_q = q.requires_grad(), need_k = k.requires_grad(), need_v = v.requires_grad();
  // The gradients of the inputs that need one: fresh tensors the kernel writes
  // whole; but for k and v, the sum the engine holds for them when it offers one
  // (keys and values attended at every step of a decoder, autograd/engine.h).
  // The kernel adds into that sum, and the backward returns nothing for the
  // input. Both offers are asked for before either sum is held here: when the
  // keys are the values, both are the one sum.
  auto make_grads = [=, qs = q.shape(), ks = k.shape(), vs = v.shape(), dtype = q.dtype()](bool with_v) {
    Tensor* k_sum = need_k ? gradient_sum_of_input(1) : nullptr;
    Tensor* v_sum = with_v && need_v ? gradient_sum_of_input(2) : nullptr;
    Grads g;
    g.dq = need_q ? make_tensor(qs, dtype, false) : Tensor();
    g.dk = k_sum ? *k_sum : need_k ? make_tensor(ks, dtype, false) : Tensor();
    g.dv = v_sum ? *v_sum : with_v && need_v ? make_tensor(vs, dtype, false) : Tensor();
    g.add_dk = k_sum != nullptr;
    g.add_dv = v_sum != nullptr;
    const Tensor dk_out = g.add_dk ? Tensor() : g.dk, dv_out = g.add_dv ? Tensor() : g.dv;
    g.grads = with_v ? TensorList{g.dq, dk_out, dv_out} : TensorList{g.dq, dk_out};
    return g;
  };
  const Tensor inputs[3] = {q, k, v};
  Shape out_shape(q.shape().begin(), q.shape().end() - 1);
  out_shape.push_back(v.size(-1));
  return run({"attention", "attention_weights"}, readable(q), readable(k), readable(v), d,
             {scale, mask, causal, dropout_p, bias}, {out_shape}, inputs, std::span<const Tensor>(inputs, 2),
             make_grads);
}

namespace {

// attention_packed with H heads; head_dim: whether the weights have a head dim
// ([.., H, T, T]; without it H must be 1 and they are [.., T, T]).
std::pair<Tensor, Tensor> packed(Names names, const Tensor& qkv, int64_t H, bool head_dim, const Options& o) {
  const char* op = names.out;
  check_floating(op, qkv);
  check_options(op, o.scale, o.dropout_p, o.bias);
  if (qkv.dim() < 2 || qkv.size(-1) % 3 != 0)
    throw ShapeError(msg(op, ": qkv is ", qkv.shape(), "; it must be [.., T, 3C]: q, k and v side by side "
                         "in the last dim, whose size must be a multiple of 3"));
  const int64_t C = qkv.size(-1) / 3;
  if (H <= 0 || C % H != 0)
    throw ValueError(msg(op, ": qkv is ", qkv.shape(), ", num_heads ", H, "; C = ", C,
                         " must split into num_heads (positive) heads of C / num_heads features"));
  const int64_t D = C / H;
  const AttentionDims d{numel(Shape(qkv.shape().begin(), qkv.shape().end() - 2)) * H, qkv.size(-2), qkv.size(-2), D,
                        D};
  // One gradient for qkv; dq, dk, dv are views of its thirds. The weights' node
  // sends nothing to v, so its third must start at zero there.
  auto make_grads = [=, shape = qkv.shape(), dtype = qkv.dtype()](bool with_v) {
    Tensor g = make_tensor(shape, dtype, /*zero_fill=*/!with_v);
    return Grads{TensorList{g}, heads_view(g, H, D, 0, head_dim), heads_view(g, H, D, C, head_dim),
                 with_v ? heads_view(g, H, D, 2 * C, head_dim) : Tensor()};
  };
  Shape out_shape = qkv.shape();
  out_shape.back() = C;
  const Tensor x = readable(qkv);
  const std::span<const Tensor> inputs(&qkv, 1);
  return run(names, heads_view(x, H, D, 0, head_dim), heads_view(x, H, D, C, head_dim),
             heads_view(x, H, D, 2 * C, head_dim), d, o, {out_shape, head_dim ? H : 0, D}, inputs, inputs,
             make_grads);
}

}  // namespace

std::pair<Tensor, Tensor> attention_packed(const Tensor& qkv, double scale, const Tensor& mask, bool causal,
                                           double dropout_p, const Tensor& bias) {
  profiler::OpScope prof("attention_packed");
  return packed({"attention_packed", "attention_packed_weights"}, qkv, 1, false,
                {scale, mask, causal, dropout_p, bias});
}

std::pair<Tensor, Tensor> attention_packed_heads(const Tensor& qkv, int64_t num_heads, double scale,
                                                 const Tensor& mask, bool causal, double dropout_p,
                                                 const Tensor& bias) {
  profiler::OpScope prof("attention_packed_heads");
  return packed({"attention_packed_heads", "attention_packed_heads_weights"}, qkv, num_heads, true,
                {scale, mask, causal, dropout_p, bias});
}

}  // namespace heed
