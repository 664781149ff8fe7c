#include "heed/data/prefetch.h"

#include <omp.h>

#include "heed/autograd/grad_mode.h"
#include "heed/core/error.h"

namespace heed::data {

Prefetcher::Prefetcher(int64_t count, int64_t workers, int64_t window, std::function<Batch(int64_t)> build)
    : count_(count), window_(window), build_(std::move(build)) {
  if (workers < 1 || window < 1)
    throw ValueError(msg("Prefetcher: ", workers, " workers, window ", window, "; both must be at least 1"));
  try {
    for (int64_t w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
  } catch (...) {  // the system refused a thread: stop the ones started, then report
    stop_and_join();
    throw;
  }
}

Prefetcher::~Prefetcher() { stop_and_join(); }

void Prefetcher::stop_and_join() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void Prefetcher::work() {
  // A worker builds batches, never graphs. And it keeps to one thread: ops that
  // would open an OpenMP team (a large copy) would otherwise start one per
  // worker, on top of the threads the training loop itself uses.
  NoGradGuard no_grad;
  omp_set_num_threads(1);
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || next_to_build_ >= count_ || next_to_build_ < taken_ + window_; });
    if (stop_ || next_to_build_ >= count_) return;
    const int64_t k = next_to_build_++;
    lock.unlock();
    Built built;
    try {
      built.batch = build_(k);
    } catch (...) {
      built.error = std::current_exception();  // rethrown by next(), on the loop's thread
    }
    lock.lock();
    built_.emplace(k, std::move(built));
    changed_.notify_all();
  }
}

Batch Prefetcher::next() {
  std::unique_lock lock(mutex_);
  if (taken_ >= count_) throw IndexError(msg("Prefetcher: all ", count_, " batches were taken"));
  changed_.wait(lock, [&] { return built_.count(taken_) > 0; });
  auto node = built_.extract(taken_);
  ++taken_;
  lock.unlock();
  changed_.notify_all();  // a worker waiting on the window may go on
  if (node.mapped().error) std::rethrow_exception(node.mapped().error);
  return std::move(node.mapped().batch);
}

}  // namespace heed::data
