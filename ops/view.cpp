// Shape ops. The views build new shape/strides/offset over the same storage;
// their backward maps the gradient back to the input's shape. The copies
// (clone, contiguous, to) make fresh memory.
#include "heed/ops/view.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "heed/autograd/engine.h"
#include "heed/autograd/node.h"
#include "heed/core/copy.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/map.h"
#include "heed/ops/reduce.h"

namespace heed {

namespace {

// The shape `shape` asks for, with its one -1 (if any) filled in so that the
// element count is n.
Shape infer_shape(const char* op, const Shape& from, const Shape& shape) {
  Shape out = shape;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer_at >= 0) throw ShapeError(msg(op, ": shape ", shape, " has more than one -1"));
      infer_at = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      throw ShapeError(msg(op, ": shape ", shape, " has a negative size"));
    } else if (out[i] != 0 && known > std::numeric_limits<int64_t>::max() / out[i]) {
      throw ShapeError(msg(op, ": shape ", shape, " has more elements than int64 can count"));
    } else {
      known *= out[i];
    }
  }
  int64_t n = numel(from);
  if (infer_at >= 0) {
    if (known == 0 || n % known != 0)
      throw ShapeError(msg(op, ": cannot reshape ", from, " (", n, " elements) into ", shape));
    out[infer_at] = n / known;
  } else if (known != n) {
    throw ShapeError(msg(op, ": cannot reshape ", from, " (", n, " elements) into ", shape, " (",
                         known, " elements); the element counts must match"));
  }
  return out;
}

// Records a view op whose backward is `back(dy)` (a gradient of the input's shape).
template <class Back>
Tensor record_view(const char* name, const Tensor& x, Tensor y, Back back) {
  if (!needs_grad({x})) return y;
  return record(name, y, {x}, [back](const Tensor& dy) -> TensorList { return {back(dy)}; });
}

// The backward of a view that is one part of x (a slice, a select): dx is zeros
// with dy in that part. But when the engine already holds a gradient sum for x
// that this backward may add into (autograd/engine.h: gradient_sum_of_input),
// dy is added into that part of the sum, and nothing is returned. Why: a
// sequence read one step at a time (a decoder's inputs, an LSTM cell's h and c
// taken from one tensor) gets a gradient from every step, and a fresh zeroed x
// for each, then added to the sum by the engine, would be two passes over all
// of x per step for a gradient that fills only its part.
template <class Part>
Tensor gradient_of_part(const Shape& xs, DType dt, const Tensor& dy, Part part) {
  if (Tensor* sum = gradient_sum_of_input(0)) {
    add_elements(part(*sum), dy);
    return Tensor();
  }
  Tensor dx = Tensor::zeros(xs, dt);
  part(dx).copy_(dy);
  return dx;
}

}  // namespace

// y = x viewed as `shape`;  dx = dy reshaped to x's shape
//
// A view needs no contiguous input, only strides that can express the new
// shape (core/shape.h: view_strides): splitting a dim, or merging dims that lie
// evenly spaced in memory, works on any layout; merging dims that do not (the
// two dims of a transpose) cannot be done without moving elements.
Tensor view(const Tensor& x, const Shape& shape) {
  profiler::OpScope prof("view");
  Shape s = infer_shape("view", x.shape(), shape);
  std::optional<Strides> st = view_strides(x.shape(), x.strides(), s);
  if (!st)
    throw ShapeError(msg("view: the input of shape ", x.shape(), " and strides ", x.strides(), " cannot be viewed as ",
                         s, ": a new dim would span old dims that are not evenly spaced in memory (as after a ",
                         "transpose or a slice), so no strides express it; use reshape(), which copies only then"));
  Tensor y = make_view(x, s, *st, x.offset());
  Shape xs = x.shape();
  return record_view("view", x, y, [xs](const Tensor& dy) { return dy.reshape(xs); });
}

// y = x viewed as `shape` when its strides allow (see view), else a contiguous copy reshaped
Tensor reshape(const Tensor& x, const Shape& shape) {
  profiler::OpScope prof("reshape");
  Shape s = infer_shape("reshape", x.shape(), shape);  // check first: errors should say reshape
  return view_strides(x.shape(), x.strides(), s) ? view(x, s) : view(contiguous(x), s);
}

// y = x with dims d0 and d1 swapped;  dx = dy with them swapped back
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  profiler::OpScope prof("transpose");
  d0 = wrap_dim("transpose", d0, x.dim());
  d1 = wrap_dim("transpose", d1, x.dim());
  if (x.dim() == 0) return x;  // a scalar is its own transpose
  Shape s = x.shape();
  Strides st = x.strides();
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  Tensor y = make_view(x, s, st, x.offset());
  return record_view("transpose", x, y, [d0, d1](const Tensor& dy) { return dy.transpose(d0, d1); });
}

// y dim i = x dim dims[i];  dx = dy permuted by the inverse permutation
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  profiler::OpScope prof("permute");
  const int64_t n = x.dim();
  if (static_cast<int64_t>(dims.size()) != n)
    throw ShapeError(msg("permute: input has shape ", x.shape(), " (", n, " dims) but ", dims.size(),
                         " dims were given; give each dim exactly once"));
  std::vector<int64_t> inverse(n, -1);
  Shape s(n);
  Strides st(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim("permute", dims[i], n);
    if (inverse[d] != -1)
      throw ShapeError(msg("permute: dim ", d, " appears twice in the permutation; give each dim ",
                           "exactly once (input shape ", x.shape(), ")"));
    inverse[d] = i;
    s[i] = x.shape()[d];
    st[i] = x.strides()[d];
  }
  Tensor y = make_view(x, s, st, x.offset());
  return record_view("permute", x, y, [inverse](const Tensor& dy) { return dy.permute(inverse); });
}

// y = x without its size-1 dims;  dx = dy reshaped back
Tensor squeeze(const Tensor& x) {
  profiler::OpScope prof("squeeze");
  Shape s;
  Strides st;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.shape()[d] != 1) {
      s.push_back(x.shape()[d]);
      st.push_back(x.strides()[d]);
    }
  Tensor y = make_view(x, s, st, x.offset());
  Shape xs = x.shape();
  return record_view("squeeze", x, y, [xs](const Tensor& dy) { return dy.reshape(xs); });
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  profiler::OpScope prof("squeeze");
  dim = wrap_dim("squeeze", dim, x.dim());
  if (x.dim() == 0 || x.shape()[dim] != 1) return x;  // like PyTorch: a no-op, not an error
  Shape s = x.shape();
  Strides st = x.strides();
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  Tensor y = make_view(x, s, st, x.offset());
  Shape xs = x.shape();
  return record_view("squeeze", x, y, [xs](const Tensor& dy) { return dy.reshape(xs); });
}

// y = x with a size-1 dim inserted at `dim` (which may equal x.dim(): append)
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  profiler::OpScope prof("unsqueeze");
  dim = wrap_dim("unsqueeze", dim, x.dim() + 1);
  Shape s = x.shape();
  Strides st = x.strides();
  // Any stride works for a size-1 dim; this one keeps a contiguous tensor contiguous.
  int64_t stride = dim < x.dim() ? s[dim] * st[dim] : 1;
  s.insert(s.begin() + dim, 1);
  st.insert(st.begin() + dim, stride);
  Tensor y = make_view(x, s, st, x.offset());
  Shape xs = x.shape();
  return record_view("unsqueeze", x, y, [xs](const Tensor& dy) { return dy.reshape(xs); });
}

// y = x repeated along its size-1 dims (stride 0, no copy);  dx = sum_to(dy, x.shape)
Tensor expand(const Tensor& x, const Shape& shape) {
  profiler::OpScope prof("expand");
  const int64_t n = static_cast<int64_t>(shape.size()), lead = n - x.dim();
  if (lead < 0)
    throw ShapeError(msg("expand: cannot expand ", x.shape(), " to ", shape,
                         ", which has fewer dims"));
  Shape s(n);
  Strides st(n, 0);  // new leading dims repeat: stride 0
  for (int64_t d = 0; d < n; ++d) {
    int64_t want = shape[d];
    if (d < lead) {
      if (want < 0) throw ShapeError(msg("expand: -1 is not allowed for a new leading dim (", shape, ")"));
      s[d] = want;
      continue;
    }
    int64_t have = x.shape()[d - lead];
    if (want == -1 || want == have) {
      s[d] = have;
      st[d] = x.strides()[d - lead];
    } else if (have == 1 && want >= 0) {
      s[d] = want;  // stride stays 0: the one element repeats
    } else {
      throw ShapeError(msg("expand: cannot expand ", x.shape(), " to ", shape, ": dim ", d,
                           " has size ", have, ", and only size-1 dims can be expanded"));
    }
  }
  Tensor y = make_view(x, s, st, x.offset());
  Shape xs = x.shape();
  return record_view("expand", x, y, [xs](const Tensor& dy) { return sum_to(dy, xs); });
}

// y = x[start:end:step] along dim;  dx = zeros with dy written into that slice
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  profiler::OpScope prof("slice");
  if (x.dim() == 0) throw IndexError("slice: cannot slice a 0-d tensor");
  dim = wrap_dim("slice", dim, x.dim());
  if (step <= 0) throw ValueError(msg("slice: step is ", step, "; it must be positive"));
  const int64_t n = x.shape()[dim];
  // Python slice rules: negative counts from the end, then clamp into [0, n].
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clampi(start);
  end = std::max(clampi(end), start);
  Shape s = x.shape();
  Strides st = x.strides();
  s[dim] = (end - start) / step + ((end - start) % step != 0);  // ceil, without overflow for a huge step
  st[dim] = x.strides()[dim] * step;
  Tensor y = make_view(x, s, st, x.offset() + start * x.strides()[dim]);
  Shape xs = x.shape();
  DType dt = x.dtype();
  return record_view("slice", x, y, [=](const Tensor& dy) {
    return gradient_of_part(xs, dt, dy, [&](const Tensor& dx) { return dx.slice(dim, start, end, step); });
  });
}

// y = x[..., index, ...] along dim (dim removed);  dx = zeros with dy written there
Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  profiler::OpScope prof("select");
  if (x.dim() == 0) throw IndexError("select: cannot select from a 0-d tensor");
  dim = wrap_dim("select", dim, x.dim());
  const int64_t n = x.shape()[dim];
  if (index < -n || index >= n)
    throw IndexError(msg("select: index ", index, " is out of range for dim ", dim, " of size ", n,
                         " (shape ", x.shape(), ")"));
  if (index < 0) index += n;
  Shape s = x.shape();
  Strides st = x.strides();
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  Tensor y = make_view(x, s, st, x.offset() + index * x.strides()[dim]);
  Shape xs = x.shape();
  DType dt = x.dtype();
  return record_view("select", x, y, [=](const Tensor& dy) {
    return gradient_of_part(xs, dt, dy, [&](const Tensor& dx) { return dx.select(dim, index); });
  });
}

// ---- copies -------------------------------------------------------------------

// y = a contiguous copy of x;  dx = dy
Tensor clone(const Tensor& x) {
  profiler::OpScope prof("clone");
  Tensor y = copy_of(x);
  return record_view("clone", x, y, [](const Tensor& dy) { return dy; });
}

Tensor contiguous(const Tensor& x) {
  profiler::OpScope prof("contiguous");
  if (x.is_contiguous()) return x;
  Tensor y = copy_of(x);
  return record_view("contiguous", x, y, [](const Tensor& dy) { return dy; });
}

// y = x converted to dtype;  dx = dy converted back (float <-> float only: an int64
// result cannot carry a gradient)
Tensor to(const Tensor& x, DType dtype) {
  profiler::OpScope prof("to");
  if (x.dtype() == dtype) return x;
  Tensor y = copy_of(x, dtype);
  if (!is_floating(dtype)) return y;
  DType from = x.dtype();
  return record_view("to", x, y, [from](const Tensor& dy) { return dy.to(from); });
}

}  // namespace heed
