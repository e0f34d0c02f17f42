#include "shared/runtime/frame_pool.h"

#include <atomic>
#include <cassert>
#include <vector>

#include "shared/core/mutex.h"

namespace mandrill::runtime::detail {

// Process-wide: chains of free blocks per size class, and pools whose thread exited. Never
// destroyed (threads may free blocks during static destruction).
struct Depot {
  struct Chain {
    FramePool::Block* head;
    std::uint32_t count;
  };
  core::Mutex mu;
  std::vector<Chain> chains[FramePool::kClasses] GUARDED_BY(mu);
  // chains[cls].size(), readable without the lock: a pool growing its memory checks it before
  // every new block, so an empty depot must cost no lock.
  std::atomic<std::size_t> chain_count[FramePool::kClasses] = {};
  FramePool* idle_pools GUARDED_BY(mu) = nullptr;
  std::size_t slab_bytes GUARDED_BY(mu) = 0;
  std::size_t pools GUARDED_BY(mu) = 0;

  static Depot& Get() {
    static Depot* depot = new Depot;  // leaked on purpose
    return *depot;
  }
  static void Park(FramePool* pool) {
    Depot& d = Get();
    core::MutexLock lock(d.mu);
    pool->next_idle_ = d.idle_pools;
    d.idle_pools = pool;
  }
};

namespace {

// Hands the thread's pool back to the depot when the thread exits. Registered (as a
// thread_local with a destructor) only on a thread's first allocation, so the fast paths never
// touch it.
constinit thread_local bool tls_exited = false;

struct ThreadExit {
  ~ThreadExit() {
    FramePool* pool = FramePool::tls_pool;
    FramePool::tls_pool = nullptr;
    tls_exited = true;
    if (pool != nullptr) Depot::Park(pool);
  }
};

}  // namespace

FramePool::~FramePool() {
  for (std::size_t cls = 0; cls < kClasses; ++cls) {
    if (lists_[cls].count > 0) FlushToDepot(cls);
  }
}

FramePool* FramePool::AdoptForThread() {
  if (tls_pool != nullptr) return tls_pool;
  if (tls_exited) return nullptr;
  static thread_local ThreadExit exit_hook;
  (void)exit_hook;
  Depot& d = Depot::Get();
  FramePool* pool = nullptr;
  {
    core::MutexLock lock(d.mu);
    if (d.idle_pools != nullptr) {
      pool = d.idle_pools;
      d.idle_pools = pool->next_idle_;
      pool->next_idle_ = nullptr;
    } else {
      ++d.pools;
    }
  }
  if (pool == nullptr) pool = new FramePool;
  tls_pool = pool;
  return pool;
}

void* FramePool::AllocateNoPool(std::size_t size) {
  if (FramePool* pool = AdoptForThread()) return pool->Allocate(size);
  // The thread is exiting and already gave its pool back: a plain block of the class's size,
  // which the pools can recycle like any other.
  return ::operator new(BlockSize(ClassOf(size)));
}

void FramePool::DeallocateNoPool(void* p, std::size_t size) noexcept {
  if (!tls_exited) {
    FramePool* pool = nullptr;
    try {
      pool = AdoptForThread();
    } catch (...) {
      // Out of memory creating a pool: fall through to the depot.
    }
    if (pool != nullptr) {
      pool->Deallocate(p, size);
      return;
    }
  }
  auto* b = static_cast<Block*>(p);
  b->next = nullptr;
  Depot& d = Depot::Get();
  core::MutexLock lock(d.mu);
  d.chains[ClassOf(size)].push_back(Depot::Chain{b, 1});
  d.chain_count[ClassOf(size)].store(d.chains[ClassOf(size)].size(), std::memory_order_relaxed);
}

void* FramePool::AllocateSlow(std::size_t size) {
  std::size_t cls = ClassOf(size);
  FreeList& list = lists_[cls];
  assert(list.head == nullptr);
  Depot& d = Depot::Get();
  if (d.chain_count[cls].load(std::memory_order_relaxed) > 0) {
    core::MutexLock lock(d.mu);
    if (!d.chains[cls].empty()) {
      Depot::Chain c = d.chains[cls].back();
      d.chains[cls].pop_back();
      d.chain_count[cls].store(d.chains[cls].size(), std::memory_order_relaxed);
      list.head = c.head->next;
      list.count = c.count - 1;
      return c.head;
    }
  }
  std::size_t bytes = BlockSize(cls);
  if (static_cast<std::size_t>(bump_end_ - bump_) < bytes) {
    bump_ = static_cast<char*>(::operator new(kSlabBytes));
    bump_end_ = bump_ + kSlabBytes;
    core::MutexLock lock(d.mu);
    d.slab_bytes += kSlabBytes;
  }
  void* p = bump_;
  bump_ += bytes;
  return p;
}

void FramePool::FlushToDepot(std::size_t cls) noexcept {
  FreeList& list = lists_[cls];
  Depot::Chain chain{list.head, list.count};
  list.head = nullptr;
  list.count = 0;
  Depot& d = Depot::Get();
  core::MutexLock lock(d.mu);
  try {
    d.chains[cls].push_back(chain);
    d.chain_count[cls].store(d.chains[cls].size(), std::memory_order_relaxed);
  } catch (...) {
    // Out of memory growing the depot's index: keep the chain instead.
    list.head = chain.head;
    list.count = chain.count;
  }
}

FramePoolStats FramePool::Stats() {
  Depot& d = Depot::Get();
  core::MutexLock lock(d.mu);
  FramePoolStats s;
  s.slab_bytes = d.slab_bytes;
  s.pools = d.pools;
  for (const auto& c : d.chains) s.depot_chains += c.size();
  return s;
}

}  // namespace mandrill::runtime::detail
