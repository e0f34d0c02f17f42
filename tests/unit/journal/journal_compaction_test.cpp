// Compaction: long-lived messages and dedup ids are carried forward so old segments can go,
// and a crash at any step of it loses nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "broker/journal/format.h"
#include "tests/unit/journal/journal_test_util.h"

namespace mandrill::broker::journal::testing {
namespace {

class JournalCompactionTest : public JournalTest {
 protected:
  JournalOptions SmallSegments(std::chrono::milliseconds window) const {
    auto o = Opts();
    o.segment_bytes = 4096;
    o.dedup_window = window;
    return o;
  }

  // Publishes 1..n in passes of 5 (about 26 records fill a 4 KiB segment), gives the survivors
  // every kind of state, then settles everything else.
  void PublishThenSettleAllBut(Journal& j, std::uint64_t n,
                               const std::vector<std::uint64_t>& keep) {
    for (std::uint64_t s = 1; s <= n; s += 5) {
      std::vector<Record> recs;
      for (std::uint64_t k = s; k < s + 5 && k <= n; ++k)
        recs.push_back(Publish(k, clock_.WallMs()));
      WriteDurably(j, recs);
    }
    const std::int64_t now = clock_.WallMs();
    std::vector<Record> states;
    for (std::size_t i = 0; i < keep.size(); ++i) {
      const std::uint64_t s = keep[i];
      switch (i % 6) {
        case 0:
          states.push_back(DeliverRecord{s, 2});
          break;
        case 1:
          states.push_back(NackRecord{s, 1, now + 60000, "slow downstream"});
          break;
        case 2:
          states.push_back(DeadLetterRecord{s, 5, "poison", now});
          break;
        case 3:
          states.push_back(DeadLetterRecord{s, 5, "poison", now});
          states.push_back(RequeueRecord{s});
          break;
        case 4:
          break;  // untouched
        case 5:
          states.push_back(NackRecord{s, 2, now, "flaky"});
          states.push_back(DeliverRecord{s, 3});
          break;
      }
    }
    WriteDurably(j, states);
    std::vector<Record> settle;
    for (std::uint64_t s = 1; s <= n; ++s) {
      if (std::find(keep.begin(), keep.end(), s) != keep.end()) continue;
      settle.push_back(s % 4 == 0 ? Record{PurgeRecord{s}} : Record{AckRecord{s}});
      if (settle.size() == 20) {
        WriteDurably(j, settle);
        settle.clear();
      }
    }
    WriteDurably(j, settle);
  }

  // Lets the writer run its maintenance (a clock tick) and waits until it has finished.
  void Tick(Journal& j, std::chrono::milliseconds advance = std::chrono::seconds(2)) {
    clock_.Advance(advance);
    j.Commit();
    ASSERT_TRUE(j.WaitIdleForTest(std::chrono::seconds(20)));
  }

  const std::vector<std::uint64_t> keep_{3, 50, 77, 120, 150, 199};
};

TEST_F(JournalCompactionTest, KeepsExactlyTheLiveSetAndDeletesOldSegments) {
  const auto o = SmallSegments(std::chrono::milliseconds(0));
  {
    auto setup = o;
    setup.compaction_threshold = 0;  // nothing compacted yet, so there is a "before"
    auto j = Open(setup);
    PublishThenSettleAllBut(*j, 200, keep_);
  }
  const auto before = SegmentFiles(dir_.path());
  ASSERT_GE(before.size(), 6u);
  ASSERT_EQ(SegmentFileName(1), before.front());  // it holds message 3
  auto j = Open(o);
  Tick(*j);
  const auto after = SegmentFiles(dir_.path());
  EXPECT_LE(after.size(), 2u);
  EXPECT_GE(Counter(*j, "journal.compactions"), 1);
  EXPECT_EQ(static_cast<std::int64_t>(keep_.size()), Counter(*j, "journal.live_messages"));
  for (const auto& name : before) {
    EXPECT_FALSE(std::filesystem::exists(dir_.File(name))) << name;
  }
  j.reset();
  ExpectRecoveredMatchesModel(o);
}

TEST_F(JournalCompactionTest, CompactsAsItGoesWhileMessagesSettle) {
  const auto o = SmallSegments(std::chrono::milliseconds(0));
  auto j = Open(o);
  PublishThenSettleAllBut(*j, 400, keep_);
  Tick(*j);
  EXPECT_LE(SegmentFiles(dir_.path()).size(), 2u);
  EXPECT_GE(Counter(*j, "journal.compactions"), 1);
  j.reset();
  ExpectRecoveredMatchesModel(o);
}

TEST_F(JournalCompactionTest, ALargeLiveOldestSegmentDoesNotPinTheGarbageBehindIt) {
  const auto o = SmallSegments(std::chrono::milliseconds(0));
  auto j = Open(o);
  std::vector<std::uint64_t> keep;
  for (std::uint64_t s = 1; s <= 25; ++s) keep.push_back(s);  // the whole first segment
  PublishThenSettleAllBut(*j, 300, keep);
  Tick(*j);
  EXPECT_LE(SegmentFiles(dir_.path()).size(), 3u);
  EXPECT_LT(Counter(*j, "journal.bytes"), 4 * 4096);
  j.reset();
  ExpectRecoveredMatchesModel(o);
}

TEST_F(JournalCompactionTest, SettledIdsAreCarriedForwardUntilTheWindowEnds) {
  const auto o = SmallSegments(std::chrono::minutes(10));
  {
    auto j = Open(o);
    PublishThenSettleAllBut(*j, 100, {});
    Tick(*j);
    EXPECT_LE(SegmentFiles(dir_.path()).size(), 3u);
    EXPECT_GE(Counter(*j, "journal.compactions"), 1);
  }
  {
    Recovered r;
    auto j = Open(o, &r);
    ExpectSameRecovered(r, Expected());
    EXPECT_EQ(100u, r.settled_ids.size());
    // Ten minutes later the ids are no longer needed and their segments go.
    Tick(*j, std::chrono::minutes(11));
    EXPECT_EQ(1u, SegmentFiles(dir_.path()).size());
  }
  Recovered r;
  auto j = Open(o, &r);
  EXPECT_TRUE(r.settled_ids.empty());
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(100u, r.max_seq);
}

// The dedup window counts from the settle (issue 11): ids of messages settled 8 minutes after
// their publish survive compaction and restarts until 10 minutes after the settle, although
// their publish is 15 minutes old; the segments holding them go only then.
TEST_F(JournalCompactionTest, SettledIdsAreKeptAWindowFromTheSettleNotThePublish) {
  const auto o = SmallSegments(std::chrono::minutes(10));
  std::int64_t settled_at = 0;
  {
    auto j = Open(o);
    for (std::uint64_t s = 1; s <= 100; s += 5) {
      std::vector<Record> recs;
      for (std::uint64_t k = s; k < s + 5; ++k) recs.push_back(Publish(k, clock_.WallMs()));
      WriteDurably(*j, recs);
    }
    clock_.Advance(std::chrono::minutes(8));
    settled_at = clock_.WallMs();
    for (std::uint64_t s = 1; s <= 100; s += 20) {
      std::vector<Record> settle;
      for (std::uint64_t k = s; k < s + 20; ++k) {
        settle.push_back(k % 4 == 0 ? Record{PurgeRecord{k, settled_at}}
                                    : Record{AckRecord{k, settled_at}});
      }
      WriteDurably(*j, settle);
    }
    Tick(*j);  // compacts: the ids are carried forward as settled-id records
    EXPECT_GE(Counter(*j, "journal.compactions"), 1);
  }
  {
    clock_.Advance(std::chrono::minutes(5));  // 15 min after the publish, 5 after the settle
    Recovered r;
    auto j = Open(o, &r);
    ExpectSameRecovered(r, Expected(), true, Ids::kAtLeast);
    ASSERT_EQ(100u, r.settled_ids.size());
    for (const auto& id : r.settled_ids) EXPECT_GE(id.settled_unix_ms, settled_at) << id.id;
    Tick(*j, std::chrono::minutes(4));  // 9 min after the settle: still needed
    EXPECT_GE(SegmentFiles(dir_.path()).size(), 2u);
  }
  {
    Recovered r;
    auto j = Open(o, &r);
    EXPECT_EQ(100u, r.settled_ids.size());
    Tick(*j, std::chrono::minutes(2));  // 11 min after the settle: the ids expire
    EXPECT_EQ(1u, SegmentFiles(dir_.path()).size());
  }
  Recovered r;
  auto j = Open(o, &r);
  EXPECT_TRUE(r.settled_ids.empty());
  EXPECT_EQ(100u, r.max_seq);
}

// Without compaction the recovered window start is each id's own settle time.
TEST_F(JournalCompactionTest, ReplayReportsEachIdsOwnSettleTime) {
  const auto o = SmallSegments(std::chrono::minutes(10));
  {
    auto j = Open(o);
    WriteDurably(*j, {Publish(1, clock_.WallMs()), Publish(2, clock_.WallMs())});
    clock_.Advance(std::chrono::minutes(3));
    WriteDurably(*j, {AckRecord{1, clock_.WallMs()}});
    clock_.Advance(std::chrono::minutes(3));
    WriteDurably(*j, {PurgeRecord{2, clock_.WallMs()}});
  }
  clock_.Advance(std::chrono::minutes(8));  // 14 after the publish: only the purge is in window
  Recovered r;
  auto j = Open(o, &r);
  ExpectSameRecovered(r, Expected());
  ASSERT_EQ(1u, r.settled_ids.size());
  EXPECT_EQ(clock_.WallMs() - 8 * 60'000, r.settled_ids[0].settled_unix_ms);
}

// Compaction is interrupted at every mutating file operation it makes (the process dies
// there, then the power goes out): recovery always finds exactly what was there before.
TEST_F(JournalCompactionTest, CrashAtEveryStepOfACompactionLosesNothing) {
  auto setup = SmallSegments(std::chrono::minutes(10));
  setup.compaction_threshold = 0;  // build the journal without compacting it
  {
    auto j = Open(setup);
    PublishThenSettleAllBut(*j, 120, keep_);
  }
  const Recovered expected = Expected();
  auto compacting = [&](const std::string& dir, FaultInjectingFs* fs) {
    auto o = Options(dir, &clock_, fs);
    o.segment_bytes = 4096;
    return o;
  };

  // A clean run, to count its operations.
  std::uint64_t ops = 0;
  {
    TempDir copy;
    CopyDir(dir_.path(), copy.path());
    FaultInjectingFs fs;
    fs.SkipRealSyncs(true);
    auto j = Open(compacting(copy.path(), &fs));
    const std::uint64_t start = fs.mutating_ops();
    Tick(*j);
    ops = fs.mutating_ops() - start;
    ASSERT_GE(Counter(*j, "journal.compactions"), 1);
  }
  ASSERT_GT(ops, 3u);

  for (std::uint64_t k = 0; k <= ops; ++k) {
    SCOPED_TRACE("crash after " + std::to_string(k) + " of " + std::to_string(ops) + " ops");
    TempDir copy;
    CopyDir(dir_.path(), copy.path());
    FaultInjectingFs fs;
    fs.SkipRealSyncs(true);
    const auto o = compacting(copy.path(), &fs);
    {
      auto j = Open(o);
      fs.CrashAfter(k);
      Tick(*j);
    }
    fs.ClearFaults();
    ASSERT_TRUE(fs.DropUnsyncedData().ok());
    auto read_only = o;
    read_only.compaction_threshold = 0;
    {
      Recovered r;
      auto j = Open(read_only, &r);
      ExpectSameRecovered(r, expected);
    }
    // And the journal can finish the job afterwards.
    {
      auto j = Open(o);
      Tick(*j);
    }
    Recovered r;
    auto j = Open(read_only, &r);
    ExpectSameRecovered(r, expected);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace mandrill::broker::journal::testing
