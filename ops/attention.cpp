// Scaled dot-product attention as one fused op.
//
// Why fuse. Composed from ops, attention is a batched product, a scaling, a
// softmax and a second batched product. Each writes a [B, Tq, Tk] tensor that
// the next one reads back, and each product is split between the threads anew.
// Here one thread takes a whole batch entry and runs every step of it while the
// entry's [Tq, Tk] block is still in its cache (64 KiB at Tq = Tk = 128). The
// threads share out the batch, each running single-threaded products: one
// parallel region per pass instead of one per product, and the scaling rides on
// the first product's alpha.
//
// Per batch entry (q [Tq, D], k [Tk, D], v [Tk, Dv]):
//   forward   S   = scale q k^T                  [Tq, Tk]
//             P   = softmax(S) along each row     the weights, returned and saved
//             out = P v                          [Tq, Dv]
//   backward  out = P v        =>  dP = dout v^T,     dv = P^T dout
//             P = softmax(S)   =>  dS = P * (dP - rowsum(dP * P))   (ops/softmax.cpp)
//             S = scale q k^T  =>  dq = scale dS k,   dk = scale dS^T q
// saves: q, k, v and P.
//
// The weights are a second output with a node of their own. Its backward is the
// one above without the first line (dP is then the weights' own gradient), and
// its inputs are q and k only. A loss that never uses the weights never reaches it.
#include "heed/ops/attention.h"

#include <omp.h>

#include <climits>
#include <cmath>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "heed/autograd/node.h"
#include "heed/core/parallel.h"
#include "heed/ops/blas.h"
#include "heed/ops/elementwise.h"
#include "heed/ops/linalg.h"
#include "heed/ops/map.h"
#include "heed/ops/softmax.h"
#include "heed/ops/view.h"

namespace heed {

namespace {

// The sizes of one pass: `count` batch entries, each q [Tq, D], k [Tk, D], v [Tk, Dv].
struct Dims {
  int64_t count, Tq, Tk, D, Dv;
};

// One operand as the kernels read it: a matrix per batch entry, its rows ld
// elements apart and each row contiguous. Entry i starts `offsets[i]` elements
// after t's first element.
struct Matrices {
  Tensor t;
  std::vector<int64_t> offsets;
  int64_t ld = 0;
  template <class T>
  T* at(int64_t i) const {
    return const_cast<Tensor&>(t).data_ptr<T>() + offsets[i];
  }
};

// t: [batch..., R, C] with contiguous rows (see rows_readable).
Matrices matrices(const Tensor& t, const Shape& batch) {
  Matrices m{t, batch_offsets(t, batch), t.size(-2) > 1 ? t.strides()[t.dim() - 2] : t.size(-1)};
  for (int64_t& o : m.offsets) o -= t.offset();
  return m;
}

// BLAS can read each row of t in place: the last dim is contiguous and the rows
// do not overlap. (Anything else, an expand along the rows say, is copied first.)
bool rows_readable(const Tensor& t) {
  return t.strides()[t.dim() - 1] == 1 && (t.size(-2) <= 1 || t.strides()[t.dim() - 2] >= t.size(-1));
}
Tensor readable(const Tensor& t) { return rows_readable(t) ? t.detach() : t.detach().contiguous(); }

// Threads share out the batch entries when there are enough to go round. A batch
// smaller than the team (one long sequence, say) runs entry by entry instead,
// with gemm_raw splitting each product between the threads.
bool share_batch(const Dims& d) {
  const int64_t work = d.count * d.Tq * d.Tk * (d.D + d.Dv);
  return d.count > 1 && d.count >= omp_get_max_threads() && work >= kParallelGrain;
}

template <class T>
void forward_kernel(const Matrices& q, const Matrices& k, const Matrices& v, T scale, T* P, T* out,
                    const Dims& d) {
  // Entry i writes only its own P[i] and out[i], so the threads never collide.
  parallel_for(d.count, share_batch(d), [&](int64_t i) {
    T* p = P + i * d.Tq * d.Tk;  // [Tq, Tk]
    gemm_raw(false, true, d.Tq, d.Tk, d.D, scale, q.at<T>(i), q.ld, k.at<T>(i), k.ld, T(0), p, d.Tk);
    softmax_rows(p, p, d.Tq, d.Tk);
    gemm_raw(false, false, d.Tq, d.Dv, d.Tk, T(1), p, d.Tk, v.at<T>(i), v.ld, T(0), out + i * d.Tq * d.Dv, d.Dv);
  });
}

// One backward pass. Exactly one of dout (the out node) and dweights (the
// weights node) is given; a null gradient target is one nobody needs.
template <class T>
void backward_kernel(const Matrices& q, const Matrices& k, const Matrices& v, const T* P, T scale,
                     const Matrices* dout, const Matrices* dweights, const Matrices* dq, const Matrices* dk,
                     const Matrices* dv, const Dims& d) {
  const bool parallel = share_batch(d);
  // dS, one [Tq, Tk] block per thread, allocated here: nothing may throw inside
  // the parallel region (an exception leaving it ends the program).
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<T> scratch(static_cast<size_t>(threads * d.Tq * d.Tk));
  // Entry i writes only its own rows of dq, dk and dv (and its thread's dS).
  parallel_for(d.count, parallel, [&](int64_t i) {
    T* dS = scratch.data() + (parallel ? omp_get_thread_num() : 0) * d.Tq * d.Tk;
    const T* p = P + i * d.Tq * d.Tk;
    if (dout) {
      const T* g = dout->at<T>(i);
      gemm_raw(false, true, d.Tq, d.Tk, d.Dv, T(1), g, dout->ld, v.at<T>(i), v.ld, T(0), dS, d.Tk);  // dP
      if (dv) gemm_raw(true, false, d.Tk, d.Dv, d.Tq, T(1), p, d.Tk, g, dout->ld, T(0), dv->at<T>(i), dv->ld);
      softmax_backward_rows(p, dS, dS, d.Tq, d.Tk);
    } else {
      const T* g = dweights->at<T>(i);
      for (int64_t r = 0; r < d.Tq; ++r)
        softmax_backward_rows(p + r * d.Tk, g + r * dweights->ld, dS + r * d.Tk, 1, d.Tk);
    }
    if (dq) gemm_raw(false, false, d.Tq, d.D, d.Tk, scale, dS, d.Tk, k.at<T>(i), k.ld, T(0), dq->at<T>(i), dq->ld);
    if (dk) gemm_raw(true, false, d.Tk, d.D, d.Tq, scale, dS, d.Tk, q.at<T>(i), q.ld, T(0), dk->at<T>(i), dk->ld);
  });
}

// The same attention composed from ops, for what the kernel does not take (see
// kernel_takes). Each op records its own backward.
std::pair<Tensor, Tensor> composed(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  Tensor weights = softmax(matmul(q, k.transpose(-2, -1)) * scale, -1);
  return {matmul(weights, v), weights};
}

// The kernel hands every size and row stride to BLAS, whose integers are int,
// and BLAS rejects a leading dimension of 0, which an empty dim can give. Such
// cases go through the composed ops (whose gemm names a dim that does not fit).
// q, k, v: as the kernel would read them (readable()).
bool kernel_takes(const Dims& d, std::initializer_list<Tensor> operands) {
  for (int64_t n : {d.Tq, d.Tk, d.D, d.Dv})
    if (n == 0 || n > INT_MAX) return false;
  for (const Tensor& t : operands)
    if (t.strides()[t.dim() - 2] > INT_MAX) return false;
  return d.count > 0;
}

// The names of the two nodes, the output's and the weights'.
struct Names {
  const char* out;
  const char* weights;
};

// The op behind both entry points. q, k, v: detached views for the kernels to
// read. `inputs` are what the graph sees ({q, k, v}, or {qkv} when packed; the
// weights' node takes only the first two, or {qkv}), and make_grads(with_v)
// returns the gradients a backward hands back, with dq, dk, dv the tensors (or
// views) it writes them into: undefined where no gradient is needed.
template <class MakeGrads>
std::pair<Tensor, Tensor> run(Names names, const Tensor& q, const Tensor& k, const Tensor& v, const Dims& d,
                              double scale, std::span<const Tensor> inputs, std::span<const Tensor> weight_inputs,
                              MakeGrads make_grads) {
  const Shape batch(q.shape().begin(), q.shape().end() - 2);
  Shape w_shape = batch, out_shape = batch;
  w_shape.insert(w_shape.end(), {d.Tq, d.Tk});
  out_shape.insert(out_shape.end(), {d.Tq, d.Dv});
  Tensor weights = make_tensor(w_shape, q.dtype(), /*zero_fill=*/false);  // the kernel writes all
  Tensor out = make_tensor(out_shape, q.dtype(), /*zero_fill=*/false);
  dispatch_floating(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward_kernel<T>(matrices(q, batch), matrices(k, batch), matrices(v, batch), static_cast<T>(scale),
                      weights.data_ptr<T>(), out.data_ptr<T>(), d);
  });
  if (!needs_grad(TensorList(inputs.begin(), inputs.end()))) return {out, weights};

  // Saved before either node is attached, so that both hold a plain alias of the
  // weights rather than the weights tensor with its node.
  const SavedTensor sq(q), sk(k), sv(v), sp(weights);
  // The backward of either node: dout given (out's node) or dweights (the weights').
  auto backward = [=, op = names.out](const Tensor& dout, const Tensor& dweights) -> TensorList {
    const Tensor q = sq.get(op), k = sk.get(op), v = sv.get(op), P = sp.get(op);
    const bool from_out = dout.defined();
    auto [grads, dq, dk, dv] = make_grads(/*with_v=*/from_out);
    const Matrices mq = matrices(q, batch), mk = matrices(k, batch), mv = matrices(v, batch);
    const Matrices mg = matrices(readable(from_out ? dout : dweights), batch);
    std::optional<Matrices> mdq, mdk, mdv;
    if (dq.defined()) mdq = matrices(dq, batch);
    if (dk.defined()) mdk = matrices(dk, batch);
    if (dv.defined()) mdv = matrices(dv, batch);
    dispatch_floating(q.dtype(), [&](auto tag) {
      using T = decltype(tag);
      backward_kernel<T>(mq, mk, mv, P.data_ptr<T>(), static_cast<T>(scale), from_out ? &mg : nullptr,
                         from_out ? nullptr : &mg, mdq ? &*mdq : nullptr, mdk ? &*mdk : nullptr,
                         mdv ? &*mdv : nullptr, d);
    });
    return grads;
  };
  out = record(names.out, out, inputs, [backward](const Tensor& dout) { return backward(dout, Tensor()); });
  // The weights depend on q and k only: without a gradient to give them, no node.
  if (needs_grad(TensorList(weight_inputs.begin(), weight_inputs.end())))
    weights = record(names.weights, weights, weight_inputs,
                     [backward](const Tensor& dweights) { return backward(Tensor(), dweights); });
  return {out, weights};
}

void check_scale(const char* op, double scale) {
  if (!std::isfinite(scale)) throw ValueError(msg(op, ": scale is ", scale, "; it must be finite"));
}

}  // namespace

std::pair<Tensor, Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  const char* op = "attention";
  check_floating(op, q);
  check_same_dtype(op, q, k);
  check_same_dtype(op, q, v);
  check_scale(op, scale);
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
  const Dims d{numel(Shape(q.shape().begin(), q.shape().end() - 2)), q.size(-2), k.size(-2), q.size(-1), v.size(-1)};
  const Tensor rq = readable(q), rk = readable(k), rv = readable(v);
  if (!kernel_takes(d, {rq, rk, rv})) return composed(q, k, v, scale);

  const bool need_q = q.requires_grad(), need_k = k.requires_grad(), need_v = v.requires_grad();
  // Fresh gradients for the inputs that need one; the kernel writes all of each.
  auto make_grads = [=, qs = q.shape(), ks = k.shape(), vs = v.shape(), dtype = q.dtype()](bool with_v) {
    Tensor dq = need_q ? make_tensor(qs, dtype, false) : Tensor();
    Tensor dk = need_k ? make_tensor(ks, dtype, false) : Tensor();
    Tensor dv = with_v && need_v ? make_tensor(vs, dtype, false) : Tensor();
    return std::tuple{with_v ? TensorList{dq, dk, dv} : TensorList{dq, dk}, dq, dk, dv};
  };
  const Tensor inputs[3] = {q, k, v};
  return run({"attention", "attention_weights"}, rq, rk, rv, d, scale, inputs,
             std::span<const Tensor>(inputs, 2), make_grads);
}

std::pair<Tensor, Tensor> attention_packed(const Tensor& qkv, double scale) {
  const char* op = "attention_packed";
  check_floating(op, qkv);
  check_scale(op, scale);
  if (qkv.dim() < 2 || qkv.size(-1) % 3 != 0)
    throw ShapeError(msg(op, ": qkv is ", qkv.shape(), "; it must be [.., T, 3C]: q, k and v side by side "
                         "in the last dim, whose size must be a multiple of 3"));
  const int64_t C = qkv.size(-1) / 3;
  const int64_t n = qkv.dim();
  Shape batch(qkv.shape().begin(), qkv.shape().end() - 2);
  const Dims d{numel(batch), qkv.size(-2), qkv.size(-2), C, C};
  const Tensor x = readable(qkv);
  if (!kernel_takes(d, {x})) return composed(qkv.narrow(-1, 0, C), qkv.narrow(-1, C, C), qkv.narrow(-1, 2 * C, C), scale);

  auto third = [n, C](const Tensor& t, int64_t j) {  // a view of columns [jC, (j+1)C): no copy, no graph
    Shape s = t.shape();
    s[n - 1] = C;
    return make_view(t, s, t.strides(), t.offset() + j * C);
  };
  // One gradient for qkv; dq, dk, dv are views of its thirds. The weights' node
  // sends nothing to v, so its third must start at zero there.
  auto make_grads = [=, shape = qkv.shape(), dtype = qkv.dtype()](bool with_v) {
    Tensor g = make_tensor(shape, dtype, /*zero_fill=*/!with_v);
    return std::tuple{TensorList{g}, third(g, 0), third(g, 1), with_v ? third(g, 2) : Tensor()};
  };
  const std::span<const Tensor> inputs(&qkv, 1);
  return run({"attention_packed", "attention_packed_weights"}, third(x, 0), third(x, 1), third(x, 2), d, scale,
             inputs, inputs, make_grads);
}

}  // namespace heed
