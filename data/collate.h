// Collate functions: how a list of examples becomes one batch.
//
//   stack_collate   field k of every example has one shape; the batch's field k
//                   is them stacked along a new dim 0: [B, ...]
//   pad_collate     field k's dim 0 may differ between examples (sentences of
//                   different lengths); each is padded at the end to the longest,
//                   and masks[k] marks the padding, as attention's key_padding_mask
//                   wants it: 1 = padding, hide it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "heed/core/tensor.h"
#include "heed/data/dataset.h"

namespace heed::data {

struct Batch {
  std::vector<Tensor> fields;   // field k of the B examples, batched: [B, ...]
  std::vector<Tensor> masks;    // pad_collate only: per field, int64 [B, L_max], 1 at padding
  std::vector<Tensor> lengths;  // pad_collate only: per field, int64 [B], each example's length

  Tensor& operator[](size_t k) { return fields.at(k); }
  const Tensor& operator[](size_t k) const { return fields.at(k); }
  int64_t size() const { return fields.empty() ? 0 : fields[0].size(0); }  // B
};

using Collate = std::function<Batch(const std::vector<Example>& examples)>;

Batch stack_collate(const std::vector<Example>& examples);
// pad_value fills the padding (a pad token's id, say).
Collate pad_collate(double pad_value = 0);

}  // namespace heed::data
