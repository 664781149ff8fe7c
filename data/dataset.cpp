#include "heed/data/dataset.h"

#include "heed/core/error.h"

namespace heed::data {

void throw_bad_index(const char* dataset, int64_t i, int64_t size) {
  throw IndexError(msg(dataset, ": index ", i, " is out of range for ", size, " examples (0 <= i < ", size, ")"));
}

TensorDataset::TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  if (tensors_.empty()) throw ValueError("TensorDataset: needs at least one tensor");
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const Tensor& t = tensors_[k];
    if (!t.defined()) throw ValueError(msg("TensorDataset: tensor ", k, " is undefined"));
    if (t.dim() == 0) throw ShapeError(msg("TensorDataset: tensor ", k, " is 0-d; its dim 0 must count the examples"));
    if (t.size(0) != tensors_[0].size(0))
      throw ShapeError(msg("TensorDataset: tensor 0 is ", tensors_[0].shape(), ", tensor ", k, " is ", t.shape(),
                           "; every tensor's dim 0 must count the same examples"));
  }
  size_ = tensors_[0].size(0);
}

Example TensorDataset::get(int64_t i) const {
  if (i < 0 || i >= size_) throw_bad_index("TensorDataset", i, size_);
  Example e;
  e.reserve(tensors_.size());
  for (const Tensor& t : tensors_) e.push_back(t.select(0, i));
  return e;
}

SequencePairDataset::SequencePairDataset(std::vector<std::vector<int64_t>> sources,
                                         std::vector<std::vector<int64_t>> targets) {
  if (sources.size() != targets.size())
    throw ValueError(msg("SequencePairDataset: ", sources.size(), " sources but ", targets.size(),
                         " targets; each source needs its target"));
  // Held as tensors once, so get() is a lookup and every batch shares them.
  auto to_tensor = [](const std::vector<int64_t>& s) {
    return Tensor::from_vector(s, {static_cast<int64_t>(s.size())});
  };
  for (size_t i = 0; i < sources.size(); ++i) {
    sources_.push_back(to_tensor(sources[i]));
    targets_.push_back(to_tensor(targets[i]));
  }
}

Example SequencePairDataset::get(int64_t i) const {
  if (i < 0 || i >= size()) throw_bad_index("SequencePairDataset", i, size());
  return {sources_[static_cast<size_t>(i)], targets_[static_cast<size_t>(i)]};
}

}  // namespace heed::data
