// FreeLists: per-thread lists of freed blocks, one list per size class.
//
// Two allocators keep what they free for the next request of the same size
// class instead of handing it back to malloc: the pools of small objects
// (core/object_pool.cpp: TensorImpl, Storage, graph nodes) and the cache of
// small tensor blocks (core/storage.cpp). Both keep their lists here:
//
//   using Lists = FreeLists<16, 64, release>;   // 16 classes, 64 blocks each
//   if (void* p = Lists::take(c)) return p;     // a kept block of class c, or null
//   if (!Lists::keep(c, p)) release(p);         // full (or the thread is ending)
//
// The lists are plain thread-local data with no constructor or destructor, so
// reaching them is a plain thread-local access; an object with a destructor
// would cost a guard check on every access, which for these tiny operations
// would be most of the cost. The one object with a destructor, the reaper that
// frees a thread's blocks when the thread ends, is touched only when a list
// goes from empty to non-empty, which is enough to make it exist.
#pragma once

namespace heed::detail {

// Whether freed blocks are kept for reuse at all: not under AddressSanitizer,
// where a recycled block would hide a use after free. Every cache and pool in
// heed (these lists, and the large-block cache in core/storage.cpp) asks here.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kKeepFreedBlocks = false;
#else
inline constexpr bool kKeepFreedBlocks = true;
#endif

// kClasses lists of at most kDepth blocks; kRelease hands a block back to the
// system. kDepth may be 0 (keep nothing: the sanitizer build).
template <int kClasses, int kDepth, void (*kRelease)(void*)>
class FreeLists {
 public:
  static void* take(int c) {
    if (t_gone || t_lists.count[c] == 0) return nullptr;
    return t_lists.blocks[c][--t_lists.count[c]];
  }

  static bool keep(int c, void* p) {
    if (t_gone || t_lists.count[c] >= kDepth) return false;
    if (t_lists.count[c] == 0) t_reaper.ensure_alive();
    t_lists.blocks[c][t_lists.count[c]++] = p;
    return true;
  }

 private:
  struct Lists {
    void* blocks[kClasses][kDepth + 1];  // (+1: an array may not have size 0)
    int count[kClasses];
  };
  struct Reaper {
    void ensure_alive() {}  // any use of a thread_local makes it exist (and schedules its destructor)
    ~Reaper() {
      t_gone = true;
      for (int c = 0; c < kClasses; ++c)
        for (int i = 0; i < t_lists.count[c]; ++i) kRelease(t_lists.blocks[c][i]);
    }
  };
  static inline thread_local Lists t_lists;  // zero at thread start
  // A static Tensor may be freed during exit, after this thread's reaper has
  // run; t_gone (a plain bool, never destroyed) sends it straight to kRelease.
  static inline thread_local bool t_gone = false;
  static inline thread_local Reaper t_reaper;
};

}  // namespace heed::detail
