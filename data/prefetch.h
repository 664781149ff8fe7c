// The machinery behind a DataLoader's workers: batches 0..count-1 built by
// background threads, handed out strictly in order.
//
// Worker threads take the next unbuilt batch number from a shared counter, build
// it, and file the result (or the exception it threw) under its number; next()
// waits for the number it wants. So the batches come out in order however the
// threads interleave, and each batch is whatever build(k) returns, whichever
// thread ran it: results do not depend on the number of workers.
//
// Workers run at most `window` batches ahead of the consumer, which bounds the
// memory held by finished batches nobody has taken yet.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "heed/data/collate.h"

namespace heed::data {

class Prefetcher {
 public:
  Prefetcher(int64_t count, int64_t workers, int64_t window, std::function<Batch(int64_t k)> build);
  ~Prefetcher();  // stops the workers (each finishes the batch it is building) and joins them
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Batch number `taken` (0, 1, 2, ... on successive calls). If building it
  // threw, rethrows that exception here, on the consumer's thread.
  Batch next();

 private:
  void work();
  void stop_and_join();

  struct Built {
    Batch batch;
    std::exception_ptr error;
  };

  const int64_t count_, window_;
  const std::function<Batch(int64_t)> build_;
  std::mutex mutex_;
  std::condition_variable changed_;  // a batch was filed, taken, or stop_ was set
  int64_t next_to_build_ = 0;        // guarded by mutex_, like everything below
  int64_t taken_ = 0;
  bool stop_ = false;
  std::map<int64_t, Built> built_;
  std::vector<std::thread> threads_;  // last: started once everything above exists
};

}  // namespace heed::data
