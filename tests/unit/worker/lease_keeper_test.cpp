// LeaseKeeper on its own: when it extends, how it batches, and that removal stops it.
#include "worker/loop/lease_keeper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tests/unit/worker/worker_test_util.h"

namespace mandrill::worker::testing {
namespace {

using Times = std::vector<long long>;
using Sent = RecordingOutbox::Sent;

struct KeeperHarness {
  runtime::TimePoint start = runtime::Loop::Current()->Now();
  RecordingOutbox out{start};
  LeaseKeeper keeper{*runtime::Loop::Current(), out};
};

runtime::Task<void> ThirdBeforeDeadline() {
  KeeperHarness k;
  LeaseKeeper::Entry e;
  k.keeper.Add(&e, 7, 3s, 3s);
  co_await runtime::Sleep(7s);
  EXPECT_EQ(k.out.ExtendTimes(7), (Times{2000, 4000, 6000}));
  for (const auto& s : k.out.Extends()) EXPECT_EQ(s.value, 3000u);
  EXPECT_EQ(e.extensions, 3u);
  k.keeper.Remove(&e);
  co_await runtime::Sleep(10s);
  EXPECT_EQ(k.out.Extends().size(), 3u);
  EXPECT_EQ(k.keeper.extensions_sent(), 3u);
}
TEST(LeaseKeeperTest, ExtendsAThirdOfTheLeaseBeforeItsDeadline) {
  RunVirtual(ThirdBeforeDeadline());
}

runtime::Task<void> ShortLeft() {
  KeeperHarness k;
  LeaseKeeper::Entry e;
  k.keeper.Add(&e, 1, 900ms, 3s);  // delivered with little time left
  co_await runtime::Sleep(1s);
  EXPECT_EQ(k.out.ExtendTimes(1), (Times{0}));  // due at once
  k.keeper.Remove(&e);
}
TEST(LeaseKeeperTest, LeaseWithLittleTimeLeftIsExtendedAtOnce) { RunVirtual(ShortLeft()); }

runtime::Task<void> Batches() {
  KeeperHarness k;
  LeaseKeeper::Entry a, b, c;
  k.keeper.Add(&a, 1, 3000ms, 3s);  // due at 2000
  k.keeper.Add(&b, 2, 3400ms, 3s);  // due at 2400: within a sixth (500 ms) of 2000
  k.keeper.Add(&c, 3, 3600ms, 3s);  // due at 2600: not
  co_await runtime::Sleep(2700ms);
  EXPECT_EQ(k.out.ExtendTimes(1), (Times{2000}));
  EXPECT_EQ(k.out.ExtendTimes(2), (Times{2000}));
  EXPECT_EQ(k.out.ExtendTimes(3), (Times{2600}));
  for (auto* e : {&a, &b, &c}) k.keeper.Remove(e);
}
TEST(LeaseKeeperTest, LeasesDueCloseTogetherAreExtendedInOneBatch) { RunVirtual(Batches()); }

runtime::Task<void> RemoveEarliest() {
  KeeperHarness k;
  LeaseKeeper::Entry a, b;
  k.keeper.Add(&a, 1, 3s, 3s);
  k.keeper.Add(&b, 2, 6s, 3s);
  co_await runtime::Sleep(1s);
  k.keeper.Remove(&a);  // the timer was set for a; it must still serve b
  k.keeper.Remove(&a);  // idempotent
  co_await runtime::Sleep(5s);
  EXPECT_TRUE(k.out.ExtendTimes(1).empty());
  EXPECT_EQ(k.out.ExtendTimes(2), (Times{5000}));
  k.keeper.Remove(&b);
  EXPECT_EQ(k.keeper.size(), 0u);
}
TEST(LeaseKeeperTest, RemovingTheEarliestLeaseKeepsTheOthersOnTime) {
  RunVirtual(RemoveEarliest());
}

runtime::Task<void> Answers() {
  KeeperHarness k;
  LeaseKeeper::Entry e;
  k.keeper.Add(&e, 1, 3s, 3s);
  co_await runtime::Sleep(2001ms);
  k.keeper.OnExtended(&e, 2500ms);  // less than asked but more than 2/3: not capped
  EXPECT_FALSE(e.capped);
  co_await runtime::Sleep(2000ms);
  // deadline 2001 + 2500 = 4501: next extension a third (1 s) before it.
  EXPECT_EQ(k.out.ExtendTimes(1), (Times{2000, 3501}));
  k.keeper.Remove(&e);
}
TEST(LeaseKeeperTest, ExtendedAnswerResetsTheDeadline) { RunVirtual(Answers()); }

runtime::Task<void> Many() {
  KeeperHarness k;
  std::vector<LeaseKeeper::Entry> entries(1000);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    k.keeper.Add(&entries[i], i + 1, std::chrono::milliseconds(3000 + i), 3s);
  }
  co_await runtime::Sleep(2999ms);
  // Every lease extended exactly once, before its own deadline minus a sixth.
  EXPECT_EQ(k.out.Extends().size(), 1000u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto t = k.out.ExtendTimes(i + 1);
    EXPECT_EQ(t.size(), 1u);
    if (!t.empty()) {
      EXPECT_LE(t[0], static_cast<long long>(3000 + i) - 500);
    }
  }
  for (auto& e : entries) k.keeper.Remove(&e);
}
TEST(LeaseKeeperTest, ThousandLeasesEachExtendedOnceInTime) { RunVirtual(Many()); }

runtime::Task<void> Mixed() {
  // Leases of three durations, added out of deadline order, a third removed before their first
  // extension and one capped by the broker: each kept lease is extended inside its window
  // [a third before its deadline minus a sixth, a third before its deadline], the removed ones
  // never, and the capped one at its deadline.
  KeeperHarness k;
  constexpr std::size_t kLeases = 300;
  std::vector<LeaseKeeper::Entry> entries(kLeases);
  std::vector<long long> left_ms(kLeases), duration_ms(kLeases);
  std::mt19937 rng(5);
  for (std::size_t i = 0; i < kLeases; ++i) {
    duration_ms[i] = 3000 * (1 + static_cast<long long>(rng() % 3));
    left_ms[i] = 1000 + static_cast<long long>(rng() % 9000);
    k.keeper.Add(&entries[i], i + 1, std::chrono::milliseconds(left_ms[i]),
                 std::chrono::milliseconds(duration_ms[i]));
  }
  for (std::size_t i = 0; i < kLeases; i += 3) k.keeper.Remove(&entries[i]);
  EXPECT_EQ(k.keeper.size(), kLeases - kLeases / 3);
  co_await runtime::Sleep(1ms);
  k.keeper.OnExtended(&entries[1], 100ms);  // capped: asked again at its deadline, 101 ms
  co_await runtime::Sleep(1s);
  EXPECT_EQ(k.out.ExtendTimes(2), (Times{0, 101}));
  auto check_first = [&](std::size_t i, const Times& t) {
    const long long due = std::max<long long>(0, left_ms[i] - duration_ms[i] / 3);
    EXPECT_GE(t[0], due - duration_ms[i] / 6) << "lease " << i + 1;
    EXPECT_LE(t[0], due) << "lease " << i + 1;
    return due;
  };
  for (std::size_t i = 0; i < kLeases; ++i) {
    if (i % 3 == 0 || i == 1) continue;
    const Times t = k.out.ExtendTimes(i + 1);
    // Due by now: extended. Not due: extended only within a sixth of its duration (a batch).
    if (!t.empty()) {
      check_first(i, t);
    } else {
      EXPECT_GT(left_ms[i] - duration_ms[i] / 3, 1001) << "lease " << i + 1 << " not extended";
    }
  }
  co_await runtime::Sleep(10s);
  for (std::size_t i = 0; i < kLeases; ++i) {
    const Times t = k.out.ExtendTimes(i + 1);
    if (i % 3 == 0) {
      EXPECT_TRUE(t.empty()) << "removed lease " << i + 1 << " extended";
      continue;
    }
    EXPECT_FALSE(t.empty()) << "lease " << i + 1 << " never extended";
    if (t.empty() || i == 1) continue;
    check_first(i, t);
    for (std::size_t j = 1; j < t.size(); ++j) {
      // Later extensions (optimistic deadline now + duration): two thirds apart, batched early
      // by at most a sixth.
      EXPECT_GE(t[j] - t[j - 1], duration_ms[i] / 2) << "lease " << i + 1;
      EXPECT_LE(t[j] - t[j - 1], duration_ms[i] * 2 / 3) << "lease " << i + 1;
    }
  }
  for (auto& e : entries) k.keeper.Remove(&e);
  EXPECT_EQ(k.keeper.size(), 0u);
}
TEST(LeaseKeeperTest, MixedDurationsOutOfOrderEachExtendedInItsWindow) { RunVirtual(Mixed()); }

}  // namespace
}  // namespace mandrill::worker::testing
