// DataLoader: a dataset served in batches, as torch.utils.data.DataLoader.
//
//   data::TensorDataset ds({x, y});
//   data::DataLoader loader(ds, {.batch_size = 32, .shuffle = true, .seed = 1, .num_workers = 2});
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (data::Batch& b : loader) train_step(b[0], b[1]);   // b[0]: [32, 3], b[1]: [32]
//
// An epoch is the sampler's order for that epoch cut into batches of batch_size
// (the last one shorter unless drop_last). With num_workers > 0, background
// threads build the next batches while the loop trains on this one; the batches
// still come out in order and are bitwise the same for any number of workers.
// An exception thrown while building a batch (by the dataset's get, by the
// collate function) is rethrown in the loop, when that batch's turn comes.
//
// The loader is a cursor over epochs, and state() says where it stands: the
// next batch it will yield. A range-for continues from there and runs to the
// end of that epoch, after which the cursor moves to the next epoch's start.
// A loop left early (break, an exception) leaves the cursor at the first batch
// not yet yielded, so saving state() with a checkpoint and set_state() after
// loading it resumes the data exactly. (Unlike PyTorch, where each new `for`
// starts a fresh epoch: here set_epoch() does that.)
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <vector>

#include "heed/data/collate.h"
#include "heed/data/dataset.h"
#include "heed/data/sampler.h"

namespace heed::data {

struct LoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;      // a RandomSampler(seed) instead of a SequentialSampler
  uint64_t seed = 0;         // epoch e's shuffle depends on (seed, e) alone
  bool drop_last = false;    // drop an epoch's last batch when it is short
  int64_t num_workers = 0;   // background threads building batches; 0 builds them in the loop
  int64_t prefetch_factor = 2;  // batches each worker may build ahead of the loop
  std::shared_ptr<const Sampler> sampler = nullptr;  // when set, replaces shuffle and seed
  Collate collate = stack_collate;
};

// The next batch a loader yields: batch `batch` of epoch `epoch`.
struct LoaderState {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator==(const LoaderState&) const = default;
};

class DataLoader {
 public:
  // The loader keeps its own copy of the dataset (cheap for heed's datasets:
  // they hold tensors, and a Tensor is a handle).
  template <Dataset D>
  explicit DataLoader(D dataset, LoaderOptions options = {})
      : DataLoader(make_source(std::move(dataset)), std::move(options)) {}
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t size() const;  // batches per epoch, like len(loader)
  int64_t dataset_size() const { return source_.size(); }
  const LoaderOptions& options() const { return options_; }

  LoaderState state() const { return state_; }
  void set_state(LoaderState state);
  void set_epoch(int64_t epoch) { set_state({epoch, 0}); }

  class Iterator;
  Iterator begin();  // one iteration at a time: a second begin() while one runs throws
  std::default_sentinel_t end() const { return {}; }

 private:
  // The dataset, type-erased, so the loader itself is compiled once (loader.cpp).
  struct Source {
    std::function<int64_t()> size;
    std::function<Example(int64_t)> get;
  };
  template <Dataset D>
  static Source make_source(D dataset) {
    auto ds = std::make_shared<const D>(std::move(dataset));
    return {[ds] { return static_cast<int64_t>(ds->size()); }, [ds](int64_t i) { return Example(ds->get(i)); }};
  }
  DataLoader(Source source, LoaderOptions options);

  std::vector<std::vector<int64_t>> plan(int64_t epoch) const;  // each batch's indices
  Batch build(const std::vector<int64_t>& indices) const;

  Source source_;
  LoaderOptions options_;
  LoaderState state_;
  bool running_ = false;
};

// A range-for's iterator: *it is the current batch. Move-only.
class DataLoader::Iterator {
 public:
  Iterator(Iterator&&) noexcept;
  Iterator& operator=(Iterator&&) noexcept;
  ~Iterator();

  Batch& operator*();
  Batch* operator->() { return &**this; }
  Iterator& operator++();
  bool operator==(std::default_sentinel_t) const;

 private:
  friend class DataLoader;
  struct Run;
  explicit Iterator(DataLoader& loader);
  std::unique_ptr<Run> run_;
};

}  // namespace heed::data
