#include "broker/journal/record_scanner.h"

#include <gtest/gtest.h>

#include "broker/journal/format.h"
#include "broker/journal/record_codec.h"

namespace mandrill::broker::journal {
namespace {

// Three sealed records back to back; offsets of each in *starts.
std::string ThreeRecords(std::vector<std::size_t>* starts) {
  ByteBuffer b;
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    starts->push_back(b.size());
    AppendFramed(NackRecord{seq, 1, 0, std::string(40, 'r')}, &b);
    SealRecord(b.data() + starts->back());
  }
  return std::string(b.view());
}

std::vector<std::uint64_t> Offsets(std::string_view bytes, std::vector<CorruptRegion>* bad,
                                   bool at_eof = true) {
  RecordScanner s(bytes, 100, at_eof);
  std::vector<std::uint64_t> out;
  ScannedRecord rec;
  CorruptRegion region;
  for (;;) {
    auto step = s.Next(&rec, &region);
    if (step == RecordScanner::Step::kRecord) out.push_back(rec.offset);
    if (step == RecordScanner::Step::kCorrupt) bad->push_back(region);
    if (step == RecordScanner::Step::kEnd || step == RecordScanner::Step::kNeedMore) break;
  }
  return out;
}

TEST(RecordScannerTest, FindsEveryRecordWithFileOffsets) {
  std::vector<std::size_t> at;
  const std::string bytes = ThreeRecords(&at);
  std::vector<CorruptRegion> bad;
  EXPECT_EQ((std::vector<std::uint64_t>{100 + at[0], 100 + at[1], 100 + at[2]}),
            Offsets(bytes, &bad));
  EXPECT_TRUE(bad.empty());
}

TEST(RecordScannerTest, DamagedMiddleRecordIsOneRegionAndScanningResumes) {
  std::vector<std::size_t> at;
  std::string bytes = ThreeRecords(&at);
  bytes[at[1] + kRecordHeaderBytes + 5] ^= 0x10;
  std::vector<CorruptRegion> bad;
  EXPECT_EQ((std::vector<std::uint64_t>{100 + at[0], 100 + at[2]}), Offsets(bytes, &bad));
  ASSERT_EQ(1u, bad.size());
  EXPECT_EQ(100 + at[1], bad[0].offset);
  EXPECT_EQ(at[2] - at[1], bad[0].length);
  EXPECT_FALSE(bad[0].tail);
}

TEST(RecordScannerTest, CutLastRecordIsATail) {
  std::vector<std::size_t> at;
  const std::string bytes = ThreeRecords(&at);
  for (std::size_t cut = at[2] + 1; cut < bytes.size(); ++cut) {
    std::vector<CorruptRegion> bad;
    EXPECT_EQ((std::vector<std::uint64_t>{100 + at[0], 100 + at[1]}),
              Offsets(std::string_view(bytes).substr(0, cut), &bad));
    ASSERT_EQ(1u, bad.size());
    EXPECT_TRUE(bad[0].tail);
    EXPECT_EQ(100 + at[2], bad[0].offset);
  }
}

TEST(RecordScannerTest, IncompleteInputAsksForMore) {
  std::vector<std::size_t> at;
  const std::string bytes = ThreeRecords(&at);
  std::vector<CorruptRegion> bad;
  EXPECT_EQ((std::vector<std::uint64_t>{100 + at[0]}),
            Offsets(std::string_view(bytes).substr(0, at[1] + 3), &bad, /*at_eof=*/false));
  EXPECT_TRUE(bad.empty());
}

TEST(RecordScannerTest, ZerosAreNotRecords) {
  const std::string zeros(1000, '\0');
  std::vector<CorruptRegion> bad;
  EXPECT_TRUE(Offsets(zeros, &bad).empty());
  ASSERT_EQ(1u, bad.size());
  EXPECT_EQ(1000u, bad[0].length);
}

}  // namespace
}  // namespace mandrill::broker::journal
