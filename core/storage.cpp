#include "heed/core/storage.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "heed/core/error.h"
#include "heed/core/free_lists.h"
#include "heed/core/profile_scope.h"

namespace heed {

namespace {
std::atomic<int64_t> g_live_bytes{0};
constexpr size_t kAlignment = 64;
// Far beyond any machine's memory (1 TiB): a request this large is a bug in the caller
// (or a hostile file), and it should fail with a message, not with the OOM killer.
constexpr size_t kMaxBytes = size_t{1} << 40;

// ---- a cache of small blocks ----------------------------------------------------
// A training step makes and frees the same small tensors every time (a bias, a
// [1, 10] activation, its gradient). An aligned allocation from malloc takes its
// slow path (memalign), which in a step of a 10x10 network cost more than the
// arithmetic. So each thread keeps the blocks it frees, up to 64 KiB each, in
// power-of-two size classes, and hands them out again. The cost in memory is
// bounded: at most kPerClass blocks per class, about 2 MiB per thread, and larger
// blocks (the ones that matter for memory) always go straight back to malloc.
constexpr int kClasses = 11;                  // 64 B, 128 B, ..., 64 KiB
constexpr size_t kLargestCached = kAlignment << (kClasses - 1);
constexpr int kPerClass = Storage::kCachesSmallBlocks ? 16 : 0;

// The size class of a block of `padded` bytes (a multiple of 64, at most 64 KiB).
int size_class(size_t padded) {
  int c = 0;
  while ((kAlignment << c) < padded) ++c;
  return c;
}

void release_aligned(void* p) { ::operator delete(p, std::align_val_t{kAlignment}); }
using SmallBlocks = detail::FreeLists<kClasses, kPerClass, release_aligned>;  // core/free_lists.h

// ---- a cache of large blocks ------------------------------------------------------
// Above 64 KiB the story is different but the cure the same. malloc serves big
// blocks straight from the kernel (mmap) and gives them back on free, so the next
// step's tensor of the same size arrives as fresh pages: one page fault per 4 KiB,
// each page zeroed by the kernel, a large share of a step that makes tensors of
// a few MiB. So freed large blocks are kept too, up to kLargeCacheBytes in all,
// oldest dropped first, and a request of exactly the same size takes one back.
// A training loop asks for the same sizes every step, so nearly every request
// after the first step is a hit. One cache for all threads (a block freed on one
// thread is often wanted on another), behind a mutex: next to the cost of filling
// 64 KiB, the lock is free.
constexpr size_t kLargeCacheBytes = Storage::kCachesSmallBlocks ? size_t{512} << 20 : 0;

class LargeBlockCache {
 public:
  void* take(size_t padded) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = blocks_.size(); i-- > 0;) {  // newest first: the likeliest to be warm in cache
      if (blocks_[i].first != padded) continue;
      void* p = blocks_[i].second;
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
      bytes_ -= padded;
      return p;
    }
    return nullptr;
  }
  // Keeps p, or returns false (the caller frees it) if it alone is over the budget.
  bool keep(void* p, size_t padded) {
    if (padded > kLargeCacheBytes) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    while (bytes_ + padded > kLargeCacheBytes) drop_oldest();
    blocks_.emplace_back(padded, p);
    bytes_ += padded;
    return true;
  }
  size_t release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t freed = bytes_;
    while (!blocks_.empty()) drop_oldest();
    return freed;
  }
  size_t bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }

 private:
  void drop_oldest() {
    ::operator delete(blocks_.front().second, std::align_val_t{kAlignment});
    bytes_ -= blocks_.front().first;
    blocks_.erase(blocks_.begin());
  }
  std::mutex mutex_;
  std::vector<std::pair<size_t, void*>> blocks_;  // (size, block), oldest first
  size_t bytes_ = 0;
};

// Never destroyed: a static Tensor may free its storage during exit, after any
// destructor of this cache would have run. (The blocks it still holds at exit stay
// reachable through it, so a leak checker does not count them.)
LargeBlockCache& large_cache() {
  static LargeBlockCache* cache = new LargeBlockCache;
  return *cache;
}

void* allocate_block(size_t padded) {
  if (padded <= kLargestCached) {
    const int c = size_class(padded);
    if (void* p = SmallBlocks::take(c)) return p;
    padded = kAlignment << c;  // a full class-sized block, reusable for any size in the class
  } else if (void* p = large_cache().take(padded)) {
    return p;
  }
  return ::operator new(padded, std::align_val_t{kAlignment});
}

void free_block(void* p, size_t padded) {
  if (padded <= kLargestCached) {
    if (SmallBlocks::keep(size_class(padded), p)) return;
  } else if (large_cache().keep(p, padded)) {
    return;
  }
  release_aligned(p);
}

// Round up: aligned new needs a size that is a multiple of the alignment, and 0
// bytes still gets a valid pointer so data() is never null.
size_t padded_size(size_t nbytes) {
  const size_t padded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  return padded == 0 ? kAlignment : padded;
}
}  // namespace

Storage::Storage(size_t nbytes, bool zero_fill) : nbytes_(nbytes) {
  if (nbytes > kMaxBytes) throw ValueError(msg("Storage: refusing to allocate ", nbytes, " bytes"));
  const size_t padded = padded_size(nbytes);
  data_ = allocate_block(padded);
  if (zero_fill) std::memset(data_, 0, padded);
  g_live_bytes += static_cast<int64_t>(nbytes_);
  profiler::add_bytes(static_cast<int64_t>(nbytes_));  // the profiler's "alloc MB", when one runs
}

Storage::~Storage() {
  free_block(data_, padded_size(nbytes_));
  g_live_bytes -= static_cast<int64_t>(nbytes_);
}

int64_t Storage::live_bytes() { return g_live_bytes.load(); }

int64_t Storage::cached_bytes() { return static_cast<int64_t>(large_cache().bytes()); }

int64_t Storage::empty_cache() { return static_cast<int64_t>(large_cache().release_all()); }

}  // namespace heed
