// Masks, selection and comparisons.
//
// heed has no bool dtype: a mask is a tensor of any dtype whose nonzero entries
// mean true, so the kernels read it in its own dtype and test `!= 0`. A
// comparison's 1/0 result is therefore a mask, ready for masked_fill or where.
#include "heed/ops/mask.h"

#include <cmath>

#include "heed/autograd/node.h"
#include "heed/core/iterate.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/map.h"
#include "heed/ops/reduce.h"

namespace heed {

namespace {

// The mask adapts to x, never the reverse: masked_fill keeps x's shape.
void check_mask_broadcasts(const char* op, const Tensor& mask, const Tensor& x) {
  // Align at the right: each mask dim must be 1 or x's size there.
  const int64_t lead = x.dim() - mask.dim();
  bool fits = lead >= 0;
  for (int64_t d = 0; fits && d < mask.dim(); ++d)
    fits = mask.shape()[d] == 1 || mask.shape()[d] == x.shape()[lead + d];
  if (!fits)
    throw ShapeError(msg(op, ": mask is ", mask.shape(), ", x is ", x.shape(),
                         "; the mask must broadcast to x's shape"));
}

// out = value where (mask != 0) == on_nonzero, else x. mask broadcasts to x's shape.
// The kernel behind masked_fill and the backward of masked_fill and where.
Tensor fill_where(const Tensor& x, const Tensor& mask, double value, bool on_nonzero) {
  Tensor out = make_tensor(x.shape(), x.dtype(), /*zero_fill=*/false);
  Strides sm = broadcast_strides(mask, x.shape());
  dispatch(x.dtype(), [&](auto xtag) {
    using T = decltype(xtag);
    const T* in = x.data_ptr<T>();
    T* o = out.data_ptr<T>();
    const T v = static_cast<T>(value);
    dispatch(mask.dtype(), [&](auto mtag) {
      using M = decltype(mtag);
      const M* m = mask.data_ptr<M>();
      for_each_offset<3>(x.shape(), {&x.strides(), &sm, &out.strides()},
                         [&](int64_t i, int64_t j, int64_t k) {
                           o[k] = (m[j] != M(0)) == on_nonzero ? v : in[i];
                         });
    });
  });
  return out;
}

// An int64 tensor can only hold whole numbers in its range: -inf or 0.5 cannot be stored.
void check_fits_int64(const char* op, const Tensor& x, double value) {
  if (x.dtype() != kInt64) return;
  // 2^63 itself is out of range; every double below it with no fraction fits.
  if (!(value >= -0x1p63 && value < 0x1p63) || value != std::trunc(value))
    throw ValueError(msg(op, ": value ", value, " cannot be stored in x, which is int64 (shape ",
                         x.shape(), "); use a whole number or convert x with .to(kFloat32)"));
}

}  // namespace

// y = value where mask != 0, else x
// dx = dy where mask == 0, else 0   (a filled element no longer depends on x)
// saves: mask
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  profiler::OpScope prof("masked_fill");
  check_mask_broadcasts("masked_fill", mask, x);
  check_fits_int64("masked_fill", x, value);
  Tensor y = fill_where(x, mask, value, /*on_nonzero=*/true);
  if (!needs_grad({x})) return y;
  SavedTensor sm(mask);
  return record("masked_fill", y, {x}, [sm](const Tensor& dy) -> TensorList {
    return {fill_where(dy, sm.get("masked_fill"), 0, /*on_nonzero=*/true)};
  });
}

// y = cond != 0 ? a : b, all three broadcast together
// da = sum_to(dy where cond, a.shape),  db = sum_to(dy where not cond, b.shape)
// saves: cond
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  profiler::OpScope prof("where");
  check_same_dtype("where", a, b);
  Shape shape = broadcast_shapes("where", broadcast_shapes("where", cond.shape(), a.shape()), b.shape());
  Tensor y = make_tensor(shape, a.dtype(), /*zero_fill=*/false);
  Strides sc = broadcast_strides(cond, shape), sa = broadcast_strides(a, shape),
          sb = broadcast_strides(b, shape);
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data_ptr<T>();
    const T* pb = b.data_ptr<T>();
    T* out = y.data_ptr<T>();
    dispatch(cond.dtype(), [&](auto ctag) {
      using C = decltype(ctag);
      const C* pc = cond.data_ptr<C>();
      for_each_offset<4>(shape, {&sc, &sa, &sb, &y.strides()},
                         [&](int64_t c, int64_t i, int64_t j, int64_t k) {
                           out[k] = pc[c] != C(0) ? pa[i] : pb[j];
                         });
    });
  });
  if (!needs_grad({a, b})) return y;
  SavedTensor scond(cond);
  Shape shape_a = a.shape(), shape_b = b.shape();
  return record("where", y, {a, b}, [=](const Tensor& dy) -> TensorList {
    Tensor c = scond.get("where");
    // dy has the broadcast shape, to which cond broadcasts: fill_where's rule holds.
    return {sum_to(fill_where(dy, c, 0, /*on_nonzero=*/false), shape_a),
            sum_to(fill_where(dy, c, 0, /*on_nonzero=*/true), shape_b)};
  });
}

// ---- comparisons: 1 where true, 0 where false, in the inputs' dtype; no gradient ----
// (A comparison is a step function: its derivative is 0 wherever it exists.)

namespace {

template <class Pred>
Tensor compare(const char* op, const Tensor& a, const Tensor& b, Pred pred) {
  profiler::OpScope prof(op);
  check_same_dtype(op, a, b);
  Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor y = make_tensor(shape, a.dtype(), /*zero_fill=*/false);
  Strides sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data_ptr<T>();
    const T* pb = b.data_ptr<T>();
    T* out = y.data_ptr<T>();
    for_each_offset<3>(shape, {&sa, &sb, &y.strides()}, [&](int64_t i, int64_t j, int64_t k) {
      out[k] = pred(pa[i], pb[j]) ? T(1) : T(0);
    });
  });
  return y;
}

}  // namespace

// NaN compares unequal to everything, itself included: eq gives 0, ne gives 1.
Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto p, auto q) { return p == q; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, [](auto p, auto q) { return p != q; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto p, auto q) { return p < q; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto p, auto q) { return p <= q; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto p, auto q) { return p > q; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto p, auto q) { return p >= q; }); }

// ---- triangles ---------------------------------------------------------------------

namespace {

// x with x[..., i, j] kept where j - i <= diagonal (lower) or j - i >= diagonal
// (upper), and zeroed elsewhere. No autograd: tril/triu and their backward use it.
Tensor triangle(const char* op, const Tensor& x, int64_t diagonal, bool lower) {
  if (x.dim() < 2)
    throw ShapeError(msg(op, ": x is ", x.shape(), "; it needs at least 2 dims (the last two ",
                         "hold the matrices)"));
  Tensor out = make_tensor(x.shape(), x.dtype(), /*zero_fill=*/false);
  if (out.numel() == 0) return out;
  Tensor xc = x.detach().contiguous();  // one flat layout, so row r starts at r * C
  const int64_t R = x.size(-2), C = x.size(-1), rows = x.numel() / C;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = xc.data_ptr<T>();
    T* o = out.data_ptr<T>();
    // Row r (row i = r % R of its matrix) writes only its own C outputs: no races.
    parallel_for(rows, x.numel() >= kParallelGrain, [&](int64_t r) {
      const int64_t i = r % R;
      for (int64_t j = 0; j < C; ++j) {
        const bool keep = lower ? j - i <= diagonal : j - i >= diagonal;
        o[r * C + j] = keep ? in[r * C + j] : T(0);
      }
    });
  });
  return out;
}

}  // namespace

// y = x where j <= i + diagonal (over the last two dims), else 0
// dx = dy masked the same way (a zeroed element no longer depends on x)
// saves: nothing
Tensor tril(const Tensor& x, int64_t diagonal) {
  profiler::OpScope prof("tril");
  Tensor y = triangle("tril", x, diagonal, /*lower=*/true);
  if (!needs_grad({x})) return y;
  return record("tril", y, {x}, [diagonal](const Tensor& dy) -> TensorList {
    return {triangle("tril", dy, diagonal, true)};
  });
}

// y = x where j >= i + diagonal (over the last two dims), else 0
// dx = dy masked the same way
// saves: nothing
Tensor triu(const Tensor& x, int64_t diagonal) {
  profiler::OpScope prof("triu");
  Tensor y = triangle("triu", x, diagonal, /*lower=*/false);
  if (!needs_grad({x})) return y;
  return record("triu", y, {x}, [diagonal](const Tensor& dy) -> TensorList {
    return {triangle("triu", dy, diagonal, false)};
  });
}

}  // namespace heed
