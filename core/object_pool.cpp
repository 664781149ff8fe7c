#include "heed/core/object_pool.h"

namespace heed::detail {

namespace {

constexpr size_t kStep = 64;      // sizes are rounded up to a multiple of this
constexpr int kSizes = 16;        // so blocks of 64, 128, ..., 1024 bytes are pooled
// Freed blocks kept per size and thread. None under AddressSanitizer: a recycled
// block would hide a use after free.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kPoolDepth = 0;
#else
constexpr int kPoolDepth = 64;
#endif

// Plain data, zero at thread start: no constructor or destructor, so reaching it
// is a plain thread-local access (an object with a destructor would cost a guard
// check on every access, which here would be most of the cost).
struct Pools {
  void* blocks[kSizes][kPoolDepth + 1];  // (+1: an array may not have size 0)
  int count[kSizes];
};
thread_local Pools t_pools;
// A static Tensor may be freed during exit, after this thread's reaper has run;
// t_pools_gone (a plain bool, never destroyed) sends it straight to the allocator.
thread_local bool t_pools_gone = false;

// Frees the blocks a thread still holds when it ends. Touched only when a pool
// goes from empty to non-empty, which makes it exist before any block is kept.
struct PoolsReaper {
  void ensure_alive() {}  // any use of a thread_local makes it exist (and schedules its destructor)
  ~PoolsReaper() {
    t_pools_gone = true;
    for (int c = 0; c < kSizes; ++c)
      for (int i = 0; i < t_pools.count[c]; ++i) ::operator delete(t_pools.blocks[c][i]);
  }
};
thread_local PoolsReaper t_reaper;

// The pool for a block of `bytes`, or -1 if it is too big to pool.
int pool_of(size_t bytes) {
  const size_t c = (bytes + kStep - 1) / kStep;  // 1 .. kSizes for pooled sizes
  return c >= 1 && c <= kSizes ? static_cast<int>(c - 1) : -1;
}

}  // namespace

void* pool_allocate(size_t bytes) {
  const int c = pool_of(bytes);
  if (c < 0) return ::operator new(bytes);
  if (!t_pools_gone && t_pools.count[c] > 0) return t_pools.blocks[c][--t_pools.count[c]];
  return ::operator new(static_cast<size_t>(c + 1) * kStep);  // the full size, reusable for the whole pool
}

void pool_free(void* p, size_t bytes) {
  const int c = pool_of(bytes);
  if (c >= 0 && !t_pools_gone && t_pools.count[c] < kPoolDepth) {
    if (t_pools.count[c] == 0) t_reaper.ensure_alive();
    t_pools.blocks[c][t_pools.count[c]++] = p;
    return;
  }
  ::operator delete(p);
}

}  // namespace heed::detail
