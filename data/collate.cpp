#include "heed/data/collate.h"

#include <algorithm>

#include "heed/autograd/grad_mode.h"
#include "heed/core/error.h"
#include "heed/ops/index.h"

namespace heed::data {

// Every example must have the same number of fields; returns it.
static size_t field_count(const std::vector<Example>& examples, const char* op) {
  if (examples.empty()) throw ValueError(msg(op, ": no examples to batch"));
  const size_t fields = examples[0].size();
  for (size_t i = 0; i < examples.size(); ++i)
    if (examples[i].size() != fields)
      throw ValueError(msg(op, ": example 0 has ", fields, " fields, example ", i, " has ", examples[i].size(),
                           "; every example needs the same fields"));
  return fields;
}

Batch stack_collate(const std::vector<Example>& examples) {
  NoGradGuard no_grad;  // a batch is data, not part of any graph
  Batch batch;
  for (size_t k = 0; k < field_count(examples, "stack_collate"); ++k) {
    std::vector<Tensor> column;
    for (size_t i = 0; i < examples.size(); ++i) {
      const Tensor& t = examples[i][k];
      if (t.shape() != examples[0][k].shape())
        throw ShapeError(msg("stack_collate: field ", k, " is ", examples[0][k].shape(), " in example 0 and ", t.shape(),
                             " in example ", i, "; stacking needs one shape (pad_collate pads dim 0)"));
      column.push_back(t);
    }
    batch.fields.push_back(stack(column, 0));
  }
  return batch;
}

// Field k of every example, padded along dim 0 to the longest:
//   out[i, :len_i] = x_i,  out[i, len_i:] = pad_value,  mask[i, t] = (t >= len_i)
static void pad_field(const std::vector<Example>& examples, size_t k, double pad_value, Batch& batch) {
  const Tensor& first = examples[0][k];
  if (first.dim() == 0) throw ShapeError(msg("pad_collate: field ", k, " is 0-d; padding needs a dim 0 to pad"));
  int64_t longest = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const Tensor& t = examples[i][k];
    const bool same_rest = t.dim() == first.dim() && t.dtype() == first.dtype() &&
                           std::equal(t.shape().begin() + 1, t.shape().end(), first.shape().begin() + 1);
    if (!same_rest)
      throw ShapeError(msg("pad_collate: field ", k, " is ", first.shape(), " ", first.dtype(), " in example 0 and ",
                           t.shape(), " ", t.dtype(), " in example ", i, "; only dim 0 may differ"));
    longest = std::max(longest, t.size(0));
  }
  const auto B = static_cast<int64_t>(examples.size());
  Shape shape = first.shape();
  shape[0] = longest;
  shape.insert(shape.begin(), B);
  Tensor out = Tensor::full(shape, pad_value, first.dtype());          // [B, L_max, ...]
  Tensor mask = Tensor::ones({B, longest}, kInt64);                    // [B, L_max]
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < B; ++i) {
    const Tensor& t = examples[static_cast<size_t>(i)][k];
    const int64_t len = t.size(0);
    if (len > 0) {
      out.select(0, i).slice(0, 0, len).copy_(t);
      mask.select(0, i).slice(0, 0, len).zero_();
    }
    lengths.push_back(len);
  }
  batch.fields.push_back(out);
  batch.masks.push_back(mask);
  batch.lengths.push_back(Tensor::from_vector(lengths, {B}));
}

Collate pad_collate(double pad_value) {
  return [pad_value](const std::vector<Example>& examples) {
    NoGradGuard no_grad;
    Batch batch;
    for (size_t k = 0; k < field_count(examples, "pad_collate"); ++k) pad_field(examples, k, pad_value, batch);
    return batch;
  };
}

}  // namespace heed::data
