#include "publisher/message_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace mandrill::publisher {
namespace {

std::vector<std::string> Drain(MessageSource& s) {
  std::vector<std::string> out;
  std::string p;
  while (s.Next(p) == SourceStatus::kMessage) out.push_back(p);
  return out;
}

TEST(ArgsSourceTest, YieldsEachArgumentThenEnds) {
  ArgsSource s({"a", "b c", ""});
  std::string p;
  EXPECT_EQ(s.Next(p), SourceStatus::kMessage);
  EXPECT_EQ(p, "a");
  EXPECT_EQ(s.Next(p), SourceStatus::kMessage);
  EXPECT_EQ(p, "b c");
  EXPECT_EQ(s.Next(p), SourceStatus::kMessage);
  EXPECT_EQ(p, "");
  EXPECT_EQ(s.Next(p), SourceStatus::kEnd);
  EXPECT_EQ(s.input_fd(), -1);
}

TEST(GeneratedSourceTest, YieldsCountRestartRequests) {
  GeneratedSource s(50, 9);
  const auto all = Drain(s);
  ASSERT_EQ(all.size(), 50u);
  for (const auto& p : all) {
    ASSERT_EQ(p.rfind("restart ", 0), 0u) << p;
    EXPECT_TRUE(IsHostName(p.substr(8))) << p;
  }
  std::string p;
  EXPECT_EQ(s.Next(p), SourceStatus::kEnd);
}

TEST(GeneratedSourceTest, SameSeedSamePayloads) {
  GeneratedSource a(20, 11), b(20, 11);
  EXPECT_EQ(Drain(a), Drain(b));
}

TEST(GeneratedSourceTest, PadsToPayloadBytes) {
  GeneratedSource s(3, 1, 100);
  for (const auto& p : Drain(s)) {
    EXPECT_EQ(p.size(), 100u);
    EXPECT_EQ(p.rfind("restart cattle-", 0), 0u);
  }
}

TEST(GeneratedSourceTest, ZeroCountIsEmpty) {
  GeneratedSource s(0, 1);
  std::string p;
  EXPECT_EQ(s.Next(p), SourceStatus::kEnd);
}

TEST(LineSplitterTest, SplitsLinesSkipsEmptyAndStripsCarriageReturn) {
  LineSplitter sp(100);
  sp.Feed("one\n\ntwo\r\nthr");
  std::string line;
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(line, "one");
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(line, "two");
  EXPECT_EQ(sp.Next(line), SourceStatus::kNeedInput);
  sp.Feed("ee\nfour");
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(line, "three");
  EXPECT_EQ(sp.Next(line), SourceStatus::kNeedInput);
  sp.Finish();
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(line, "four");
  EXPECT_EQ(sp.Next(line), SourceStatus::kEnd);
}

TEST(LineSplitterTest, OverlongLineIsSkippedAndReportedOnce) {
  LineSplitter sp(5);
  sp.Feed("ok\n0123456789");
  std::string line;
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(sp.Next(line), SourceStatus::kTooLong);
  EXPECT_EQ(sp.line_number(), 2u);
  sp.Feed("more of the same long line");
  EXPECT_EQ(sp.Next(line), SourceStatus::kNeedInput);
  sp.Feed("...\nnext\n");
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(line, "next");
  EXPECT_EQ(sp.line_number(), 3u);
}

TEST(LineSplitterTest, OverlongCompleteLineIsSkipped) {
  LineSplitter sp(3);
  sp.Feed("abcdef\nxy\n");
  std::string line;
  EXPECT_EQ(sp.Next(line), SourceStatus::kTooLong);
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(line, "xy");
}

TEST(LineSplitterTest, LineOfExactlyMaxBytesWithCrlfIsKept) {
  LineSplitter sp(3);
  sp.Feed("abc\r");
  std::string line;
  EXPECT_EQ(sp.Next(line), SourceStatus::kNeedInput);
  sp.Feed("\n");
  ASSERT_EQ(sp.Next(line), SourceStatus::kMessage);
  EXPECT_EQ(line, "abc");
}

TEST(LineSplitterTest, ManySmallFeedsKeepMemoryBounded) {
  LineSplitter sp(64);
  std::string line;
  int got = 0;
  for (int i = 0; i < 100'000; ++i) {
    sp.Feed("restart cattle-abcd\n");
    while (sp.Next(line) == SourceStatus::kMessage) ++got;
  }
  EXPECT_EQ(got, 100'000);
}

TEST(LineSourceTest, ReadsLinesFromADescriptorWithoutBlocking) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  LineSource src(fds[0], 1024);
  std::string p;
  EXPECT_EQ(src.Next(p), SourceStatus::kNeedInput);
  EXPECT_EQ(src.input_fd(), fds[0]);
  ASSERT_EQ(::write(fds[1], "a\nb", 3), 3);
  ASSERT_TRUE(src.Fill().ok());
  ASSERT_EQ(src.Next(p), SourceStatus::kMessage);
  EXPECT_EQ(p, "a");
  EXPECT_EQ(src.Next(p), SourceStatus::kNeedInput);
  ::close(fds[1]);
  ASSERT_TRUE(src.Fill().ok());  // end of stream
  EXPECT_EQ(src.input_fd(), -1);
  ASSERT_EQ(src.Next(p), SourceStatus::kMessage);
  EXPECT_EQ(p, "b");
  EXPECT_EQ(src.Next(p), SourceStatus::kEnd);
  ::close(fds[0]);
}

TEST(LineSourceTest, TooLongLineNamesItsNumber) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  LineSource src(fds[0], 4);
  ASSERT_EQ(::write(fds[1], "ok\ntoolong\n", 11), 11);
  ::close(fds[1]);
  ASSERT_TRUE(src.Fill().ok());
  std::string p;
  ASSERT_EQ(src.Next(p), SourceStatus::kMessage);
  ASSERT_EQ(src.Next(p), SourceStatus::kTooLong);
  EXPECT_NE(src.error_text().find("input line 2 is longer than 4 bytes"), std::string::npos)
      << src.error_text();
  ::close(fds[0]);
}

}  // namespace
}  // namespace mandrill::publisher
