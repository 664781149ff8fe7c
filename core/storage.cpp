#include "heed/core/storage.h"

#include <atomic>
#include <cstring>
#include <new>

#include "heed/core/error.h"

namespace heed {

namespace {
std::atomic<int64_t> g_live_bytes{0};
constexpr size_t kAlignment = 64;
// Far beyond this machine's memory: a request this large is a bug in the caller
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

struct BlockCache {
  void* blocks[kClasses][kPerClass + 1];  // (+1: an array may not have size 0)
  int count[kClasses] = {};
  // A thread's cache dies at thread exit, and a static Tensor may free its storage
  // after that; t_cache_gone (a plain bool, never destroyed) tells it to go straight
  // to the allocator instead of into a cache that no longer exists.
  ~BlockCache();
};
thread_local bool t_cache_gone = false;
thread_local BlockCache t_cache;

BlockCache::~BlockCache() {
  t_cache_gone = true;
  for (int c = 0; c < kClasses; ++c)
    for (int i = 0; i < count[c]; ++i) ::operator delete(blocks[c][i], std::align_val_t{kAlignment});
}

void* allocate_block(size_t padded) {
  if (padded <= kLargestCached && !t_cache_gone) {
    const int c = size_class(padded);
    if (t_cache.count[c] > 0) return t_cache.blocks[c][--t_cache.count[c]];
    padded = kAlignment << c;  // a full class-sized block, so it can be reused for any size in the class
  }
  return ::operator new(padded, std::align_val_t{kAlignment});
}

void free_block(void* p, size_t padded) {
  if (padded <= kLargestCached && !t_cache_gone) {
    const int c = size_class(padded);
    if (t_cache.count[c] < kPerClass) {
      t_cache.blocks[c][t_cache.count[c]++] = p;
      return;
    }
  }
  ::operator delete(p, std::align_val_t{kAlignment});
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
}

Storage::~Storage() {
  free_block(data_, padded_size(nbytes_));
  g_live_bytes -= static_cast<int64_t>(nbytes_);
}

int64_t Storage::live_bytes() { return g_live_bytes.load(); }

}  // namespace heed
