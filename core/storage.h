// Storage: one reference-counted block of memory that any number of tensors
// (a base and its views) look into through their own shape, strides and offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "heed/core/free_lists.h"

namespace heed {

class Storage {
 public:
  // 64-byte aligned (one cache line, any SIMD width). Zero-filled unless the caller
  // is about to overwrite every byte anyway (Tensor::empty, most kernels' outputs).
  explicit Storage(size_t nbytes, bool zero_fill = true);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

  // The version counter. Every in-place write bumps it; autograd records it when
  // it saves a tensor for backward and checks it is unchanged when it uses it.
  // It lives here, on the memory, so a write through any view is seen.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

  // Whether freed blocks are kept for reuse (core/storage.cpp): up to 64 KiB per
  // thread by size class, larger ones up to 512 MiB in all, by exact size. Not
  // under AddressSanitizer: a reused block would hide a use after free.
  static constexpr bool kCachesSmallBlocks = detail::kKeepFreedBlocks;  // core/free_lists.h

  // Bytes held by all live storages: tests use it to prove a finished graph frees
  // its memory (run many iterations; the number must not grow).
  static int64_t live_bytes();
  // Bytes of freed large blocks held for reuse, and a way to hand them back to the
  // system (like torch.cuda.empty_cache; returns the bytes freed). Small blocks
  // stay in their threads' caches: at most about 2 MiB per thread.
  static int64_t cached_bytes();
  static int64_t empty_cache();

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  uint64_t version_ = 0;
};

}  // namespace heed
