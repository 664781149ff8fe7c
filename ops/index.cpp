// Gathering and joining: index_select picks rows, concat and stack glue tensors
// together, split and chunk cut one into views.
#include "heed/ops/index.h"

#include <algorithm>

#include "heed/autograd/node.h"
#include "heed/core/iterate.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/map.h"

namespace heed {

namespace {

// The index values, checked: int64, 0-d or 1-D, each in [0, n).
std::vector<int64_t> checked_indices(const Tensor& x, int64_t dim, const Tensor& index) {
  if (index.dtype() != kInt64)
    throw DTypeError(msg("index_select: index has dtype ", index.dtype(), " (shape ", index.shape(),
                         "); indices must be int64"));
  if (index.dim() > 1)
    throw ShapeError(msg("index_select: index has shape ", index.shape(),
                         "; it must be 1-D (or 0-d for a single index)"));
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[dim];
  std::vector<int64_t> idx = index.to_vector<int64_t>();
  // Negative indices are refused, as in torch.index_select: a table lookup with
  // -1 is far more often a bug (a padding id, say) than a request for the last row.
  for (int64_t i : idx)
    if (i < 0 || i >= n)
      throw IndexError(msg("index_select: index ", i, " is out of range for dim ", dim, " of size ",
                           n, " (input shape ", x.shape(), "); indices must be in [0, ", n, ")"));
  return idx;
}

// xs is a list of tensors to join: not empty, every one defined, and every one of
// xs[0]'s dtype (heed never promotes silently).
void check_list(const char* op, const std::vector<Tensor>& xs) {
  if (xs.empty()) throw ValueError(msg(op, ": the list of tensors is empty; give at least one"));
  for (size_t i = 0; i < xs.size(); ++i)
    if (!xs[i].defined())
      throw ValueError(msg(op, ": tensor ", i, " of the list (of ", xs.size(), ") is undefined"));
  for (size_t i = 1; i < xs.size(); ++i)
    if (xs[i].dtype() != xs[0].dtype())
      throw DTypeError(msg(op, ": tensor 0 has dtype ", xs[0].dtype(), ", tensor ", i, " has ",
                           xs[i].dtype(), "; all must have the same dtype (convert with .to())"));
}

}  // namespace

// y[o, i, :] = x[o, index[i], :]   (x seen as [outer, n, inner] around dim)
// dx[o, index[i], :] += dy[o, i, :]   (scatter-add: a row picked twice gets both gradients)
// saves: the index values (ints), x's shape
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  profiler::OpScope prof("index_select");
  dim = wrap_dim("index_select", dim, x.dim());
  std::vector<int64_t> idx = checked_indices(x, dim, index);
  const int64_t k = static_cast<int64_t>(idx.size());
  const AroundDim a = around_dim(x.shape(), dim);

  // The result keeps x's dims with size k along dim (a 0-d index gives k = 1 and
  // keeps the dim, as in PyTorch). A 0-d x has no dim to keep: it takes the index's shape.
  Shape out_shape = x.shape();
  if (x.dim() == 0)
    out_shape = index.shape();
  else
    out_shape[dim] = k;
  Tensor y = make_tensor(out_shape, x.dtype(), /*zero_fill=*/false);

  Tensor xc = x.detach().contiguous();  // rows are then `inner` consecutive elements
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = xc.data_ptr<T>();
    T* dst = y.data_ptr<T>();
    // Output row r = (o, i) is written by iteration r alone: no two threads collide.
    parallel_for(a.outer * k, y.numel() >= kParallelGrain, [&](int64_t r) {
      const int64_t o = r / k, i = r % k;
      std::copy_n(src + (o * a.size + idx[i]) * a.inner, a.inner, dst + r * a.inner);
    });
  });

  if (!needs_grad({x})) return y;
  Shape xs = x.shape();
  DType dt = x.dtype();
  auto backward = [idx = std::move(idx), xs, dt, a, k](const Tensor& dy) -> TensorList {
    Tensor dx = Tensor::zeros(xs, dt);
    Tensor g = dy.contiguous();
    dispatch_floating(dt, [&](auto tag) {
      using T = decltype(tag);
      const T* gp = g.data_ptr<T>();
      T* dp = dx.data_ptr<T>();
      // Different o touch disjoint blocks of dx, so the outer loop may run in
      // parallel. The loop over i may not: two equal indices add into the same row.
      parallel_for(a.outer, dy.numel() >= kParallelGrain, [&](int64_t o) {
        for (int64_t i = 0; i < k; ++i) {
          T* drow = dp + (o * a.size + idx[i]) * a.inner;
          const T* grow = gp + (o * k + i) * a.inner;
          for (int64_t j = 0; j < a.inner; ++j) drow[j] += grow[j];
        }
      });
    });
    return {dx};
  };
  return record("index_select", y, {x}, backward);
}

// y = [x_0, x_1, ...] joined along dim
// dx_i = the slice of dy that x_i filled (a view: no copy)
// saves: the sizes of the x_i along dim
Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  profiler::OpScope prof("concat");
  check_list("concat", xs);
  const Tensor& first = xs[0];
  if (first.dim() == 0)
    throw ShapeError("concat: tensor 0 is 0-d, and 0-d tensors have no dim to join along; "
                     "use stack, or unsqueeze(0) them first");
  dim = wrap_dim("concat", dim, first.dim());

  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    if (s.size() != first.shape().size())
      throw ShapeError(msg("concat: tensor 0 is ", first.shape(), ", tensor ", i, " is ", s,
                           "; all must have the same number of dims"));
    for (size_t d = 0; d < s.size(); ++d)
      if (static_cast<int64_t>(d) != dim && s[d] != first.shape()[d])
        throw ShapeError(msg("concat: tensor 0 is ", first.shape(), ", tensor ", i, " is ", s,
                             "; they must match in every dim except dim ", dim,
                             " (the one joined), but dim ", d, " differs (", first.shape()[d],
                             " vs ", s[d], ")"));
    sizes.push_back(s[dim]);
    out_shape[dim] += s[dim];
  }

  // Each input fills its own slice of y; together they cover y exactly.
  Tensor y = make_tensor(out_shape, first.dtype(), /*zero_fill=*/false);
  int64_t start = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    copy_elements(y.slice(dim, start, start + sizes[i]), xs[i]);
    start += sizes[i];
  }

  if (!needs_grad(xs)) return y;
  return record("concat", y, xs, [sizes, dim](const Tensor& dy) -> TensorList {
    TensorList dxs;
    int64_t from = 0;
    for (int64_t n : sizes) {
      dxs.push_back(dy.slice(dim, from, from + n));
      from += n;
    }
    return dxs;
  });
}

// y = the x_i stacked along a new dim:  stack(xs, d) = concat(x_i.unsqueeze(d), d)
// backward: through concat and unsqueeze
Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  profiler::OpScope prof("stack");
  check_list("stack", xs);
  dim = wrap_dim("stack", dim, xs[0].dim() + 1);  // the new dim may go after the last
  for (size_t i = 1; i < xs.size(); ++i)
    if (xs[i].shape() != xs[0].shape())
      throw ShapeError(msg("stack: tensor 0 is ", xs[0].shape(), ", tensor ", i, " is ",
                           xs[i].shape(), "; stack needs all shapes equal"));
  std::vector<Tensor> parts;
  parts.reserve(xs.size());
  for (const Tensor& x : xs) parts.push_back(x.unsqueeze(dim));
  return concat(parts, dim);
}

// Pieces [0, size), [size, 2 size), ... along dim, each a slice view of x (so the
// gradient flows back through slice's backward).
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim) {
  profiler::OpScope prof("split");
  if (x.dim() == 0) throw ShapeError("split: cannot split a 0-d tensor; it has no dims");
  dim = wrap_dim("split", dim, x.dim());
  if (size <= 0)
    throw ValueError(msg("split: size is ", size, " (input shape ", x.shape(),
                         "); it must be positive"));
  const int64_t n = x.shape()[dim];
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < n;) {
    int64_t len = std::min(size, n - start);  // (start + size could overflow for a huge size)
    parts.push_back(x.slice(dim, start, start + len));
    start += len;
  }
  // An empty dim still splits into one (empty) piece, as in PyTorch.
  if (parts.empty()) parts.push_back(x.slice(dim, 0, 0));
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  profiler::OpScope prof("chunk");
  if (chunks <= 0)
    throw ValueError(msg("chunk: chunks is ", chunks, " (input shape ", x.shape(),
                         "); it must be positive"));
  if (x.dim() == 0) throw ShapeError("chunk: cannot chunk a 0-d tensor; it has no dims");
  dim = wrap_dim("chunk", dim, x.dim());
  const int64_t n = x.shape()[dim];
  // As in PyTorch, an empty dim gives `chunks` empty pieces.
  if (n == 0) {
    std::vector<Tensor> parts;
    for (int64_t c = 0; c < chunks; ++c) parts.push_back(x.slice(dim, 0, 0));
    return parts;
  }
  // ceil(n / chunks), written so that n + chunks cannot overflow. With that size
  // there may be fewer than `chunks` pieces (6 in 4 chunks: 2, 2, 2), as in PyTorch.
  return split(x, n / chunks + (n % chunks != 0), dim);
}

}  // namespace heed
