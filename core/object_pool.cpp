#include "heed/core/object_pool.h"

#include "heed/core/free_lists.h"

namespace heed::detail {

namespace {

constexpr size_t kStep = 64;      // sizes are rounded up to a multiple of this
constexpr int kSizes = 16;        // so blocks of 64, 128, ..., 1024 bytes are pooled
// Freed blocks kept per size and thread (none under AddressSanitizer).
constexpr int kPoolDepth = kKeepFreedBlocks ? 64 : 0;

void release(void* p) { ::operator delete(p); }
using Pools = FreeLists<kSizes, kPoolDepth, release>;  // core/free_lists.h

// The pool for a block of `bytes`, or -1 if it is too big to pool.
int pool_of(size_t bytes) {
  const size_t c = (bytes + kStep - 1) / kStep;  // 1 .. kSizes for pooled sizes
  return c >= 1 && c <= kSizes ? static_cast<int>(c - 1) : -1;
}

}  // namespace

void* pool_allocate(size_t bytes) {
  const int c = pool_of(bytes);
  if (c < 0) return ::operator new(bytes);
  if (void* p = Pools::take(c)) return p;
  return ::operator new(static_cast<size_t>(c + 1) * kStep);  // the full size, reusable for the whole pool
}

void pool_free(void* p, size_t bytes) {
  const int c = pool_of(bytes);
  if (c >= 0 && Pools::keep(c, p)) return;
  ::operator delete(p);
}

}  // namespace heed::detail
