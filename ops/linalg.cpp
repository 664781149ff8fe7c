// Matrix products with torch.matmul's rules, on top of the one gemm (ops/blas.h).
//
// Every case is reduced to a batch of 2-D products:
//   1-D a [K] becomes [1, K] and 1-D b [K] becomes [K, 1] (the added dim is
//   squeezed away afterwards), then a [..., M, K] times b [..., K, N] gives
//   [batch..., M, N], where batch is a's and b's leading dims broadcast together.
//
// linear (x W^T + b, the Linear layer) is the same product written as one op with
// its own backward, at the end of the file.
#include "heed/ops/linalg.h"

#include <algorithm>
#include <string>
#include <vector>

#include "heed/autograd/node.h"
#include "heed/core/iterate.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/blas.h"
#include "heed/ops/map.h"
#include "heed/ops/reduce.h"

namespace heed {

namespace {

// The batch (leading) dims of a shape: all but the last two; none for 1-D.
Shape batch_dims(const Shape& s) {
  return s.size() <= 2 ? Shape{} : Shape(s.begin(), s.end() - 2);
}

// Checks a and b as the user gave them (before any unsqueeze, so the message
// shows the user's shapes) and returns the broadcast batch shape.
Shape check_operands(const Tensor& a, const Tensor& b) {
  if (a.dim() == 0 || b.dim() == 0)
    throw ShapeError(msg("matmul: a is ", a.shape(), ", b is ", b.shape(),
                         "; both need at least 1 dim (use mul to scale by a 0-d tensor)"));
  check_floating("matmul", a);
  check_floating("matmul", b);
  check_same_dtype("matmul", a, b);
  const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  if (ka != kb)
    throw ShapeError(msg("matmul: a is ", a.shape(), ", b is ", b.shape(), "; a's last dim (", ka,
                         ") must equal b's ", b.dim() == 1 ? "size (" : "second-to-last (", kb, ")"));
  // NumPy broadcasting of the batch dims: align at the right; each pair equal or one of them 1.
  Shape ba = batch_dims(a.shape()), bb = batch_dims(b.shape());
  const size_t n = std::max(ba.size(), bb.size());
  Shape batch(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i + ba.size() >= n ? ba[i + ba.size() - n] : 1;
    int64_t db = i + bb.size() >= n ? bb[i + bb.size() - n] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(msg("matmul: a is ", a.shape(), ", b is ", b.shape(), "; the batch dims ", ba,
                           " and ", bb, " do not broadcast (each pair must be equal or one of them 1)"));
    batch[i] = da == 1 ? db : da;
  }
  return batch;
}

// out[i] = a[i] b[i] for every batch entry i.  a: [..., M, K], b: [..., K, N]
// (both at least 2-D)  ->  out: [batch..., M, N]. No autograd here.
Tensor batched_product(Tensor a, Tensor b, const Shape& batch) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = make_tensor(out_shape, a.dtype(), /*zero_fill=*/false);  // gemm writes all of it
  if (out.numel() == 0) return out;

  // Two plain matrices: one gemm, no batch bookkeeping.
  if (batch.empty()) {
    gemm(a, b, out);
    return out;
  }

  // The common Linear-layer case, x [B, T, K] times W^T [K, N]: a contiguous a's
  // batch and row dims are one long run of rows, so the whole batch is one gemm
  // [B*T, K] x [K, N], big enough for BLAS to use all its threads.
  if (b.dim() == 2 && a.is_contiguous()) {
    const int64_t rows = numel(batch) * M;
    gemm(make_view(a, {rows, K}, {K, 1}, a.offset()), b, make_view(out, {rows, N}, {N, 1}, 0));
    return out;
  }

  // Every batch entry has the same matrix layout, so copy an operand BLAS cannot
  // read once here rather than once per entry. (A kernel's scratch copy: no graph.)
  if (!blas_can_read(a)) a = copy_of(a);
  if (!blas_can_read(b)) b = copy_of(b);
  gemm_batch(a, b, batch, out);
  return out;
}

// True when an operand of matmul is the transpose of a contiguous tensor in its
// last two dims (x.t(), k.transpose(-2, -1)) and has all of the product's batch
// dims (none broadcast): its gradient is then computed in the same layout.
bool stored_transposed(const Tensor& t, const Shape& batch) {
  if (t.dim() < 2 || t.dim() - 2 != static_cast<int64_t>(batch.size())) return false;
  for (size_t d = 0; d < batch.size(); ++d)
    if (t.size(static_cast<int64_t>(d)) != batch[d]) return false;
  if (t.size(-2) < 2 || t.size(-1) < 2) return false;  // a row or column: either layout
  // Contiguous once the last two dims are swapped: walking the dims in that order
  // from the innermost, each stride is the product of the sizes inside it.
  const int64_t n = t.dim();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t d = 0; d < n; ++d) order[d] = d;
  std::swap(order[n - 1], order[n - 2]);
  int64_t expected = 1;
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t d = order[i];
    if (t.size(d) != 1 && t.strides()[d] != expected) return false;
    expected *= t.size(d);
  }
  return true;
}

// y = a b   (a: [..., M, K], b: [..., K, N], both at least 2-D; batch dims broadcast)
// da = sum_to(dy b^T, a.shape),  db = sum_to(a^T dy, b.shape)
//   (from C = A B: dC/dA_ik = sum_j dC_ij B_kj, i.e. dC B^T; likewise A^T dC;
//    a batch dim that was broadcast received a gradient from every entry: sum them)
// saves: a and b (each only if the other needs a gradient)
Tensor matmul_nd(const Tensor& a, const Tensor& b, const Shape& batch) {
  Tensor y = batched_product(a, b, batch);
  if (!needs_grad({a, b})) return y;
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  SavedTensor sa = need_b ? SavedTensor(a) : SavedTensor();
  SavedTensor sb = need_a ? SavedTensor(b) : SavedTensor();
  Shape shape_a = a.shape(), shape_b = b.shape();
  // Only an operand with every batch dim of the product (no broadcast to sum
  // back) keeps its layout in the gradient, and a matrix b shared by every batch
  // entry (its gradient is one product over all the entries' rows, below).
  const bool a_transposed = stored_transposed(a, batch);
  const bool b_transposed = stored_transposed(b, b.dim() == 2 ? Shape{} : batch);
  return record("matmul", y, {a, b}, [=](const Tensor& dy_in) -> TensorList {
    // dy may be a layout BLAS cannot read: the gradient of sum() is ones expanded
    // with stride 0. gemm would copy it inside each of the two products below;
    // copying it once here is half the work.
    Tensor dy = blas_can_read(dy_in) ? dy_in : dy_in.contiguous();
    Tensor da, db;
    if (need_a && need_b && shape_a.size() == 2 && shape_b.size() == 2) {
      // Two matrices: both gradients at once (gemm_pair, ops/blas.h), each made
      // in its operand's layout as below. No graph is recorded around them, so
      // only when none is wanted (backward without create_graph).
      const Tensor av = sa.get("matmul"), bv = sb.get("matmul");
      if (!needs_grad({dy, av, bv})) {
        const int64_t M = shape_a[0], K = shape_a[1], N = shape_b[1];
        da = a_transposed ? make_tensor({K, M}, dy.dtype(), false).t() : make_tensor({M, K}, dy.dtype(), false);
        db = b_transposed ? make_tensor({N, K}, dy.dtype(), false).t() : make_tensor({K, N}, dy.dtype(), false);
        gemm_pair(dy, bv.t(), da, av.t(), dy, db);
        return {da, db};
      }
    }
    // The transposes are views: gemm reads them with a transpose flag, no copy.
    // An input that is itself a transposed view gets its gradient in the same
    // layout, computed as the transposed product: dA^T = B dy^T, dB^T = dy^T A.
    // The transpose's own backward then hands the tensor it came from a
    // contiguous gradient, which an add or a leaf takes as it is. (PyTorch's mm
    // backward does the same.)
    if (need_a) {
      Tensor bv = sb.get("matmul");
      if (a_transposed) da = matmul(bv, dy.transpose(-1, -2)).transpose(-1, -2);
      else da = sum_to(matmul(dy, bv.transpose(-1, -2)), shape_a);
    }
    if (need_b) {
      Tensor av = sa.get("matmul");
      if (shape_b.size() == 2 && av.dim() > 2) {
        // b was shared by every batch entry, so db = sum_i a_i^T dy_i. Stacking the
        // entries' rows turns that sum into one product: [K, B*M] x [B*M, N].
        // (rows spelled out, not -1: with K or N == 0 a -1 could not be inferred.)
        const int64_t K = av.size(-1), N = dy.size(-1);
        const int64_t rows = numel(batch_dims(av.shape())) * av.size(-2);
        const Tensor a_rows = av.reshape({rows, K}), dy_rows = dy.reshape({rows, N});
        db = b_transposed ? matmul(dy_rows.t(), a_rows).t() : matmul(a_rows.t(), dy_rows);
      } else if (b_transposed) {
        db = matmul(dy.transpose(-1, -2), av).transpose(-1, -2);
      } else {
        db = sum_to(matmul(av.transpose(-1, -2), dy), shape_b);
      }
    }
    return {da, db};
  });
}

}  // namespace

// 1-D operands gain a dim, go through matmul_nd, and lose it again; unsqueeze
// and squeeze are views with their own backward, so the gradient follows.
Tensor matmul(const Tensor& a, const Tensor& b) {
  profiler::OpScope prof("matmul");
  Shape batch = check_operands(a, b);
  Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;    // [K] -> [1, K]
  Tensor b2 = b.dim() == 1 ? b.unsqueeze(-1) : b;   // [K] -> [K, 1]
  Tensor y = matmul_nd(a2, b2, batch);
  if (a.dim() == 1) y = y.squeeze(-2);
  if (b.dim() == 1) y = y.squeeze(-1);
  return y;
}

// ---- linear: x W^T + b as one op -------------------------------------------------

namespace {

// The argument rules of linear, with the shapes as the caller passed them.
void check_linear_args(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  auto shapes = [&] {
    return msg("linear: x is ", x.shape(), ", weight is ", weight.shape(),
               bias.defined() ? msg(", bias is ", bias.shape()) : std::string());
  };
  if (weight.dim() != 2)
    throw ShapeError(msg(shapes(), "; weight must be 2-D, [out_features, in_features]"));
  if (x.dim() == 0)
    throw ShapeError(msg(shapes(), "; x needs at least 1 dim (its last dim is the in_features)"));
  check_floating("linear", x);
  if (weight.dtype() != x.dtype() || (bias.defined() && bias.dtype() != x.dtype()))
    throw DTypeError(msg("linear: x is ", x.dtype(), ", weight is ", weight.dtype(),
                         bias.defined() ? msg(", bias is ", bias.dtype()) : std::string(),
                         "; all must have the same dtype (convert one with .to())"));
  if (x.size(-1) != weight.size(1))
    throw ShapeError(msg(shapes(), "; x's last dim (", x.size(-1), ") must equal weight's dim 1, ",
                         "the in_features (", weight.size(1), ")"));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw ShapeError(msg(shapes(), "; bias must be [out_features], here [", weight.size(0), "]"));
}

// t ([..., cols]) as a [rows, cols] matrix that BLAS reads in place (gemm reads
// raw memory, so autograd plays no part here).
// A 2-D t that BLAS can read (row-major, or transposed: a flag) is used as it is.
// Otherwise the leading dims have to fold into one row dim, which takes them laid
// out back to back: true of a contiguous t (a view, no copy). Anything else (a
// transposed 3-D x, a gradient expanded with stride 0) is copied once here, so the
// products that read it do not each copy it again inside gemm. (detach first: the
// copy is scratch, not a step for autograd to record.)
Tensor as_rows(const Tensor& t, int64_t rows, int64_t cols) {
  if (t.dim() == 2 && blas_can_read(t)) return t;
  const Tensor d = t.is_contiguous() ? t : t.detach().contiguous();
  return make_view(d, {rows, cols}, {cols, 1}, d.offset());
}

// m [R, C] seen as [C, R]: a view with the strides swapped, no autograd.
Tensor swapped(const Tensor& m) {
  return make_view(m, {m.size(1), m.size(0)}, {m.strides()[1], m.strides()[0]}, m.offset());
}

// Writes bias [out] into every row of y [rows, out] (contiguous): the starting
// value that gemm, with beta = 1, adds x W^T to.
void fill_rows(Tensor y, const Tensor& bias) {
  const Tensor b = bias.is_contiguous() ? bias : bias.detach().contiguous();
  const int64_t rows = y.size(0), out = y.size(1);
  dispatch_floating(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = b.data_ptr<T>();
    T* dst = y.data_ptr<T>();
    // each r writes only row r of y
    parallel_for(rows, rows * out >= kParallelGrain,
                 [&](int64_t r) { std::copy(src, src + out, dst + r * out); });
  });
}

}  // namespace

// y = x W^T + b        x: [..., in], W: [out, in], b: [out]  ->  y: [..., out]
// dx = dy W,   dW = dy^T x,   db = sum over rows of dy        (x, dy folded to [rows, in], [rows, out])
//   (y_ro = sum_i x_ri W_oi + b_o: x_ri meets W_oi in each output o of its row, so
//    dx_ri = sum_o dy_ro W_oi; W_oi meets x_ri in every row r, so dW_oi = sum_r dy_ro x_ri,
//    one [out, rows] x [rows, in] product however many leading dims x has)
// saves: x as [rows, in] (if W needs a gradient) and W (if x does)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  profiler::OpScope prof("linear");
  check_linear_args(x, weight, bias);
  const int64_t out = weight.size(0), in = weight.size(1);
  int64_t rows = 1;  // all the dims of x but the last, folded into one
  for (int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.size(d);
  Shape y_shape = x.shape();
  y_shape.back() = out;
  Tensor y = make_tensor(y_shape, x.dtype(), /*zero_fill=*/false);  // the bias and gemm write all of it
  const Tensor y2 = make_view(y, {rows, out}, {out, 1}, 0);
  const Tensor x2 = as_rows(x, rows, in);
  // With a bias, y starts as b in every row and gemm adds x W^T to it (beta = 1):
  // no separate add, no second output. Empty sizes are gemm's to handle (rows or
  // out == 0: nothing to write; in == 0: y is beta * y, the bias or zeros).
  if (bias.defined()) fill_rows(y2, bias);
  gemm(x2, swapped(weight), y2, 1.0, bias.defined() ? 1.0 : 0.0);  // W^T: a transpose flag

  if (!needs_grad({x, weight, bias})) return y;
  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  const bool has_bias = bias.defined(), need_b = has_bias && bias.requires_grad();
  SavedTensor sx = need_w ? SavedTensor(x2) : SavedTensor();
  SavedTensor sw = need_x ? SavedTensor(weight) : SavedTensor();
  const Shape x_shape = x.shape();
  const Tensor inputs[3] = {x, weight, bias};  // the bias only when there is one:
  return record("linear", y, std::span<const Tensor>(inputs, has_bias ? 3 : 2), [=](const Tensor& dy_in) -> TensorList {
    const Tensor dy = as_rows(dy_in, rows, out);  // [rows, out]; sum()'s expanded ones are copied once
    Tensor dx, dw, db;
    if (need_x) dx = make_tensor(x_shape, dy.dtype(), /*zero_fill=*/false);
    if (need_w) dw = make_tensor({out, in}, dy.dtype(), /*zero_fill=*/false);
    const Tensor dx2 = need_x ? make_view(dx, {rows, in}, {in, 1}, 0) : Tensor();
    // dx: [rows, out] x [out, in]; dw: [out, rows] x [rows, in], the sum over every row is the product itself
    if (need_x && need_w) gemm_pair(dy, sw.get("linear"), dx2, swapped(dy), sx.get("linear"), dw);
    else if (need_x) gemm(dy, sw.get("linear"), dx2);
    else if (need_w) gemm(swapped(dy), sx.get("linear"), dw);
    if (need_b) db = column_sums(dy);  // [rows, out] -> [out]
    if (has_bias) return {dx, dw, db};
    return {dx, dw};
  });
}

}  // namespace heed
