#include "broker/journal/record_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <msgpack.hpp>

#include "broker/journal/format.h"
#include "broker/journal/msgpack_reader.h"
#include "broker/journal/record_views.h"
#include "tests/unit/journal/journal_test_util.h"

namespace mandrill::broker::journal {
namespace {

std::vector<DiskRecord> EveryType() {
  PublishRecord p = testing::Publish(123456789012ull, 1'700'000'000'123);
  p.headers = {{"trace", "abc"}, {"", ""}, {"k", std::string(300, 'v')}};
  p.payload = std::string("\0\xff binary \x01", 12);
  return {
      p,
      DeliverRecord{7, 3},
      AckRecord{8, 1'700'000'003'000},
      NackRecord{9, 2, 1'700'000'001'000, "handler timed out"},
      DeadLetterRecord{10, 5, "poison: bad payload", 1'700'000'002'000},
      RequeueRecord{11},
      PurgeRecord{12, -7},
      StateRecord{13, RecoveredMessage::State::kDead, 4, 0, "last", 99},
      SettledIdRecord{14, "restarts", "pub-1", -5, 1'700'000'005'000},
  };
}

ByteBuffer Frame(const DiskRecord& r) {
  ByteBuffer b;
  std::visit([&](const auto& x) { AppendFramed(x, &b); }, r);
  SealRecord(b.data());
  return b;
}

TEST(RecordCodecTest, EveryRecordTypeRoundTrips) {
  for (const DiskRecord& r : EveryType()) {
    ByteBuffer b = Frame(r);
    ASSERT_TRUE(PlausibleRecordHeader(b.data()));
    ASSERT_TRUE(RecordComplete(b.data(), b.size()));
    ASSERT_TRUE(RecordCrcMatches(b.data()));
    EXPECT_EQ(static_cast<std::uint8_t>(TypeOf(r)), static_cast<std::uint8_t>(b.data()[4]));
    DiskRecord back;
    ASSERT_TRUE(DecodeBody(static_cast<std::uint8_t>(b.data()[4]),
                           b.view().substr(kRecordHeaderBytes), &back))
        << RecordTypeName(static_cast<std::uint8_t>(TypeOf(r)));
    EXPECT_TRUE(back == r) << RecordTypeName(static_cast<std::uint8_t>(TypeOf(r)));
  }
}

TEST(RecordCodecTest, StorageRecordVariantFramesLikeItsAlternative) {
  const Record r = NackRecord{9, 2, 5, "x"};
  ByteBuffer a, b;
  AppendFramed(r, &a);
  AppendFramed(std::get<NackRecord>(r), &b);
  EXPECT_EQ(a.view(), b.view());
  EXPECT_EQ(RecordType::kNack, TypeOf(r));
}

TEST(RecordCodecTest, TrailingFieldsFromANewerWriterAreIgnored) {
  msgpack::sbuffer sb;
  msgpack::packer<msgpack::sbuffer> p(sb);
  p.pack_array(4);  // a deliver with two extra fields
  p.pack_uint64(5);
  p.pack_uint32(2);
  p.pack(std::string("future"));
  p.pack_array(2);
  p.pack_nil();
  p.pack_double(1.5);
  DiskRecord r;
  ASSERT_TRUE(DecodeBody(2, std::string_view(sb.data(), sb.size()), &r));
  EXPECT_TRUE(std::get<DeliverRecord>(r) == (DeliverRecord{5, 2}));
}

TEST(RecordCodecTest, SettleBodiesOfOlderBrokersDecodeWithoutASettleTime) {
  // Before the settle time was recorded: ack and purge were [seq], settled-id had 4 fields.
  msgpack::sbuffer ack;
  msgpack::packer<msgpack::sbuffer>(ack).pack_array(1).pack_uint64(8);
  msgpack::sbuffer id;
  msgpack::packer<msgpack::sbuffer> p(id);
  p.pack_array(4).pack_uint64(14).pack(std::string("restarts")).pack(std::string("pub-1"));
  p.pack_int64(1'700'000'000'000);
  for (const auto type : {RecordType::kAck, RecordType::kPurge}) {
    DiskRecord r;
    ASSERT_TRUE(DecodeBody(static_cast<std::uint8_t>(type), {ack.data(), ack.size()}, &r));
    EXPECT_EQ(8u, SeqOf(r));
    const std::int64_t settled = type == RecordType::kAck ? std::get<AckRecord>(r).settled_unix_ms
                                                           : std::get<PurgeRecord>(r).settled_unix_ms;
    EXPECT_EQ(0, settled);
    RecordView v;
    ASSERT_TRUE(DecodeView(static_cast<std::uint8_t>(type), {ack.data(), ack.size()}, &v));
    EXPECT_EQ(0, v.settled);
  }
  DiskRecord r;
  ASSERT_TRUE(DecodeBody(9, {id.data(), id.size()}, &r));
  EXPECT_TRUE(std::get<SettledIdRecord>(r) ==
              (SettledIdRecord{14, "restarts", "pub-1", 1'700'000'000'000, 0}));
  RecordView v;
  ASSERT_TRUE(DecodeView(9, {id.data(), id.size()}, &v));
  EXPECT_EQ(1'700'000'000'000, v.time);
  EXPECT_EQ(0, v.settled);
}

TEST(RecordCodecTest, SettleTimesReachTheViewsAndFitTheSettleReservation) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  for (const Record& settle : {Record{AckRecord{~0ull, kMin}}, Record{PurgeRecord{~0ull, kMin}},
                               Record{AckRecord{1, 1'700'000'003'000}}}) {
    ByteBuffer b;
    const std::size_t n = AppendFramed(settle, &b);
    EXPECT_LE(n, kMaxSettleRecordBytes);  // the space reserved per live message
    RecordView v;
    ASSERT_TRUE(DecodeView(static_cast<std::uint8_t>(TypeOf(settle)),
                           b.view().substr(kRecordHeaderBytes), &v));
    EXPECT_EQ(std::visit([](const auto& x) { return x.seq; }, settle), v.seq);
    const std::int64_t want = std::holds_alternative<AckRecord>(settle)
                                  ? std::get<AckRecord>(settle).settled_unix_ms
                                  : std::get<PurgeRecord>(settle).settled_unix_ms;
    EXPECT_EQ(want, v.settled);
  }
  SettledIdRecord id{~0ull, std::string(200, 'q'), std::string(300, 'i'), kMin, kMin};
  ByteBuffer b;
  EXPECT_LE(AppendFramed(id, &b), SettledIdRecordBytes(200, 300));
}

TEST(RecordCodecTest, AcceptsEveryValidIntegerAndStringWidth) {
  // msgpack-c picks the shortest encodings; another writer may not. Encode fields wide.
  msgpack::sbuffer sb;
  msgpack::packer<msgpack::sbuffer> p(sb);
  p.pack_array(4);
  p.pack_fix_uint64(9);  // seq as uint64
  p.pack_fix_uint8(3);   // attempt as uint8
  p.pack_fix_int64(-2);  // not_before as int64
  const char* reason = "r";
  sb.write("\xdb\x00\x00\x00\x01", 5);  // str32 of length 1
  sb.write(reason, 1);
  DiskRecord r;
  ASSERT_TRUE(DecodeBody(4, std::string_view(sb.data(), sb.size()), &r));
  EXPECT_TRUE(std::get<NackRecord>(r) == (NackRecord{9, 3, -2, "r"}));
}

TEST(RecordCodecTest, RejectsWrongTypesShortArraysAndTrailingBytes) {
  const auto decode = [](std::uint8_t type, const msgpack::sbuffer& sb) {
    DiskRecord r;
    return DecodeBody(type, std::string_view(sb.data(), sb.size()), &r);
  };
  msgpack::sbuffer a;
  msgpack::packer<msgpack::sbuffer>(a).pack_array(1).pack_uint64(1);
  EXPECT_FALSE(decode(2, a));  // deliver needs 2 fields
  EXPECT_TRUE(decode(3, a));   // an ack
  a.write("\x00", 1);
  EXPECT_FALSE(decode(3, a));  // bytes after the array
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer>(b).pack_array(1).pack_int64(-1);
  EXPECT_FALSE(decode(3, b));  // negative seq
  msgpack::sbuffer c;
  msgpack::packer<msgpack::sbuffer>(c).pack_array(2).pack_uint64(1).pack_uint64(1ull << 40);
  EXPECT_FALSE(decode(2, c));  // attempt over 32 bits
  EXPECT_FALSE(decode(0, a));
  EXPECT_FALSE(decode(200, a));
}

TEST(MsgpackReaderTest, NeverReadsPastTheEnd) {
  // Every prefix of a valid body fails cleanly (under ASan this also proves no overread).
  ByteBuffer b = Frame(EveryType()[0]);
  const std::string body(b.view().substr(kRecordHeaderBytes));
  for (std::size_t n = 0; n < body.size(); ++n) {
    DiskRecord r;
    EXPECT_FALSE(DecodeBody(1, std::string_view(body.data(), n), &r)) << n;
  }
}

TEST(MsgpackReaderTest, ReadsEveryIntegerWidthAndSign) {
  msgpack::sbuffer sb;
  msgpack::packer<msgpack::sbuffer> p(sb);
  p.pack_fix_int8(-1);
  p.pack_fix_int16(-300);
  p.pack_fix_int32(-70000);
  p.pack_fix_int64(std::numeric_limits<std::int64_t>::min());
  p.pack_fix_uint8(200);
  p.pack_fix_uint16(60000);
  p.pack_fix_uint32(4'000'000'000u);
  p.pack_fix_uint64(std::numeric_limits<std::int64_t>::max());
  p.pack_fix_uint64(~0ull);  // fits a uint64, not an int64
  p.pack_int8(-5);           // negative fixint
  MsgpackReader r(std::string_view(sb.data(), sb.size()));
  std::int64_t v;
  std::uint64_t u;
  for (std::int64_t want :
       {std::int64_t{-1}, std::int64_t{-300}, std::int64_t{-70000},
        std::numeric_limits<std::int64_t>::min(), std::int64_t{200}, std::int64_t{60000},
        std::int64_t{4'000'000'000}, std::numeric_limits<std::int64_t>::max()}) {
    ASSERT_TRUE(r.ReadInt(&v));
    EXPECT_EQ(want, v);
  }
  ASSERT_TRUE(r.ReadUint(&u));
  EXPECT_EQ(~0ull, u);
  ASSERT_TRUE(r.ReadInt(&v));
  EXPECT_EQ(-5, v);
  EXPECT_TRUE(r.AtEnd());
  MsgpackReader neg(std::string_view("\xff", 1));
  EXPECT_FALSE(neg.ReadUint(&u));  // -1 is not a uint
}

TEST(MsgpackReaderTest, SkipHandlesEveryTypeAndBoundsDepth) {
  msgpack::sbuffer sb;
  msgpack::packer<msgpack::sbuffer> p(sb);
  p.pack_array(9);
  p.pack_nil();
  p.pack_true();
  p.pack_float(1.0f);
  p.pack_double(2.0);
  p.pack_uint64(~0ull);
  p.pack_int64(-1234567);
  p.pack_bin(3);
  p.pack_bin_body("abc", 3);
  p.pack_ext(2, 7);
  p.pack_ext_body("xy", 2);
  p.pack_map(1);
  p.pack(std::string("k"));
  p.pack_array(0);
  MsgpackReader r(std::string_view(sb.data(), sb.size()));
  EXPECT_TRUE(r.Skip());
  EXPECT_TRUE(r.AtEnd());

  std::string deep(MsgpackReader::kMaxDepth + 5, '\x91');  // nested one-element arrays
  deep += '\x01';
  MsgpackReader d(deep);
  EXPECT_FALSE(d.Skip());
}

TEST(FormatTest, SegmentHeaderRoundTripsAndDetectsDamage) {
  char h[kSegmentHeaderBytes];
  EncodeSegmentHeader(SegmentHeader{kFormatVersion, 42, 1000, 1'700'000'000'000}, h);
  SegmentHeader back;
  ASSERT_EQ(HeaderCheck::kOk, DecodeSegmentHeader(std::string_view(h, sizeof(h)), &back));
  EXPECT_EQ(42u, back.number);
  EXPECT_EQ(1000u, back.base_seq);
  EXPECT_EQ(1'700'000'000'000, back.created_unix_ms);
  EXPECT_EQ(HeaderCheck::kTooShort, DecodeSegmentHeader(std::string_view(h, 20), &back));
  char bad[kSegmentHeaderBytes];
  std::memcpy(bad, h, sizeof(h));
  bad[0] = 'X';
  EXPECT_EQ(HeaderCheck::kBadMagic, DecodeSegmentHeader(std::string_view(bad, sizeof(h)), &back));
  std::memcpy(bad, h, sizeof(h));
  bad[20] ^= 1;
  EXPECT_EQ(HeaderCheck::kBadCrc, DecodeSegmentHeader(std::string_view(bad, sizeof(h)), &back));
  // A damaged version field is damage, not a newer version.
  std::memcpy(bad, h, sizeof(h));
  bad[8] = 9;
  EXPECT_EQ(HeaderCheck::kBadCrc, DecodeSegmentHeader(std::string_view(bad, sizeof(h)), &back));
  // A real newer version (with its CRC) is recognised.
  EncodeSegmentHeader(SegmentHeader{kFormatVersion + 1, 1, 0, 0}, h);
  EXPECT_EQ(HeaderCheck::kNewerVersion, DecodeSegmentHeader(std::string_view(h, sizeof(h)), &back));
  EXPECT_EQ(kFormatVersion + 1, back.version);
}

TEST(FormatTest, SegmentFileNamesRoundTrip) {
  EXPECT_EQ("journal-000000000042.seg", SegmentFileName(42));
  EXPECT_EQ(42u, ParseSegmentFileName("journal-000000000042.seg").value());
  EXPECT_EQ(7u, ParseSegmentFileName("journal-7.seg").value());
  EXPECT_FALSE(ParseSegmentFileName("journal-.seg"));
  EXPECT_FALSE(ParseSegmentFileName("journal-12a.seg"));
  EXPECT_FALSE(ParseSegmentFileName("LOCK"));
  EXPECT_FALSE(ParseSegmentFileName("journal-000000000042.seg.tmp"));
  EXPECT_FALSE(ParseSegmentFileName("journal-99999999999999999999.seg"));
}

TEST(FormatTest, HeaderCheckRejectsMostRandomHeaders) {
  // The resynchronising scanner relies on this being cheap and selective.
  std::uint64_t x = 88172645463325252ull;
  int plausible = 0;
  for (int i = 0; i < 200000; ++i) {
    char h[kRecordHeaderBytes];
    for (char& c : h) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
    plausible += PlausibleRecordHeader(h) ? 1 : 0;
  }
  EXPECT_LE(plausible, 2);
}

}  // namespace
}  // namespace mandrill::broker::journal
