// FramePool: per-thread size-class free lists for the runtime's short-lived, fixed-size objects —
// coroutine frames (Task<T>'s promise operator new/delete), task cores and CallLater nodes.
//
// Why: a spawned task costs two allocations (its frame and its TaskCore) and a CallLater one;
// with glibc's malloc those were ~35% of the instructions of a spawn and most of the cost of a
// burst (bin consolidation, trimming the heap back to the kernel and page-faulting it in again).
//
// Design (one concept: a block cache with no per-block header):
//  * Requests up to kMaxBlock bytes are rounded up to a multiple of kGranule (16, the default
//    new-alignment) and served from a per-thread LIFO free list for that size; larger requests
//    go to ::operator new. A miss carves a block from the thread's current slab (kSlabBytes from
//    ::operator new); the slab's tail that cannot hold a block is left unused.
//  * Blocks are plain memory, so any thread may free a block any other thread allocated: it goes
//    on the freeing thread's list. A list that reaches kChainBlocks blocks is handed whole (O(1))
//    to a process-wide depot; a thread whose list is empty takes a chain from the depot before it
//    carves a new slab. So a producer thread that allocates and a consumer that frees do not grow
//    memory without bound: the consumer's surplus flows back to the producer.
//  * A thread's pool is handed to the depot's pool list when the thread exits and adopted by the
//    next thread that needs one; slabs are never returned to the system. Memory held by the pools
//    is therefore the peak the process ever had in live frames (plus at most one chain per size
//    class per thread), like a malloc arena that does not trim. Stats() reports it.
//  * Sanitizer builds (MANDRILL_SANITIZED, or ASan/TSan detected) bypass the cache: every block
//    is a separate ::operator new, so ASan still sees each frame's lifetime (use-after-free,
//    leaks). The pool class itself is still compiled and unit-tested in those builds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace mandrill::runtime::detail {

#if defined(MANDRILL_SANITIZED) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kFramePoolEnabled = false;
#else
inline constexpr bool kFramePoolEnabled = true;
#endif

struct FramePoolStats {
  std::size_t slab_bytes = 0;     // bytes taken from ::operator new for slabs (all pools)
  std::size_t depot_chains = 0;   // chains of free blocks waiting in the depot
  std::size_t pools = 0;          // pools created (one per thread that used one, reused)
};

class FramePool {
 public:
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kMaxBlock = 1024;
  static constexpr std::size_t kClasses = kMaxBlock / kGranule;
  static constexpr std::size_t kSlabBytes = std::size_t{1} << 20;
  static constexpr std::uint32_t kChainBlocks = 4096;

  FramePool() = default;
  // Returns the free lists to the depot (the memory stays with the process).
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // `size` must be in 1..kMaxBlock. Throws std::bad_alloc.
  void* Allocate(std::size_t size) {
    FreeList& list = lists_[ClassOf(size)];
    if (Block* b = list.head) {
      list.head = b->next;
      --list.count;
      return b;
    }
    return AllocateSlow(size);
  }
  // `p` from Allocate (of this or any other pool) with the same `size`.
  void Deallocate(void* p, std::size_t size) noexcept {
    FreeList& list = lists_[ClassOf(size)];
    if (list.count >= kChainBlocks) FlushToDepot(ClassOf(size));
    auto* b = static_cast<Block*>(p);
    b->next = list.head;
    list.head = b;
    ++list.count;
  }

  static constexpr std::size_t ClassOf(std::size_t size) { return (size - 1) / kGranule; }
  static constexpr std::size_t BlockSize(std::size_t cls) { return (cls + 1) * kGranule; }

  static FramePoolStats Stats();

  // Slow paths of AllocateBlock/DeallocateBlock for a thread without a pool yet (adopts one) or
  // one whose pool was already returned at thread exit (plain blocks, freed to the depot).
  static void* AllocateNoPool(std::size_t size);
  static void DeallocateNoPool(void* p, std::size_t size) noexcept;

  inline static constinit thread_local FramePool* tls_pool = nullptr;

 private:
  struct Block {
    Block* next;
  };
  struct FreeList {
    Block* head = nullptr;
    std::uint32_t count = 0;
  };
  void* AllocateSlow(std::size_t size);
  void FlushToDepot(std::size_t cls) noexcept;
  static FramePool* AdoptForThread();

  FreeList lists_[kClasses];
  char* bump_ = nullptr;  // the current slab's unused part
  char* bump_end_ = nullptr;
  FramePool* next_idle_ = nullptr;  // the depot's list of pools whose thread exited
  friend struct Depot;
};

// The runtime's allocation entry points (frames, task cores, timer nodes).
inline void* AllocateBlock(std::size_t size) {
  if constexpr (kFramePoolEnabled) {
    if (size <= FramePool::kMaxBlock) {
      if (FramePool* pool = FramePool::tls_pool) return pool->Allocate(size);
      return FramePool::AllocateNoPool(size);
    }
  }
  return ::operator new(size);
}
inline void DeallocateBlock(void* p, std::size_t size) noexcept {
  if constexpr (kFramePoolEnabled) {
    if (size <= FramePool::kMaxBlock) {
      if (FramePool* pool = FramePool::tls_pool) {
        pool->Deallocate(p, size);
      } else {
        FramePool::DeallocateNoPool(p, size);
      }
      return;
    }
  }
  ::operator delete(p, size);
}

// Class-level operator new/delete for runtime objects allocated one at a time.
struct PooledObject {
  static void* operator new(std::size_t size) { return AllocateBlock(size); }
  static void operator delete(void* p, std::size_t size) noexcept { DeallocateBlock(p, size); }
};

}  // namespace mandrill::runtime::detail
