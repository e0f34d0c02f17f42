// FramePool: size classes, reuse, alignment, blocks freed on another thread, pools recycled
// across thread exits. The pool's code is exercised directly, so these run in sanitizer builds
// too (where frames themselves bypass the pool).
#include "shared/runtime/frame_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace mandrill::runtime::detail {
namespace {

TEST(FramePoolTest, BlocksAreAlignedDistinctAndReused) {
  FramePool pool;
  std::set<void*> seen;
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t size = 1; size <= FramePool::kMaxBlock; size += 7) {
    void* p = pool.Allocate(size);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % FramePool::kGranule, 0u);
    EXPECT_TRUE(seen.insert(p).second);
    std::memset(p, 0xab, size);  // the whole requested size is usable
    blocks.emplace_back(p, size);
  }
  for (auto [p, size] : blocks) pool.Deallocate(p, size);
  // LIFO per size class: the last block freed for a class comes back first.
  void* again = pool.Allocate(blocks.back().second);
  EXPECT_EQ(again, blocks.back().first);
  pool.Deallocate(again, blocks.back().second);
}

TEST(FramePoolTest, SizesInOneClassShareBlocks) {
  FramePool pool;
  void* p = pool.Allocate(33);
  pool.Deallocate(p, 33);
  EXPECT_EQ(pool.Allocate(48), p);  // 33..48 round up to the same 48-byte class
  pool.Deallocate(p, 48);
}

TEST(FramePoolTest, LongFreeListsFlowThroughTheDepot) {
  // A consumer that only frees hands whole chains to the depot; a producer that only allocates
  // takes them back before carving new slabs.
  constexpr std::size_t kSize = 96;
  constexpr int kBlocks = 3 * FramePool::kChainBlocks + 17;
  FramePool producer;
  std::vector<void*> blocks;
  for (int i = 0; i < kBlocks; ++i) blocks.push_back(producer.Allocate(kSize));
  {
    FramePool consumer;
    for (void* p : blocks) consumer.Deallocate(p, kSize);
    EXPECT_GE(FramePool::Stats().depot_chains, 3u);
  }  // the consumer's leftovers go to the depot too
  std::size_t slabs_before = FramePool::Stats().slab_bytes;
  std::set<void*> original(blocks.begin(), blocks.end());
  int recycled = 0;
  std::vector<void*> again;
  for (int i = 0; i < kBlocks; ++i) {
    void* p = producer.Allocate(kSize);
    recycled += original.count(p) != 0 ? 1 : 0;
    again.push_back(p);
  }
  EXPECT_EQ(recycled, kBlocks);  // every block came back through the depot
  EXPECT_EQ(FramePool::Stats().slab_bytes, slabs_before);
  for (void* p : again) producer.Deallocate(p, kSize);
}

TEST(FramePoolTest, CrossThreadAllocateAndFree) {
  // Producer threads allocate through the thread-local entry points, a consumer frees; under
  // TSan this checks the depot's locking.
  constexpr int kThreads = 3;
  constexpr int kPerThread = 20'000;
  std::mutex mu;
  std::vector<void*> handoff;
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        void* p = FramePool::AllocateNoPool(64);  // the thread's own pool (adopted once)
        std::memset(p, i & 0xff, 64);
        std::lock_guard lock(mu);
        handoff.push_back(p);
      }
      ++done;
    });
  }
  std::thread consumer([&] {
    int freed = 0;
    while (freed < kThreads * kPerThread) {
      std::vector<void*> batch;
      {
        std::lock_guard lock(mu);
        batch.swap(handoff);
      }
      for (void* p : batch) FramePool::DeallocateNoPool(p, 64);
      freed += static_cast<int>(batch.size());
      if (batch.empty()) std::this_thread::yield();
    }
  });
  for (auto& t : producers) t.join();
  consumer.join();
  EXPECT_EQ(done.load(), kThreads);
}

TEST(FramePoolTest, ExitedThreadsPoolsAreReused) {
  // Sequential short-lived threads: each adopts the pool the previous one gave back, so the
  // number of pools does not grow with the number of threads.
  auto one_thread = [] {
    std::thread t([] {
      void* p = FramePool::AllocateNoPool(200);
      FramePool::DeallocateNoPool(p, 200);
    });
    t.join();
  };
  one_thread();
  std::size_t pools = FramePool::Stats().pools;
  for (int i = 0; i < 20; ++i) one_thread();
  EXPECT_EQ(FramePool::Stats().pools, pools);
}

TEST(FramePoolTest, EntryPointsHandleLargeBlocks) {
  void* p = AllocateBlock(FramePool::kMaxBlock + 1);
  std::memset(p, 1, FramePool::kMaxBlock + 1);
  DeallocateBlock(p, FramePool::kMaxBlock + 1);
  void* q = AllocateBlock(24);
  DeallocateBlock(q, 24);
}

}  // namespace
}  // namespace mandrill::runtime::detail
