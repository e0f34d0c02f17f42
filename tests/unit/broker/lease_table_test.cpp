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
  ~LeaseTableTest() override {
    for (Message* m : messages_) FreeMessage(m);
  }
  // A message leased from `table`, due at base_ + `in`.
  Lease* Leased(LeaseTable& table, std::chrono::milliseconds in) {
    Message* m = NewMessage(messages_.size() + 1, "m", "", "", 0);
    messages_.push_back(m);
    return table.Start(m, nullptr, base_, base_ + in);
  }

  const core::SteadyTime base_{std::chrono::hours(1)};
  std::vector<Message*> messages_;
};

TEST_F(LeaseTableTest, InsertedLeaseIsFoundByIdUntilRemoved) {
  LeaseTable table(7);
  Lease* a = Leased(table, 10ms);
  Lease* b = Leased(table, 20ms);
  const std::uint64_t a_id = a->id, b_id = b->id;
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Find(a_id), a);
  EXPECT_EQ(table.Find(b_id), b);
  EXPECT_EQ(a->message, messages_[0]) << "the lease holds its message";
  EXPECT_EQ(table.Find(b_id + 1000), nullptr);

  table.End(a);
  EXPECT_EQ(table.Find(a_id), nullptr);
  EXPECT_EQ(table.Find(b_id), b);
  EXPECT_EQ(table.size(), 1u);
  table.End(b);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.NextDeadline().has_value());
  EXPECT_EQ(table.Expired(base_ + 1h), nullptr);
}

TEST_F(LeaseTableTest, ExpiredReturnsTheEarliestDueLeaseOnlyOnceItsDeadlineIsReached) {
  LeaseTable table(1);
  Lease* late = Leased(table, 300ms);
  Lease* early = Leased(table, 100ms);
  Lease* middle = Leased(table, 200ms);

  EXPECT_EQ(table.NextDeadline(), base_ + 100ms);
  EXPECT_EQ(table.Expired(base_ + 99ms), nullptr);
  EXPECT_EQ(table.Expired(base_ + 100ms), early) << "due exactly at the deadline";
  EXPECT_EQ(table.Expired(base_ + 1h), early) << "the earliest, not any due one";
  table.End(early);
  EXPECT_EQ(table.Expired(base_ + 1h), middle);
  table.End(middle);
  EXPECT_EQ(table.Expired(base_ + 1h), late);
}

TEST_F(LeaseTableTest, SetDeadlineReordersTheHeap) {
  LeaseTable table(1);
  Lease* a = Leased(table, 100ms);
  Lease* b = Leased(table, 200ms);
  table.SetDeadline(a, base_ + 500ms);
  EXPECT_EQ(a->deadline, base_ + 500ms);
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
    std::vector<Lease*> live;
    std::uniform_int_distribution<int> op(0, 9), ms(0, 5000);
    for (int step = 0; step < 1500; ++step) {
      const int o = op(rng);
      if (o < 5 || live.empty()) {
        live.push_back(Leased(table, std::chrono::milliseconds(ms(rng))));
      } else if (o < 8) {
        std::uniform_int_distribution<std::size_t> pick(0, live.size() - 1);
        Lease* l = live[pick(rng)];
        table.SetDeadline(l, base_ + std::chrono::milliseconds(ms(rng)));
      } else {
        std::uniform_int_distribution<std::size_t> pick(0, live.size() - 1);
        const std::size_t i = pick(rng);
        table.End(live[i]);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      }
      ASSERT_EQ(table.size(), live.size());
      if (live.empty()) {
        ASSERT_FALSE(table.NextDeadline().has_value());
        continue;
      }
      const auto min_deadline =
          (*std::min_element(live.begin(), live.end(), [](auto* x, auto* y) {
            return x->deadline < y->deadline;
          }))->deadline;
      ASSERT_EQ(table.NextDeadline(), min_deadline);
      ASSERT_EQ(table.Expired(min_deadline - 1ms), nullptr);
      Lease* due = table.Expired(min_deadline);
      ASSERT_NE(due, nullptr);
      ASSERT_EQ(due->deadline, min_deadline);
    }
    for (Lease* l : live) ASSERT_EQ(table.Find(l->id), l);
    // Draining by expiry yields deadlines in non-decreasing order.
    core::SteadyTime last{};
    while (Lease* l = table.Expired(base_ + 1h)) {
      ASSERT_GE(l->deadline, last);
      last = l->deadline;
      table.End(l);
    }
    ASSERT_EQ(table.size(), 0u);
  }
}

TEST_F(LeaseTableTest, LeaseIdsAreUniqueWithinATable) {
  LeaseTable table(42);
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 10000; ++i) {
    Lease* l = Leased(table, 1ms);
    ASSERT_TRUE(ids.insert(l->id).second);
    table.End(l);  // recycled Lease objects still get fresh ids
  }
}

// Lease ids are capabilities (issue 12): 48 random bits under the epoch tag, unique, different
// in every broker run (table), not a counter another lease's id would let one guess.
TEST_F(LeaseTableTest, LeaseIdsAreRandomUniqueAndDifferPerRun) {
  std::set<std::uint64_t> ids;
  int sequential = 0, high_bits_shared = 0;
  for (int run = 0; run < 4; ++run) {
    LeaseTable table;  // the CSPRNG
    std::uint64_t previous = 0;
    for (int i = 0; i < 5000; ++i) {
      Lease* l = Leased(table, 1ms);
      const std::uint64_t id = l->id;
      table.End(l);
      ASSERT_NE(0u, id);
      ASSERT_TRUE(ids.insert(id).second) << "run " << run << " id " << id;
      sequential += id == previous + 1;
      // The top 24 of the 48 random bits (the 16 above them are the epoch tag).
      high_bits_shared += previous != 0 && ((id & LeaseIds::kRandomMask) >> 24) ==
                                               ((previous & LeaseIds::kRandomMask) >> 24);
      previous = id;
    }
  }
  EXPECT_EQ(0, sequential);
  // 24 equal top bits by chance: about 20,000 / 2^24 times.
  EXPECT_LE(high_bits_shared, 2);
}

TEST_F(LeaseTableTest, ASeededTableIsReproducibleForTests) {
  LeaseTable a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    Lease* la = Leased(a, 1ms);
    Lease* lb = Leased(b, 1ms);
    Lease* lc = Leased(c, 1ms);
    EXPECT_EQ(la->id, lb->id);
    EXPECT_NE(la->id, lc->id);
  }
}

// Fencing (issue 14): the epoch's low 16 bits are the top 16 bits of every lease id, and the
// 48 below stay random — every one of them takes both values over a few hundred ids.
TEST_F(LeaseTableTest, LeaseIdsCarryTheEpochInTheTopBitsAndRandomBitsBelow) {
  LeaseTable table;  // the CSPRNG
  table.SetEpoch(0x1234'0007);
  std::uint64_t ones = 0, zeros = 0;
  for (int i = 0; i < 512; ++i) {
    Lease* l = Leased(table, 1ms);
    const std::uint64_t id = l->id;
    table.End(l);
    ASSERT_EQ(id >> 48, 0x0007u) << std::hex << id;
    EXPECT_EQ(LeaseIds::EpochTagOfId(id), 0x0007u);
    EXPECT_FALSE(table.FromAnotherEpoch(id));
    ones |= id & LeaseIds::kRandomMask;
    zeros |= ~id & LeaseIds::kRandomMask;
  }
  EXPECT_EQ(ones, LeaseIds::kRandomMask) << "a random bit was always 0";
  EXPECT_EQ(zeros, LeaseIds::kRandomMask) << "a random bit was always 1";
}

TEST_F(LeaseTableTest, AnIdOfAnotherEpochIsKnownAsSuch) {
  LeaseTable before(7), after(7);
  before.SetEpoch(41);
  after.SetEpoch(42);
  Lease* old_lease = Leased(before, 1ms);
  EXPECT_TRUE(after.FromAnotherEpoch(old_lease->id));
  EXPECT_EQ(after.Find(old_lease->id), nullptr);
  // The same seed in the new epoch draws the same random bits, yet a different id.
  Lease* new_lease = Leased(after, 1ms);
  EXPECT_NE(new_lease->id, old_lease->id);
  EXPECT_EQ(new_lease->id & LeaseIds::kRandomMask, old_lease->id & LeaseIds::kRandomMask);
  EXPECT_FALSE(after.FromAnotherEpoch(new_lease->id));
}

TEST_F(LeaseTableTest, TheEpochTagWrapsAfter65536Epochs) {
  // Harmless (lease_ids.h): the random bits still make an old id unknown.
  EXPECT_EQ(LeaseIds::TagOf(65536 + 5), LeaseIds::TagOf(5));
  LeaseTable table(3);
  table.SetEpoch(65536 + 5);
  EXPECT_EQ(Leased(table, 1ms)->id >> 48, 5u);
}

TEST_F(LeaseTableTest, LeaseIdIsNeverZero) {
  // 0 means "no lease" on the wire.
  LeaseTable table(0);
  EXPECT_NE(Leased(table, 1ms)->id, 0u);
}

}  // namespace
}  // namespace mandrill::broker
