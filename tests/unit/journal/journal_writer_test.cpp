// The writer: group commit, fsync policies, segment rolling and deletion, failing disks,
// power loss, the ack reserve on a full disk.
#include <dirent.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "broker/journal/format.h"
#include "tests/unit/journal/journal_test_util.h"

namespace mandrill::broker::journal::testing {
namespace {

class JournalWriterTest : public JournalTest {
 protected:
  JournalOptions FaultOpts() const { return Opts(); }
  // Appends and commits; returns the last ticket and the records by ticket.
  Ticket AppendAll(Journal& j, const std::vector<Record>& recs,
                   std::vector<std::pair<Ticket, Record>>* log = nullptr) {
    Ticket t = 0;
    for (const Record& r : recs) {
      t = j.Append(r);
      if (log != nullptr) log->emplace_back(t, r);
    }
    j.Commit();
    return t;
  }
  std::vector<Record> Publishes(std::uint64_t from, std::uint64_t to) {
    std::vector<Record> out;
    for (std::uint64_t s = from; s <= to; ++s) out.push_back(Publish(s, clock_.WallMs()));
    return out;
  }
};

TEST_F(JournalWriterTest, ManyAppendsAndOneCommitCostOneSync) {
  fs_.SkipRealSyncs(false);  // the real thing
  auto j = Open(FaultOpts());
  const std::uint64_t syncs = fs_.syncs();
  const std::int64_t counted = Counter(*j, "journal.syncs");
  WriteDurably(*j, Publishes(1, 1000));
  EXPECT_EQ(syncs + 1, fs_.syncs());
  EXPECT_EQ(counted + 1, Counter(*j, "journal.syncs"));
  EXPECT_EQ(1000, Counter(*j, "journal.records"));
  EXPECT_GT(Counter(*j, "journal.last_sync_us"), 0);
}

TEST_F(JournalWriterTest, CommitsQueuedDuringASyncShareTheNextOne) {
  auto j = Open(FaultOpts());
  const std::uint64_t syncs = fs_.syncs();
  Ticket last = 0;
  for (std::uint64_t s = 1; s <= 200; ++s) {
    last = j->Append(Publish(s, clock_.WallMs()));
    j->Commit();
  }
  WaitDurable(*j, last, nullptr);
  EXPECT_LE(fs_.syncs() - syncs, 200u);  // never more syncs than commits...
  std::printf("200 commits took %llu syncs\n",
              static_cast<unsigned long long>(fs_.syncs() - syncs));  // ...usually far fewer
}

TEST_F(JournalWriterTest, WriterThreadIsNamedJournal) {
  auto j = Open();
  WriteDurably(*j, Publishes(1, 1));  // the writer has run (and named itself)
  bool found = false;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    std::getline(comm, name);
    found = found || name == "journal";
  }
  EXPECT_TRUE(found);
}

TEST_F(JournalWriterTest, SegmentsRollAtTheSizeLimitAndSettledOnesAreDeleted) {
  auto o = Opts();
  o.segment_bytes = 4096;
  o.dedup_window = std::chrono::milliseconds(0);
  auto j = Open(o);
  for (std::uint64_t s = 1; s <= 100; s += 4) WriteDurably(*j, Publishes(s, s + 3));
  const std::size_t rolled = SegmentFiles(dir_.path()).size();
  EXPECT_GE(rolled, 4u);
  for (const auto& name : SegmentFiles(dir_.path())) {
    EXPECT_LE(std::filesystem::file_size(dir_.File(name)), 4096u) << name;
  }
  std::vector<Record> acks;
  for (std::uint64_t s = 1; s <= 100; ++s) acks.push_back(AckRecord{s});
  clock_.Advance(std::chrono::seconds(1));
  WriteDurably(*j, acks);
  ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
  EXPECT_EQ(1u, SegmentFiles(dir_.path()).size());
  EXPECT_EQ(static_cast<std::int64_t>(rolled - 1), Counter(*j, "journal.segments_deleted"));
  EXPECT_EQ(1, Counter(*j, "journal.segments"));
  j.reset();
  Recovered r;
  j = Open(o, &r);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(100u, r.max_seq);
}

TEST_F(JournalWriterTest, FailedWriteIsReportedAndLaterAppendsSucceed) {
  auto j = Open(FaultOpts());
  WriteDurably(*j, Publishes(1, 3));
  fs_.FailNthWrite(1, ENOSPC, /*partial_bytes=*/37);
  const Ticket first = j->Append(Publish(4, clock_.WallMs()));
  const Ticket last = AppendAll(*j, Publishes(5, 10));
  std::vector<StorageProgress::Failure> failures;
  WaitDurable(*j, last, &failures);
  ASSERT_EQ(1u, failures.size());
  EXPECT_EQ(first, failures[0].first);
  EXPECT_EQ(last, failures[0].last);
  EXPECT_NE(std::string::npos, failures[0].error.find("No space left on device"))
      << failures[0].error;
  EXPECT_GE(Counter(*j, "journal.write_errors"), 1);
  // The disk is fine again.
  WriteDurably(*j, Publishes(11, 20));
  j.reset();
  Recovered r;
  j = Open(Opts(), &r);
  ExpectSameRecovered(r, Expected(), /*exact_max_seq=*/false);
  EXPECT_EQ(0, Counter(*j, "journal.recovery_corrupt_regions"));  // the partial write was cut
}

TEST_F(JournalWriterTest, FailedSyncIsReportedAndNothingIsFalselyDurable) {
  auto j = Open(FaultOpts());
  WriteDurably(*j, Publishes(1, 3));
  fs_.FailNthSync(1, EIO);
  const Ticket last = AppendAll(*j, {Publish(4, 0), DeliverRecord{1, 1}, AckRecord{2}});
  std::vector<StorageProgress::Failure> failures;
  WaitDurable(*j, last, &failures);
  ASSERT_EQ(1u, failures.size());
  EXPECT_EQ(last - 2, failures[0].first);
  EXPECT_EQ(last, failures[0].last);
  EXPECT_NE(std::string::npos, failures[0].error.find("sync")) << failures[0].error;
  WriteDurably(*j, {DeliverRecord{3, 1}, Publish(5, clock_.WallMs())});
  // Even after a power loss nothing from the failed pass comes back.
  j.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  Recovered r;
  j = Open(Opts(), &r);
  ExpectSameRecovered(r, Expected(), /*exact_max_seq=*/false);
  EXPECT_EQ(0, Counter(*j, "journal.recovery_corrupt_regions"));
}

TEST_F(JournalWriterTest, DeadDiskFailsEveryPassUntilItRecovers) {
  auto j = Open(FaultOpts());
  fs_.FailAllWrites(EIO);
  for (int pass = 0; pass < 5; ++pass) {
    const Ticket t = AppendAll(*j, Publishes(10 * pass + 1, 10 * pass + 5));
    std::vector<StorageProgress::Failure> failures;
    WaitDurable(*j, t, &failures);
    ASSERT_EQ(1u, failures.size());
    EXPECT_EQ(t, failures[0].last);
  }
  fs_.ClearFaults();
  WriteDurably(*j, Publishes(100, 110));
  j.reset();
  ExpectRecoveredMatchesModel(Opts());
}

TEST_F(JournalWriterTest, NeverPolicyDoesNotSyncUntilClose) {
  auto o = FaultOpts();
  o.fsync = ParseFsyncPolicy("never").value();
  auto j = Open(o);
  const std::uint64_t syncs = fs_.syncs();
  for (int pass = 0; pass < 10; ++pass) WriteDurably(*j, Publishes(pass * 10 + 1, pass * 10 + 10));
  EXPECT_EQ(syncs, fs_.syncs());
  ASSERT_TRUE(j->Close().ok());
  EXPECT_EQ(syncs + 1, fs_.syncs());
}

TEST_F(JournalWriterTest, IntervalPolicyConfirmsAfterTheWriteAndSyncsSoonAfter) {
  auto o = FaultOpts();
  o.fsync = ParseFsyncPolicy("interval:20").value();
  auto j = Open(o);
  const std::uint64_t syncs = fs_.syncs();
  WriteDurably(*j, Publishes(1, 50));
  // Idle means: written, and the interval sync that covers it has happened.
  ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
  EXPECT_GE(fs_.syncs(), syncs + 1);
}

TEST_F(JournalWriterTest, ProcessCrashUnderIntervalKeepsEverythingConfirmed) {
  auto o = FaultOpts();
  o.fsync = ParseFsyncPolicy("interval:60000").value();  // no sync happens in this test
  auto j = Open(o);
  const std::uint64_t syncs = fs_.syncs();
  for (std::uint64_t s = 1; s <= 40; s += 8) WriteDurably(*j, Publishes(s, s + 7));
  WriteDurably(*j, {AckRecord{3}, NackRecord{4, 1, 5, "later"}});
  EXPECT_EQ(syncs, fs_.syncs());
  fs_.CrashAfter(0);  // the process dies: nothing more reaches the files, not even a sync
  j.reset();
  fs_.ClearFaults();  // the page cache survives a process crash: no DropUnsyncedData
  ExpectRecoveredMatchesModel(Opts());
}

// Random workloads with a simulated power loss at a random I/O operation. Every pass holding a
// publish, requeue or purge was synced before it was reported durable, and so was everything
// before it; a pass of deliveries, acks and nacks alone may have been written without a sync
// (it rides on the next sync). So what comes back is the state after some pass at or after the
// last awaited durable one, and at or before the last one reported durable.
TEST_F(JournalWriterTest, PowerLossUnderAlwaysKeepsEverythingAwaitedThatWasReportedDurable) {
  for (int seed = 1; seed <= 24; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    FaultInjectingFs fs;
    fs.SkipRealSyncs(true);
    auto o = Options(dir.path(), &clock_, &fs);
    o.segment_bytes = 4096;
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::vector<std::pair<Ticket, Record>> log;
    std::vector<StorageProgress::Failure> failures;
    Ticket upto = 0;
    std::vector<std::pair<Ticket, bool>> passes;  // last ticket, held something awaited
    {
      auto j = Open(o);
      std::vector<std::uint64_t> live;
      std::uint64_t next_seq = 1;
      const int crash_pass = static_cast<int>(rng() % 30);
      for (int pass = 0; pass < 40; ++pass) {
        if (pass == crash_pass) fs.CrashAfter(rng() % 12);
        std::vector<Record> recs;
        for (int k = 0, n = 1 + static_cast<int>(rng() % 12); k < n; ++k) {
          const auto pick = rng() % 10;
          if (pick < 4 || live.empty()) {
            recs.push_back(Publish(next_seq, clock_.WallMs(), "q", rng() % 300));
            live.push_back(next_seq++);
            continue;
          }
          const std::size_t i = rng() % live.size();
          const std::uint64_t seq = live[i];
          const auto attempt = static_cast<std::uint32_t>(1 + rng() % 5);
          switch (pick) {
            case 4:
              recs.push_back(DeliverRecord{seq, attempt});
              break;
            case 5:
              recs.push_back(NackRecord{seq, attempt, clock_.WallMs() + 10, "n"});
              break;
            case 6:
              recs.push_back(DeadLetterRecord{seq, attempt, "d", clock_.WallMs()});
              break;
            case 7:
              recs.push_back(RequeueRecord{seq});
              break;
            default:
              recs.push_back(pick == 8 ? Record{AckRecord{seq}} : Record{PurgeRecord{seq}});
              live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
          }
        }
        const Ticket t = AppendAll(*j, recs, &log);
        bool awaited = false;
        for (const Record& r : recs) {
          awaited = awaited || std::holds_alternative<PublishRecord>(r) ||
                    std::holds_alternative<RequeueRecord>(r) ||
                    std::holds_alternative<PurgeRecord>(r);
        }
        passes.emplace_back(t, awaited);
        upto = WaitDurable(*j, t, &failures);
      }
      ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
    }
    ASSERT_TRUE(fs.DropUnsyncedData().ok());  // the power goes out
    fs.ClearFaults();
    Ticket floor = 0;
    for (const auto& [t, awaited] : passes) {
      if (awaited && t <= upto && !InFailures(failures, t)) floor = t;
    }
    // The state after the pass ending at `cut`, counting only what was not reported failed.
    const auto state_at = [&](Ticket cut) {
      Model m;
      for (const auto& [t, r] : log) {
        if (t <= cut && !InFailures(failures, t)) m.Apply(r);
      }
      return m.Expected(clock_.WallMs(), o.dedup_window.count());
    };
    Recovered r;
    auto j = Open(o, &r);
    std::vector<Ticket> cuts = {floor};
    for (const auto& [t, awaited] : passes) {
      if (t > floor && t <= upto) cuts.push_back(t);
    }
    Ticket matched = 0;
    for (Ticket cut : cuts) {
      ::testing::TestPartResultArray mismatches;
      {
        ::testing::ScopedFakeTestPartResultReporter capture(
            ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD,
            &mismatches);
        ExpectSameRecovered(r, state_at(cut), /*exact_max_seq=*/false);
      }
      if (mismatches.size() == 0) {
        matched = cut;
        break;
      }
    }
    if (matched == 0 && floor != 0) {
      // None fits: show the difference from the one state that must at least be there.
      ExpectSameRecovered(r, state_at(floor), /*exact_max_seq=*/false);
      std::printf("no state between ticket %llu (last awaited durable) and %llu matched\n",
                  static_cast<unsigned long long>(floor), static_cast<unsigned long long>(upto));
      return;
    }
  }
}

// fsync=always syncs a pass that holds a publish before reporting it, and no more than once
// per 100 ms for passes of deliveries and acks alone: a consume-only load does not sync per ack.
TEST_F(JournalWriterTest, AlwaysSyncsPublishesAtOnceAndAcksAlongWithThem) {
  auto j = Open(FaultOpts());
  WriteDurably(*j, Publishes(1, 50));
  const auto after_publish = fs_.syncs();
  const auto start = std::chrono::steady_clock::now();
  int passes = 0;
  for (std::uint64_t seq = 1; seq <= 50; ++seq, ++passes) {
    WriteDurably(*j, {DeliverRecord{seq, 1}, AckRecord{seq}});
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // At most one deferred sync per 100 ms elapsed (and one more for the interval in progress).
  EXPECT_LE(fs_.syncs() - after_publish, 1 + static_cast<std::uint64_t>(seconds / 0.1))
      << passes << " passes of acks in " << seconds << " s";
  const auto before = fs_.syncs();
  WriteDurably(*j, Publishes(51, 51));
  EXPECT_EQ(fs_.syncs(), before + 1) << "a publish is synced before it is reported durable";
  ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
}

TEST_F(JournalWriterTest, FullDiskStillTakesAcksIntoTheReserve) {
  auto o = FaultOpts();
  o.segment_bytes = 64 << 10;
  auto j = Open(o);
  WriteDurably(*j, Publishes(1, 100));
  // From now on no file may grow beyond what is already allocated.
  fs_.SetCapacity(fs_.used_bytes());
  std::uint64_t seq = 101;
  std::vector<StorageProgress::Failure> failures;
  std::vector<std::uint64_t> published;
  for (int pass = 0; pass < 1000 && failures.empty(); ++pass) {
    std::vector<Record> recs = Publishes(seq, seq + 9);
    const Ticket t = AppendAll(*j, recs);
    WaitDurable(*j, t, &failures);
    if (failures.empty()) {
      for (const Record& r : recs) model_.Apply(r);
      for (std::uint64_t s = seq; s < seq + 10; ++s) published.push_back(s);
    }
    seq += 10;
  }
  ASSERT_FALSE(failures.empty()) << "the disk never filled";
  EXPECT_NE(std::string::npos, failures[0].error.find("disk full")) << failures[0].error;
  // Every live message can still be acked, in passes mixed with refused publishes.
  std::vector<Record> settle;
  for (std::uint64_t s = 1; s <= 100; ++s) settle.push_back(AckRecord{s});
  for (std::uint64_t s : published) settle.push_back(PurgeRecord{s});
  std::size_t refused = 0;
  for (std::size_t i = 0; i < settle.size(); i += 25) {
    std::vector<Record> recs(
        settle.begin() + static_cast<std::ptrdiff_t>(i),
        settle.begin() + static_cast<std::ptrdiff_t>(std::min(settle.size(), i + 25)));
    recs.push_back(Publish(seq++, clock_.WallMs()));  // refused unless it fits beside the reserve
    std::vector<std::pair<Ticket, Record>> log;
    const Ticket t = AppendAll(*j, recs, &log);
    std::vector<StorageProgress::Failure> f;
    WaitDurable(*j, t, &f);
    for (const auto& [ticket, rec] : log) {
      const bool failed = InFailures(f, ticket);
      if (!std::holds_alternative<PublishRecord>(rec)) {
        EXPECT_FALSE(failed) << "a settle record failed on the full disk: " << f[0].error;
      }
      refused += failed ? 1 : 0;
      if (!failed) model_.Apply(rec);
    }
  }
  std::printf("while settling on a full disk %zu of %zu publishes were refused\n", refused,
              (settle.size() + 24) / 25);
  EXPECT_GT(Counter(*j, "journal.disk_full_passes"), 0);
  // Space comes back: publishes work again.
  fs_.ClearFaults();
  WriteDurably(*j, Publishes(seq, seq + 5));
  j.reset();
  ExpectRecoveredMatchesModel(Opts());
}

TEST_F(JournalWriterTest, CloseIsIdempotentAndLaterAppendsFail) {
  auto j = Open();
  WriteDurably(*j, Publishes(1, 2));
  EXPECT_TRUE(j->Close().ok());
  EXPECT_TRUE(j->Close().ok());
  const Ticket t = j->Append(Publish(3, 0));
  j->Commit();
  const StorageProgress p = j->Poll();
  ASSERT_EQ(1u, p.failures.size());
  EXPECT_EQ(t, p.failures[0].first);
  EXPECT_NE(std::string::npos, p.failures[0].error.find("closed"));
}

TEST_F(JournalWriterTest, StatsNameTheFiguresOperatorsNeed) {
  auto j = Open();
  WriteDurably(*j, Publishes(1, 10));
  WriteDurably(*j, {AckRecord{1}});
  ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
  for (const char* name :
       {"journal.segments", "journal.bytes", "journal.live_permille", "journal.last_sync_us",
        "journal.syncs", "journal.records", "journal.write_errors", "journal.compactions",
        "journal.recovery_ms", "journal.recovered_messages", "journal.recovered_ids"}) {
    bool present = false;
    for (const auto& [k, v] : j->Stats()) present = present || k == name;
    EXPECT_TRUE(present) << name;
  }
  EXPECT_EQ(1, Counter(*j, "journal.segments"));
  EXPECT_GT(Counter(*j, "journal.bytes"), 1000);
  EXPECT_EQ(11, Counter(*j, "journal.records"));
  EXPECT_EQ(9, Counter(*j, "journal.live_messages"));
  EXPECT_GT(Counter(*j, "journal.live_permille"), 500);
}

}  // namespace
}  // namespace mandrill::broker::journal::testing
