// PoolAllocator: recycles the small objects every op makes and drops.
//
// Each op's output is a TensorImpl and a Storage, each held by a shared_ptr, and
// each op that records for autograd adds a Node: three or four small heap objects
// per op, all freed again within the step. malloc keeps only seven freed blocks of
// a size at hand (glibc's tcache); a burst of twenty TensorImpls freed at the end
// of a backward overflows that and the rest take malloc's slow path, which in a
// small network costs more than the arithmetic of the ops themselves.
//
// So these objects come from per-thread free lists, one list per object size:
//
//   auto impl = std::allocate_shared<TensorImpl>(PoolAllocator<TensorImpl>());
//
// allocate_shared puts the object and its reference counts in one block, of a type
// only the standard library knows; it asks the allocator for one such block at a
// time, and the allocator rounds its size up to a multiple of 64 bytes and keeps
// at most kPoolDepth freed blocks per size, per thread. A block freed on another
// thread than the one that made it simply joins that thread's list.
#pragma once

#include <cstddef>
#include <new>

namespace heed {

namespace detail {
void* pool_allocate(size_t bytes);
void pool_free(void* p, size_t bytes);
}  // namespace detail

template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) {}  // NOLINT: rebinding, as allocate_shared does

  T* allocate(size_t n) { return static_cast<T*>(detail::pool_allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { detail::pool_free(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const PoolAllocator<U>&) const { return true; }  // any instance frees any block
};

}  // namespace heed
