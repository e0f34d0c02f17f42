// LeaseTable: lease id -> message map plus a deadline min-heap.
#include "broker/lease_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <set>
#include <vector>

namespace mandrill::broker {
namespace {

using namespace std::chrono_literals;

class LeaseTableTest : public ::testing::Test {
 protected:
  // A message with a fresh lease from `table`, due at base_ + `in`.
  StoredMessage* Lease(LeaseTable& table, std::chrono::milliseconds in) {
    auto m = std::make_unique<StoredMessage>();
    m->seq = messages_.size() + 1;
    m->lease_id = table.NextId();
    m->lease_deadline = base_ + in;
    m->state = MessageState::kLeased;
    messages_.push_back(std::move(m));
    return messages_.back().get();
  }

  const core::SteadyTime base_{std::chrono::hours(1)};
  std::vector<std::unique_ptr<StoredMessage>> messages_;
};

TEST_F(LeaseTableTest, InsertedLeaseIsFoundByIdUntilRemoved) {
  LeaseTable table(7);
  StoredMessage* a = Lease(table, 10ms);
  StoredMessage* b = Lease(table, 20ms);
  table.Insert(a);
  table.Insert(b);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Find(a->lease_id), a);
  EXPECT_EQ(table.Find(b->lease_id), b);
  EXPECT_EQ(table.Find(b->lease_id + 1000), nullptr);

  table.Remove(a);
  EXPECT_EQ(table.Find(a->lease_id), nullptr);
  EXPECT_EQ(table.Find(b->lease_id), b);
  EXPECT_EQ(table.size(), 1u);
  table.Remove(b);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.NextDeadline().has_value());
  EXPECT_EQ(table.Expired(base_ + 1h), nullptr);
}

TEST_F(LeaseTableTest, ExpiredReturnsTheEarliestDueLeaseOnlyOnceItsDeadlineIsReached) {
  LeaseTable table(1);
  StoredMessage* late = Lease(table, 300ms);
  StoredMessage* early = Lease(table, 100ms);
  StoredMessage* middle = Lease(table, 200ms);
  for (auto* m : {late, early, middle}) table.Insert(m);

  EXPECT_EQ(table.NextDeadline(), base_ + 100ms);
  EXPECT_EQ(table.Expired(base_ + 99ms), nullptr);
  EXPECT_EQ(table.Expired(base_ + 100ms), early) << "due exactly at the deadline";
  EXPECT_EQ(table.Expired(base_ + 1h), early) << "the earliest, not any due one";
  table.Remove(early);
  EXPECT_EQ(table.Expired(base_ + 1h), middle);
  table.Remove(middle);
  EXPECT_EQ(table.Expired(base_ + 1h), late);
}

TEST_F(LeaseTableTest, SetDeadlineReordersTheHeap) {
  LeaseTable table(1);
  StoredMessage* a = Lease(table, 100ms);
  StoredMessage* b = Lease(table, 200ms);
  table.Insert(a);
  table.Insert(b);
  table.SetDeadline(a, base_ + 500ms);
  EXPECT_EQ(a->lease_deadline, base_ + 500ms);
  EXPECT_EQ(table.NextDeadline(), base_ + 200ms);
  EXPECT_EQ(table.Expired(base_ + 200ms), b);
  table.SetDeadline(b, base_ + 1s);
  EXPECT_EQ(table.Expired(base_ + 500ms), a);
}

// Random inserts, removes and deadline changes against a brute-force model: after every step
// the heap's front is a lease with the minimum deadline and every id is found.
TEST_F(LeaseTableTest, HeapMatchesBruteForceModelUnderRandomOperations) {
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    LeaseTable table(seed);
    std::vector<StoredMessage*> live;
    std::uniform_int_distribution<int> op(0, 9), ms(0, 5000);
    for (int step = 0; step < 1500; ++step) {
      const int o = op(rng);
      if (o < 5 || live.empty()) {
        StoredMessage* m = Lease(table, std::chrono::milliseconds(ms(rng)));
        table.Insert(m);
        live.push_back(m);
      } else if (o < 8) {
        std::uniform_int_distribution<std::size_t> pick(0, live.size() - 1);
        StoredMessage* m = live[pick(rng)];
        table.SetDeadline(m, base_ + std::chrono::milliseconds(ms(rng)));
      } else {
        std::uniform_int_distribution<std::size_t> pick(0, live.size() - 1);
        const std::size_t i = pick(rng);
        table.Remove(live[i]);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      }
      ASSERT_EQ(table.size(), live.size());
      if (live.empty()) {
        ASSERT_FALSE(table.NextDeadline().has_value());
        continue;
      }
      const auto min_deadline =
          (*std::min_element(live.begin(), live.end(), [](auto* x, auto* y) {
            return x->lease_deadline < y->lease_deadline;
          }))->lease_deadline;
      ASSERT_EQ(table.NextDeadline(), min_deadline);
      ASSERT_EQ(table.Expired(min_deadline - 1ms), nullptr);
      StoredMessage* due = table.Expired(min_deadline);
      ASSERT_NE(due, nullptr);
      ASSERT_EQ(due->lease_deadline, min_deadline);
    }
    for (StoredMessage* m : live) ASSERT_EQ(table.Find(m->lease_id), m);
    // Draining by expiry yields deadlines in non-decreasing order.
    core::SteadyTime last{};
    while (StoredMessage* m = table.Expired(base_ + 1h)) {
      ASSERT_GE(m->lease_deadline, last);
      last = m->lease_deadline;
      table.Remove(m);
    }
    ASSERT_EQ(table.size(), 0u);
  }
}

TEST_F(LeaseTableTest, LeaseIdsAreUniqueWithinATable) {
  LeaseTable table(42);
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(ids.insert(table.NextId()).second);
}

TEST_F(LeaseTableTest, LeaseIdsFromTablesWithDifferentEpochsNeverCollide) {
  // The broker draws a 24-bit epoch per start; ids carry it in their top bits.
  const std::vector<std::uint32_t> epochs = {0, 1, 2, 0x7fffff, 0xfffffe, 0xffffff};
  std::set<std::uint64_t> ids;
  for (std::uint32_t epoch : epochs) {
    LeaseTable table(epoch);
    for (int i = 0; i < 5000; ++i) {
      const std::uint64_t id = table.NextId();
      ASSERT_TRUE(ids.insert(id).second) << "epoch " << epoch << " id " << id;
      ASSERT_EQ(id >> 40, epoch);
    }
  }
}

TEST_F(LeaseTableTest, LeaseIdIsNeverZero) {
  // 0 means "no lease" in StoredMessage::lease_id.
  LeaseTable table(0);
  EXPECT_NE(table.NextId(), 0u);
}

}  // namespace
}  // namespace mandrill::broker
