// SnapshotSlot: the owner publishes immutable snapshots, readers take the latest; a reader's
// copy stays valid however many snapshots are published after it.
#include "shared/metrics/snapshot_slot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mandrill::metrics {
namespace {

struct Figures {
  int generation = 0;
  std::vector<std::string> names;
};

TEST(SnapshotSlotTest, GetBeforePublishIsNull) {
  SnapshotSlot<Figures> slot;
  EXPECT_EQ(slot.Get(), nullptr);
}

TEST(SnapshotSlotTest, GetReturnsWhatWasPublished) {
  SnapshotSlot<Figures> slot;
  auto first = std::make_shared<const Figures>(Figures{1, {"a"}});
  const Figures* raw = first.get();
  slot.Publish(std::move(first));
  auto got = slot.Get();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got.get(), raw);
  EXPECT_EQ(got->generation, 1);
  EXPECT_EQ(slot.Get().get(), raw);  // Get does not consume it
}

TEST(SnapshotSlotTest, ALaterPublishReplacesTheSnapshot) {
  SnapshotSlot<Figures> slot;
  slot.Publish(std::make_shared<const Figures>(Figures{1, {}}));
  slot.Publish(std::make_shared<const Figures>(Figures{2, {}}));
  ASSERT_NE(slot.Get(), nullptr);
  EXPECT_EQ(slot.Get()->generation, 2);
}

TEST(SnapshotSlotTest, AReaderKeepsItsOldSnapshotAfterANewPublish) {
  SnapshotSlot<Figures> slot;
  slot.Publish(std::make_shared<const Figures>(Figures{1, {"orders", "emails"}}));
  std::shared_ptr<const Figures> held = slot.Get();
  std::weak_ptr<const Figures> watch = held;
  slot.Publish(std::make_shared<const Figures>(Figures{2, {"other"}}));
  // The slot let go of generation 1; the reader's reference keeps it alive and intact.
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_EQ(held->generation, 1);
  EXPECT_EQ(held->names, (std::vector<std::string>{"orders", "emails"}));
  EXPECT_EQ(slot.Get()->generation, 2);
  held.reset();
  EXPECT_TRUE(watch.expired());  // freed by the last reader, not leaked by the slot
}

TEST(SnapshotSlotTest, PublishingNullClearsTheSlot) {
  SnapshotSlot<Figures> slot;
  slot.Publish(std::make_shared<const Figures>(Figures{1, {}}));
  slot.Publish(nullptr);
  EXPECT_EQ(slot.Get(), nullptr);
}

TEST(SnapshotSlotTest, ReadersOnOtherThreadsSeeCompleteSnapshotsInOrder) {
  SnapshotSlot<Figures> slot;
  constexpr int kGenerations = 2000;
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  std::atomic<int> seen{0};  // readers that have seen a snapshot
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      int last = 0;
      while (!done.load()) {
        auto s = slot.Get();
        if (s == nullptr) continue;
        if (last == 0) ++seen;
        // Each snapshot is complete: its names match its generation.
        if (s->generation < last || s->names.size() != 1 ||
            s->names[0] != std::to_string(s->generation)) {
          ++bad;
        }
        last = s->generation;
      }
    });
  }
  for (int g = 1; g <= kGenerations; ++g) {
    slot.Publish(std::make_shared<const Figures>(Figures{g, {std::to_string(g)}}));
  }
  // Both readers have read while snapshots were published: the checks above ran.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(seen.load(), 2);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(slot.Get()->generation, kGenerations);
}

}  // namespace
}  // namespace mandrill::metrics
