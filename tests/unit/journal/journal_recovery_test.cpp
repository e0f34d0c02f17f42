// Replay: every record type, torn tails, damaged records, fuzzed segments, versions, locking.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <random>

#include "broker/journal/format.h"
#include "broker/journal/record_scanner.h"
#include "tests/unit/journal/journal_test_util.h"

namespace mandrill::broker::journal::testing {
namespace {

using State = RecoveredMessage::State;

// Where the records of a segment file start (file offsets) and the file's size.
std::vector<std::uint64_t> RecordOffsets(const std::string& path) {
  const std::string bytes = ReadFileBytes(path);
  std::vector<std::uint64_t> out;
  RecordScanner s(std::string_view(bytes).substr(kSegmentHeaderBytes), kSegmentHeaderBytes, true);
  ScannedRecord rec;
  CorruptRegion bad;
  while (s.Next(&rec, &bad) == RecordScanner::Step::kRecord) out.push_back(rec.offset);
  return out;
}

class JournalRecoveryTest : public JournalTest {};

TEST_F(JournalRecoveryTest, EmptyDirRecoversNothing) {
  Recovered r;
  auto j = Open(&r);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.settled_ids.empty());
  EXPECT_EQ(0u, r.max_seq);
  EXPECT_EQ(0u, SegmentFiles(dir_.path()).size());
}

TEST_F(JournalRecoveryTest, EveryRecordTypeReplaysToTheExpectedState) {
  const std::int64_t now = clock_.WallMs();
  {
    auto j = Open(RealFsOpts());
    std::vector<Record> recs;
    for (std::uint64_t seq = 1; seq <= 8; ++seq) recs.push_back(Publish(seq, now - 1000));
    recs.push_back(Publish(9, now - 20 * 60 * 1000));  // settled outside the window
    recs.push_back(DeliverRecord{1, 1});
    recs.push_back(DeliverRecord{1, 2});                      // ready, 2 attempts
    recs.push_back(NackRecord{2, 1, now + 5000, "timeout"});  // deferred
    recs.push_back(DeadLetterRecord{3, 5, "poison", now});    // dead ...
    recs.push_back(RequeueRecord{3});                         // ... and requeued
    recs.push_back(DeadLetterRecord{4, 5, "poison", now});    // dead, then purged
    recs.push_back(PurgeRecord{4});
    recs.push_back(AckRecord{5});  // settled in the window
    recs.push_back(AckRecord{9});
    recs.push_back(NackRecord{7, 1, now + 1, "x"});
    recs.push_back(DeliverRecord{7, 2});                         // ready, error kept
    recs.push_back(DeadLetterRecord{8, 3, "gave up", now + 7});  // stays dead
    recs.push_back(AckRecord{999});                              // unknown: ignored
    WriteDurably(*j, recs);
  }
  Recovered r;
  auto j = Open(RealFsOpts(), &r);
  ExpectSameRecovered(r, Expected());
  // Spot-check the model itself.
  ASSERT_EQ(6u, r.messages.size());
  EXPECT_EQ(2u, r.messages[0].attempts);
  EXPECT_EQ(State::kDeferred, r.messages[1].state);
  EXPECT_EQ(now + 5000, r.messages[1].not_before_unix_ms);
  EXPECT_EQ(State::kReady, r.messages[2].state);
  EXPECT_EQ(0u, r.messages[2].attempts);
  EXPECT_EQ("x", r.messages[4].last_error);
  EXPECT_EQ(State::kDead, r.messages[5].state);
  ASSERT_EQ(2u, r.settled_ids.size());  // 4 (purged) and 5 (acked); 9 is outside the window
  EXPECT_EQ("pub-3f9a-000000004", r.settled_ids[0].id);
  EXPECT_EQ(999u, r.max_seq);
  EXPECT_GT(Counter(*j, "journal.recovered_records"), 0);
}

// Regression guard for arithmetic on values read from disk (UBSan): extreme times, attempts and
// seqs replay, settle and compact without overflow.
TEST_F(JournalRecoveryTest, ExtremeFieldValuesReplayAndCompact) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  auto o = Opts();
  o.segment_bytes = 4096;
  {
    auto j = Open(o);
    std::vector<Record> recs = {Publish(1, kMax), Publish(2, kMin), Publish(~0ull >> 1, kMax),
                                NackRecord{1, ~0u, kMin, "n"}, DeadLetterRecord{2, ~0u, "d", kMax}};
    for (std::uint64_t s = 10; s < 80; ++s) recs.push_back(Publish(s, s % 2 ? kMax : kMin));
    WriteDurably(*j, recs);
    std::vector<Record> acks;
    for (std::uint64_t s = 10; s < 80; ++s) acks.push_back(AckRecord{s});
    acks.push_back(PurgeRecord{~0ull >> 1});
    WriteDurably(*j, acks);
    clock_.Advance(std::chrono::seconds(2));
    j->Commit();
    ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
  }
  // The settled ids were compacted with the segment's newest window start (kMax).
  ExpectRecoveredMatchesModel(o, Ids::kAtLeast);
}

TEST_F(JournalRecoveryTest, SeqNumberingContinuesAfterEverySegmentWasDeleted) {
  auto o = Opts();
  o.dedup_window = std::chrono::milliseconds(0);
  {
    auto j = Open(o);
    std::vector<Record> recs;
    for (std::uint64_t seq = 1; seq <= 5; ++seq) recs.push_back(Publish(seq, clock_.WallMs()));
    for (std::uint64_t seq = 1; seq <= 5; ++seq) recs.push_back(AckRecord{seq});
    WriteDurably(*j, recs);
  }
  {
    auto j = Open(o);
    clock_.Advance(std::chrono::seconds(2));
    j->Commit();  // a clock tick: the writer deletes the old, fully settled segment
    ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
    EXPECT_EQ(1, Counter(*j, "journal.segments"));
  }
  Recovered r;
  auto j = Open(o, &r);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(5u, r.max_seq);  // from the segment header
}

TEST_F(JournalRecoveryTest, TornTailAtEveryOffsetOfTheLastRecordIsTruncated) {
  const std::int64_t now = clock_.WallMs();
  std::vector<Record> recs;
  for (std::uint64_t seq = 1; seq <= 5; ++seq) recs.push_back(Publish(seq, now));
  recs.push_back(NackRecord{2, 1, now, "first"});
  recs.push_back(Publish(6, now));  // the record that will be torn
  {
    auto j = Open();
    WriteDurably(*j, recs);
  }
  Model before;
  for (std::size_t i = 0; i + 1 < recs.size(); ++i) before.Apply(recs[i]);
  const std::string seg = SegmentFiles(dir_.path()).back();
  const auto offsets = RecordOffsets(dir_.File(seg));
  ASSERT_EQ(recs.size(), offsets.size());
  const std::uint64_t start = offsets.back();
  const std::uint64_t end = std::filesystem::file_size(dir_.File(seg));
  for (std::uint64_t cut = start + 1; cut < end; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    TempDir copy;
    CopyDir(dir_.path(), copy.path());
    std::filesystem::resize_file(copy.File(seg), cut);
    FaultInjectingFs fs;
    fs.SkipRealSyncs(true);  // this test is about reading; spare the disk
    auto o = Options(copy.path(), &clock_, &fs);
    {
      LogCapture log;
      Recovered r;
      auto j = Open(o, &r);
      ExpectSameRecovered(r, before.Expected(now, o.dedup_window.count()));
      EXPECT_TRUE(log.Contains("torn write")) << log.All();
      EXPECT_EQ(static_cast<std::int64_t>(cut - start),
                Counter(*j, "journal.recovery_truncated_bytes"));
      EXPECT_EQ(start, std::filesystem::file_size(copy.File(seg)));
      // Later appends work and survive.
      const Ticket t = j->Append(Publish(7, now));
      j->Commit();
      std::vector<StorageProgress::Failure> f;
      WaitDurable(*j, t, &f);
      EXPECT_TRUE(f.empty());
    }
    Model after = before;
    after.Apply(Publish(7, now));
    Recovered again;
    auto j = Open(o, &again);
    ExpectSameRecovered(again, after.Expected(now, o.dedup_window.count()));
    EXPECT_EQ(0, Counter(*j, "journal.recovery_corrupt_regions"));
    if (HasFailure()) return;
  }
}

TEST_F(JournalRecoveryTest, PartialSegmentHeaderOfTheLastSegmentIsRemoved) {
  {
    auto j = Open();
    WriteDurably(*j, {Publish(1, clock_.WallMs())});
    // A torn publish at the end of this segment...
    j->Append(Publish(2, clock_.WallMs()));
    j->Commit();
  }
  const std::string seg = dir_.File(SegmentFiles(dir_.path()).back());
  std::filesystem::resize_file(seg, std::filesystem::file_size(seg) - 9);
  // ... then a crash right after creating the next segment, before its header was complete.
  WriteFileBytes(dir_.File(SegmentFileName(9)), std::string("MDLJ\r\n", 6));
  LogCapture log;
  ExpectRecoveredMatchesModel(Opts());
  EXPECT_TRUE(log.Contains("shorter than a segment header"));
  EXPECT_TRUE(log.Contains("torn write")) << log.All();
  EXPECT_FALSE(std::filesystem::exists(dir_.File(SegmentFileName(9))));
}

TEST_F(JournalRecoveryTest, FlippedBitInAMiddleRecordIsReportedAndSkipped) {
  const std::int64_t now = clock_.WallMs();
  std::vector<Record> recs;
  for (std::uint64_t seq = 1; seq <= 10; ++seq) recs.push_back(Publish(seq, now));
  {
    auto j = Open();
    WriteDurably(*j, recs);
  }
  const std::string seg = SegmentFiles(dir_.path()).back();
  const auto offsets = RecordOffsets(dir_.File(seg));
  for (std::size_t bit_at : {std::size_t{0}, std::size_t{6}, std::size_t{9}, std::size_t{40}}) {
    SCOPED_TRACE("byte " + std::to_string(bit_at) + " of record 5");
    TempDir copy;
    CopyDir(dir_.path(), copy.path());
    std::string bytes = ReadFileBytes(copy.File(seg));
    bytes[offsets[4] + bit_at] ^= 0x04;
    WriteFileBytes(copy.File(seg), bytes);
    Model expected;
    for (const Record& r : recs) {
      if (std::get<PublishRecord>(r).seq != 5) expected.Apply(r);
    }
    LogCapture log;
    Recovered r;
    auto o = Options(copy.path(), &clock_, &fs_);
    auto j = Open(o, &r);
    Recovered want = expected.Expected(now, o.dedup_window.count());
    want.max_seq = 10;
    ExpectSameRecovered(r, want);
    EXPECT_EQ(1, Counter(*j, "journal.recovery_corrupt_regions"));
    EXPECT_EQ(static_cast<std::int64_t>(offsets[5] - offsets[4]),
              Counter(*j, "journal.recovery_corrupt_bytes"));
    EXPECT_TRUE(log.Contains(seg + ": corrupt bytes at offset " + std::to_string(offsets[4])))
        << log.All();
    EXPECT_EQ(bytes.size(), std::filesystem::file_size(copy.File(seg)));  // not truncated
  }
}

TEST_F(JournalRecoveryTest, GarbageAtTheEndOfAnOlderSegmentIsReportedNotTruncated) {
  auto o = Opts();
  o.segment_bytes = 4096;
  const std::int64_t now = clock_.WallMs();
  {
    auto j = Open(o);
    for (std::uint64_t seq = 1; seq <= 60; ++seq) WriteDurably(*j, {Publish(seq, now)});
  }
  const auto segs = SegmentFiles(dir_.path());
  ASSERT_GE(segs.size(), 3u);
  const std::string first = dir_.File(segs[0]);
  std::string bytes = ReadFileBytes(first);
  const std::size_t size = bytes.size();
  bytes += std::string(57, '\x5a');
  WriteFileBytes(first, bytes);
  LogCapture log;
  Recovered r;
  auto j = Open(o, &r);
  ExpectSameRecovered(r, Expected());
  EXPECT_TRUE(log.Contains("corrupt bytes up to the end of the segment")) << log.All();
  EXPECT_EQ(size + 57, std::filesystem::file_size(first));
}

TEST_F(JournalRecoveryTest, SegmentFromANewerFormatIsRefused) {
  {
    auto j = Open();
    WriteDurably(*j, {Publish(1, clock_.WallMs())});
  }
  char h[kSegmentHeaderBytes];
  EncodeSegmentHeader(SegmentHeader{kFormatVersion + 1, 50, 0, 0}, h);
  WriteFileBytes(dir_.File(SegmentFileName(50)), std::string(h, sizeof(h)));
  Journal j(Opts());
  auto r = RecoverAll(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(kUnsupportedVersion, r.error().code);
  EXPECT_NE(std::string::npos, r.error().message.find("format version 2")) << r.error().message;
}

TEST_F(JournalRecoveryTest, SecondJournalOnTheSameDirIsRefused) {
  auto first = Open();
  Journal second(Opts());
  auto r = RecoverAll(second);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(kInUse, r.error().code);
}

TEST_F(JournalRecoveryTest, UnusableDataDirIsAnError) {
  WriteFileBytes(dir_.File("plain-file"), "x");
  Journal j(Options(dir_.File("plain-file") + "/sub", &clock_));
  auto r = RecoverAll(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.error().message.find("plain-file")) << r.error().message;
}

TEST_F(JournalRecoveryTest, AppendBeforeRecoverIsReportedFailed) {
  Journal j(Opts());
  const Ticket t = j.Append(Publish(1, 0));
  j.Commit();
  StorageProgress p = j.Poll();
  ASSERT_EQ(1u, p.failures.size());
  EXPECT_EQ(t, p.failures[0].first);
  EXPECT_EQ(0u, p.durable_upto);
}

}  // namespace
}  // namespace mandrill::broker::journal::testing
