// Embedding lookup: a gather forward, a scatter-add backward.
#include "heed/ops/embedding.h"

#include "heed/autograd/node.h"
#include "heed/core/profile_scope.h"
#include "heed/ops/index.h"
#include "heed/ops/view.h"

namespace heed {

std::optional<int64_t> wrap_padding_idx(const char* op, std::optional<int64_t> padding_idx, int64_t V) {
  if (!padding_idx) return padding_idx;
  int64_t p = *padding_idx;
  if (p < -V || p >= V)
    throw IndexError(msg(op, ": padding_idx ", p, " is out of range for num_embeddings ", V,
                         "; it must be in [", -V, ", ", V, ")"));
  return p < 0 ? p + V : p;
}

namespace {

// The ids as a flat vector, each checked against the table size. Checked here, not
// only inside index_select, so the message speaks of ids and the embedding table.
std::vector<int64_t> checked_ids(const Tensor& ids, int64_t V) {
  if (ids.dtype() != kInt64)
    throw DTypeError(msg("embedding: ids have dtype ", ids.dtype(), " (shape ", ids.shape(),
                         "); ids must be int64"));
  std::vector<int64_t> flat = ids.to_vector<int64_t>();
  for (size_t i = 0; i < flat.size(); ++i)
    if (flat[i] < 0 || flat[i] >= V)
      throw IndexError(msg("embedding: id ", flat[i], " (element ", i, " of ids of shape ", ids.shape(),
                           ") is out of range for num_embeddings ", V, "; ids must be in [0, ", V, ")"));
  return flat;
}

}  // namespace

// y[..., :] = weight[ids[...], :]
// dweight[v, :] = sum of dy[..., :] over the positions where ids == v, except v == padding_idx
// saves: the id values (ints), weight's shape
Tensor embedding(const Tensor& weight, const Tensor& ids, std::optional<int64_t> padding_idx) {
  profiler::OpScope prof("embedding");
  if (weight.dim() != 2)
    throw ShapeError(msg("embedding: weight has shape ", weight.shape(), "; it must be 2-D [V, E]"));
  const int64_t V = weight.size(0), E = weight.size(1);
  padding_idx = wrap_padding_idx("embedding", padding_idx, V);
  std::vector<int64_t> flat = checked_ids(ids, V);
  const int64_t n = static_cast<int64_t>(flat.size());

  // The gather is index_select's kernel (on a detached weight: this op records its
  // own node below, whose backward knows to skip the padding row).
  Tensor index = Tensor::from_vector(flat, {n});
  Shape out_shape = ids.shape();
  out_shape.push_back(E);
  Tensor y = index_select(weight.detach(), 0, index).reshape(out_shape);

  if (!needs_grad({weight})) return y;
  Shape ws = weight.shape();
  DType dt = weight.dtype();
  int64_t pad = padding_idx.value_or(-1);  // -1 matches no id
  return record("embedding", y, {weight}, [flat = std::move(flat), ws, dt, pad, E](const Tensor& dy) -> TensorList {
    Tensor dw = Tensor::zeros(ws, dt);
    Tensor g = dy.contiguous();  // [..., E] seen as [n, E]
    dispatch_floating(dt, [&](auto tag) {
      using T = decltype(tag);
      const T* gp = g.data_ptr<T>();
      T* dp = dw.data_ptr<T>();
      // Serial over positions: a repeated id adds twice into the same row, so two
      // threads could race on it. This is the scatter-add of index_select's backward.
      for (size_t i = 0; i < flat.size(); ++i) {
        if (flat[i] == pad) continue;
        T* row = dp + flat[i] * E;
        const T* grow = gp + static_cast<int64_t>(i) * E;
        for (int64_t j = 0; j < E; ++j) row[j] += grow[j];
      }
    });
    return {dw};
  });
}

}  // namespace heed
