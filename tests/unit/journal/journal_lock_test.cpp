// One writer per data dir (issue 11 item 2): the dir itself is locked, so deleting LOCK does
// not let a second journal in; and if two writers' segments ever meet in one dir, replay says
// so loudly and keeps both messages instead of taking one for a compaction copy of the other.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "tests/unit/journal/journal_test_util.h"

namespace mandrill::broker::journal::testing {
namespace {

class JournalLockTest : public JournalTest {};

TEST_F(JournalLockTest, DeletingLockDoesNotLetASecondJournalIn) {
  auto first = Open();
  ASSERT_TRUE(std::filesystem::remove(dir_.File("LOCK")));
  Journal second(Opts());
  Recovered r;
  auto result = RecoverAll(second);
  ASSERT_FALSE(result.ok()) << "a second journal opened the data dir";
  EXPECT_EQ(make_error_code(kInUse), result.error().code);
  EXPECT_NE(std::string::npos, result.error().message.find("in use")) << result.error().message;
  // The first one still works, and once it is closed the dir can be opened again.
  WriteDurably(*first, {Publish(1, clock_.WallMs())});
  first.reset();
  ExpectRecoveredMatchesModel(Opts());
}

TEST_F(JournalLockTest, TwoWritersSameSeqsAreReportedAndBothKept) {
  // Two journals number their messages from the same point in two dirs; then one's segment
  // lands next to the other's, as two brokers sharing a dir would have left them.
  TempDir other;
  const std::int64_t now = clock_.WallMs();
  {
    auto j = Open();
    std::vector<Record> recs;
    for (std::uint64_t s = 1; s <= 10; ++s) recs.push_back(Publish(s, now, "from-a"));
    recs.push_back(AckRecord{3, now});
    WriteDurably(*j, recs);
  }
  {
    auto j = Open(Options(other.path(), &clock_, &fs_));
    std::vector<Record> recs;
    for (std::uint64_t s = 1; s <= 10; ++s) recs.push_back(Publish(s, now, "from-b"));
    for (const Record& r : recs) j->Append(r);
    j->Commit();
    ASSERT_TRUE(j->WaitIdleForTest(std::chrono::seconds(10)));
  }
  std::filesystem::copy_file(other.File(SegmentFiles(other.path()).back()),
                             dir_.File("journal-000000000002.seg"));
  LogCapture log;
  Journal j(Opts());
  auto r = RecoverAll(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::set<std::string> queues;
  std::size_t from_b = 0;
  std::set<std::uint64_t> seqs;
  for (const auto& m : r->messages) {
    from_b += m.publish.queue == "from-b";
    seqs.insert(m.publish.seq);
  }
  EXPECT_EQ(10u, from_b) << "messages of the second writer were taken for copies and lost";
  EXPECT_EQ(19u, r->messages.size());  // 9 of the first (one acked) + 10 of the second
  EXPECT_EQ(r->messages.size(), seqs.size()) << "two live messages share a seq";
  EXPECT_GE(r->max_seq, 20u);
  EXPECT_EQ(10, Counter(j, "journal.recovery_conflicts"));
  EXPECT_TRUE(log.Contains("TWO WRITERS")) << log.All();
}

}  // namespace
}  // namespace mandrill::broker::journal::testing
