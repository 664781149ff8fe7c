#include "heed/data/loader.h"

#include <algorithm>

#include "heed/core/error.h"
#include "heed/data/prefetch.h"

namespace heed::data {

DataLoader::DataLoader(Source source, LoaderOptions options) : source_(std::move(source)), options_(std::move(options)) {
  const LoaderOptions& o = options_;
  if (o.batch_size < 1 || o.num_workers < 0 || o.prefetch_factor < 1)
    throw ValueError(msg("DataLoader: batch_size ", o.batch_size, ", num_workers ", o.num_workers, ", prefetch_factor ",
                         o.prefetch_factor, "; need batch_size >= 1, num_workers >= 0, prefetch_factor >= 1"));
  if (!o.collate) throw ValueError("DataLoader: the collate function is empty");
  if (!o.sampler) {
    if (o.shuffle)
      options_.sampler = std::make_shared<RandomSampler>(o.seed);
    else
      options_.sampler = std::make_shared<SequentialSampler>();
  }
}

// An Iterator holds a reference to its loader: destroying the loader while a
// range-for over it runs is as wrong as destroying a vector while iterating it.
DataLoader::~DataLoader() = default;

std::vector<std::vector<int64_t>> DataLoader::plan(int64_t epoch) const {
  const int64_t n = source_.size();
  const std::vector<int64_t> order = options_.sampler->indices(n, epoch);
  const auto size = static_cast<int64_t>(order.size());
  const int64_t B = options_.batch_size;
  std::vector<std::vector<int64_t>> batches;
  for (int64_t first = 0; first < size; first += B) {
    const int64_t last = std::min(first + B, size);
    if (last - first < B && options_.drop_last) break;
    batches.emplace_back(order.begin() + first, order.begin() + last);
  }
  return batches;
}

int64_t DataLoader::size() const {
  // Counted, not planned: drawing an epoch's order only to count it would be work thrown away.
  const int64_t examples = options_.sampler->length(source_.size()), B = options_.batch_size;
  return options_.drop_last ? examples / B : (examples + B - 1) / B;
}

Batch DataLoader::build(const std::vector<int64_t>& indices) const {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (int64_t i : indices) examples.push_back(source_.get(i));
  return options_.collate(examples);
}

void DataLoader::set_state(LoaderState state) {
  if (running_) throw ValueError("DataLoader::set_state: an iteration is running; set the state before the loop");
  if (state.epoch < 0 || state.batch < 0)
    throw ValueError(msg("DataLoader::set_state: epoch ", state.epoch, ", batch ", state.batch, "; both must be >= 0"));
  state_ = state;
}

DataLoader::Iterator DataLoader::begin() { return Iterator(*this); }

// ---- the iterator ---------------------------------------------------------------

// One pass from the loader's state to the end of that epoch.
struct DataLoader::Iterator::Run {
  Run(DataLoader& l) : loader(l), epoch(l.state_.epoch), batches(l.plan(epoch)) {
    next = std::min(l.state_.batch, static_cast<int64_t>(batches.size()));
    const int64_t workers = l.options_.num_workers;
    const auto left = static_cast<int64_t>(batches.size()) - next;
    if (workers > 0 && left > 0) {
      // The prefetcher numbers its batches from 0; ours start at `next`.
      prefetcher = std::make_unique<Prefetcher>(left, workers, workers * l.options_.prefetch_factor,
                                                [this, first = next](int64_t k) {
                                                  return loader.build(batches[static_cast<size_t>(first + k)]);
                                                });
    }
    loader.running_ = true;
  }
  ~Run() {
    prefetcher.reset();  // joins the workers before anything they read goes away
    loader.running_ = false;
  }

  // Makes the next batch current, or marks the epoch done and moves the cursor on.
  void fetch() {
    if (next == static_cast<int64_t>(batches.size())) {
      done = true;
      current = Batch{};
      loader.state_ = {epoch + 1, 0};
      return;
    }
    current = prefetcher ? prefetcher->next() : loader.build(batches[static_cast<size_t>(next)]);
    ++next;
    loader.state_ = {epoch, next};  // yielded: a checkpoint taken now resumes after it
  }

  DataLoader& loader;
  const int64_t epoch;
  const std::vector<std::vector<int64_t>> batches;  // the whole epoch's, each batch's indices
  int64_t next = 0;                                  // the next batch to fetch
  Batch current;
  bool done = false;
  std::unique_ptr<Prefetcher> prefetcher;  // last: its workers read everything above
};

DataLoader::Iterator::Iterator(DataLoader& loader) {
  if (loader.running_)
    throw ValueError("DataLoader: an iteration over this loader is already running; one at a time "
                     "(the loader's state is the position of that one)");
  run_ = std::make_unique<Run>(loader);
  run_->fetch();
}

DataLoader::Iterator::Iterator(Iterator&&) noexcept = default;
DataLoader::Iterator& DataLoader::Iterator::operator=(Iterator&&) noexcept = default;
DataLoader::Iterator::~Iterator() = default;

Batch& DataLoader::Iterator::operator*() {
  if (!run_ || run_->done) throw IndexError("DataLoader: the iteration is over; there is no current batch");
  return run_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (!run_ || run_->done) throw IndexError("DataLoader: the iteration is over; cannot advance past its end");
  run_->fetch();
  return *this;
}

bool DataLoader::Iterator::operator==(std::default_sentinel_t) const { return !run_ || run_->done; }

}  // namespace heed::data
