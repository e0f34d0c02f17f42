// The data dir's fencing epoch (broker/journal/epoch_file.h, issue 14): absent is 0, every
// Journal::Open takes the next one, it is durable when Open returns (the fault-injecting fs drops
// whatever was not synced), a crash at any step never lets an epoch be handed out twice, and a
// corrupt file stops the start instead of being reset.
#include "broker/journal/epoch_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/unit/journal/journal_test_util.h"

namespace mandrill::broker::journal::testing {
namespace {

class EpochFileTest : public JournalTest {
 protected:
  std::string EpochPath() const { return dir_.File(kEpochFileName); }
  // Opens (locks + advances the epoch) and closes a journal on dir_ through fs_.
  core::Result<std::uint64_t> OpenOnce() {
    Journal j(Opts());
    return j.Open();
  }
  std::uint64_t Stored() {
    auto e = ReadEpoch(&fs_, dir_.path());
    EXPECT_TRUE(e.ok()) << e.error().message;
    return e.ok() ? *e : 0;
  }
};

TEST_F(EpochFileTest, AbsentFileIsEpochZeroAndTheFirstOpenTakesOne) {
  auto before = ReadEpoch(&fs_, dir_.path());
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_EQ(*before, 0u);
  auto first = OpenOnce();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 1u);
  // One line an operator can read: tag, epoch, 8 hex digits of checksum.
  const std::string text = ReadFileBytes(EpochPath());
  EXPECT_EQ(text.rfind("epoch-v1 1 ", 0), 0u) << text;
  EXPECT_EQ(text.size(), std::string("epoch-v1 1 01234567\n").size()) << text;
}

TEST_F(EpochFileTest, EveryOpenTakesTheNextEpoch) {
  for (std::uint64_t expected = 1; expected <= 5; ++expected) {
    auto e = OpenOnce();
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(*e, expected);
  }
  EXPECT_EQ(Stored(), 5u);
}

TEST_F(EpochFileTest, RecoverOpensWhenOpenWasNotCalledAndOpenTwiceIsOneEpoch) {
  {
    Journal j(Opts());
    auto r = RecoverAll(j);  // no Open(): Recover opens
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_EQ(Stored(), 1u);
  Journal j(Opts());
  auto a = j.Open();
  auto b = j.Open();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 2u);
  EXPECT_EQ(*b, 2u);
  ASSERT_TRUE(RecoverAll(j).ok());
  EXPECT_EQ(Stored(), 2u);
}

// Open returns the epoch only once it is durable: a power cut right after it (the fault fs cuts
// every file back to its last sync and forgets entries of unsynced dirs) still finds it.
TEST_F(EpochFileTest, TheEpochIsDurableWhenOpenReturns) {
  ASSERT_TRUE(OpenOnce().ok());
  const auto syncs = fs_.syncs();
  auto e = OpenOnce();
  ASSERT_TRUE(e.ok());
  EXPECT_GE(fs_.syncs(), syncs + 1) << "the new epoch was not synced";
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Stored(), 2u);
  auto next = OpenOnce();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 3u);
}

// Crash (every mutating operation fails from the Nth on) at each step of writing the epoch,
// then lose power: the epoch a later Open hands out is always above every epoch handed out
// before, and the failed Open handed out none.
TEST_F(EpochFileTest, ACrashAtAnyStepNeverHandsOutAnEpochTwice) {
  ASSERT_TRUE(OpenOnce().ok());  // epoch 1 on disk
  std::uint64_t highest = 1;
  int crashed = 0;
  for (std::uint64_t ops = 0; ops < 12; ++ops) {
    fs_.CrashAfter(ops);
    auto e = OpenOnce();
    if (!e.ok()) {
      ++crashed;
      EXPECT_NE(e.error().message.find(dir_.path()), std::string::npos) << e.error().message;
    } else {
      EXPECT_GT(*e, highest);
      highest = *e;
    }
    fs_.ClearFaults();
    ASSERT_TRUE(fs_.DropUnsyncedData().ok());
    auto after = OpenOnce();
    ASSERT_TRUE(after.ok()) << "after a crash at op " << ops << ": " << after.error().message;
    EXPECT_GT(*after, highest) << "crash at op " << ops;
    highest = *after;
  }
  EXPECT_GT(crashed, 2) << "the crash points did not reach the epoch write";
}

TEST_F(EpochFileTest, AFailedSyncFailsTheOpenAndTheNextOpenStillMovesOn) {
  ASSERT_TRUE(OpenOnce().ok());
  fs_.FailNthSync(1, EIO);
  auto e = OpenOnce();
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("epoch 2"), std::string::npos) << e.error().message;
  auto next = OpenOnce();
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_GE(*next, 2u);
}

TEST_F(EpochFileTest, ALeftoverTempFileIsReplaced) {
  ASSERT_TRUE(OpenOnce().ok());
  WriteFileBytes(dir_.File(kEpochTempFileName), "half-written");
  auto e = OpenOnce();
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(*e, 2u);
  EXPECT_FALSE(std::filesystem::exists(dir_.File(kEpochTempFileName)));
}

// A corrupt epoch file stops the start, names the path and is left as it was: resetting it could
// hand out an epoch that leases are already out under.
TEST_F(EpochFileTest, ACorruptEpochFileIsAnErrorNamingThePathAndIsNotReset) {
  ASSERT_TRUE(OpenOnce().ok());
  const std::string good = ReadFileBytes(EpochPath());
  std::string flipped = good;
  flipped[9] = flipped[9] == '1' ? '7' : '1';  // the epoch digit: the checksum catches it
  const std::string corruptions[] = {
      "",                                   // empty (e.g. a file system that lost its data)
      "epoch-v1 1 00000000\n",              // wrong checksum
      flipped,                              // a flipped digit
      "epoch-v1 x " + good.substr(11),      // not a number
      good.substr(0, good.size() - 1),      // no line end
      "epoch-v9 1 " + good.substr(11),      // a format from the future
      std::string(100, 'z'),                // not ours at all
      std::string("\0\0\0\0\0\0\0\0", 8),   // zeroed blocks
  };
  for (const std::string& bytes : corruptions) {
    WriteFileBytes(EpochPath(), bytes);
    auto e = OpenOnce();
    ASSERT_FALSE(e.ok()) << "accepted " << ::testing::PrintToString(bytes);
    EXPECT_EQ(e.error().code, make_error_code(kCorrupt)) << e.error().message;
    EXPECT_NE(e.error().message.find(EpochPath()), std::string::npos) << e.error().message;
    EXPECT_EQ(ReadFileBytes(EpochPath()), bytes) << "the corrupt file was rewritten";
  }
  WriteFileBytes(EpochPath(), good);
  auto e = OpenOnce();
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(*e, 2u);
}

TEST_F(EpochFileTest, ASecondJournalOnAHeldDirDoesNotTouchTheEpoch) {
  Journal first(Opts());
  auto a = first.Open();
  ASSERT_TRUE(a.ok());
  auto b = OpenOnce();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, make_error_code(kInUse));
  EXPECT_EQ(Stored(), *a);
}

TEST_F(EpochFileTest, WrittenEpochsReadBack) {
  for (std::uint64_t v : {std::uint64_t{1}, std::uint64_t{65536}, std::uint64_t{1} << 40,
                          UINT64_MAX - 1}) {
    ASSERT_TRUE(WriteEpoch(&fs_, dir_.path(), v).ok());
    EXPECT_EQ(Stored(), v);
  }
  auto e = OpenOnce();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, UINT64_MAX);
  auto past = OpenOnce();
  ASSERT_FALSE(past.ok()) << "advanced past the largest epoch";
  EXPECT_EQ(Stored(), UINT64_MAX);
}

}  // namespace
}  // namespace mandrill::broker::journal::testing
