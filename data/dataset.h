// Datasets: what a DataLoader draws examples from.
//
// A dataset is anything with size() and get(i), the i-th example as a list of
// tensors, one per field (input, target, ...), as a PyTorch Dataset's
// __len__ and __getitem__ returning a tuple:
//
//   data::TensorDataset ds({x, y});          // x: [N, 3], y: [N]
//   data::Example e = ds.get(5);             // {x[5], y[5]}: a [3] and a []
//
// get(i) must be a function of i alone (no hidden state, no random draws of its
// own) and safe to call from several threads at once: a loader's workers call
// it in parallel, and a batch must not depend on which worker built it.
#pragma once

#include <concepts>
#include <cstdint>
#include <vector>

#include "heed/core/tensor.h"

namespace heed::data {

// One example: its fields, each a tensor.
using Example = std::vector<Tensor>;

template <class D>
concept Dataset = requires(const D& d, int64_t i) {
  { d.size() } -> std::convertible_to<int64_t>;
  { d.get(i) } -> std::convertible_to<Example>;
};

// The error every dataset gives for an index outside [0, size).
[[noreturn]] void throw_bad_index(const char* dataset, int64_t i, int64_t size);

// Examples are rows: get(i) is every tensor's slice i along dim 0 (a view, no copy).
class TensorDataset {
 public:
  // Every tensor must have the same size along dim 0 (the number of examples).
  explicit TensorDataset(std::vector<Tensor> tensors);
  int64_t size() const { return size_; }
  Example get(int64_t i) const;

 private:
  std::vector<Tensor> tensors_;
  int64_t size_ = 0;
};

// Pairs of token sequences of any lengths, for sequence-to-sequence models
// (a sentence and its translation, digits and their reverse): get(i) is
// {source, target}, int64 [S_i] and [T_i]. Batch them with pad_collate.
class SequencePairDataset {
 public:
  SequencePairDataset(std::vector<std::vector<int64_t>> sources, std::vector<std::vector<int64_t>> targets);
  int64_t size() const { return static_cast<int64_t>(sources_.size()); }
  Example get(int64_t i) const;

 private:
  std::vector<Tensor> sources_, targets_;
};

// A dataset's examples at the given indices, in that order (torch.utils.data.Subset).
template <Dataset D>
class Subset {
 public:
  Subset(D dataset, std::vector<int64_t> indices) : dataset_(std::move(dataset)), indices_(std::move(indices)) {
    const int64_t n = dataset_.size();
    for (int64_t i : indices_)
      if (i < 0 || i >= n) throw_bad_index("Subset", i, n);
  }
  int64_t size() const { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t i) const {
    if (i < 0 || i >= size()) throw_bad_index("Subset", i, size());
    return dataset_.get(indices_[static_cast<size_t>(i)]);
  }

 private:
  D dataset_;
  std::vector<int64_t> indices_;
};

}  // namespace heed::data
