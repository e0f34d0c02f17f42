// Every command survives EncodeBody -> Decode unchanged, including edge values, and decoders
// ignore trailing fields they do not know (the forward-compatibility rule in messages.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>

#include "shared/protocol/codec.h"
#include "tests/unit/protocol/codec_test_util.h"
#include "tests/unit/protocol/sample_messages.h"

namespace mandrill::protocol {
namespace {

using testutil::Body;
using testutil::DecodeAs;
using testutil::Describe;
using testutil::IsError;
using testutil::Packer;
using testutil::PackBin;
using testutil::PackStr;
using testutil::RoundTrip;

TEST(CodecTest, SamplesCoverEveryMessageAlternativeInOrder) {
  const auto samples = samples::OnePerCommand();
  ASSERT_EQ(samples.size(), std::variant_size_v<Message>);
  std::set<Command> commands;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(samples[i].index(), i);
    commands.insert(CommandOf(samples[i]));
  }
  EXPECT_EQ(commands.size(), std::variant_size_v<Message>) << "two alternatives share a byte";
}

// One case per sample: every alternative with non-trivial values, then the edge cases.
class CodecRoundTripTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  static const std::vector<Message>& Samples() {
    static const auto* all = new std::vector<Message>(samples::All());
    return *all;
  }
};

TEST_P(CodecRoundTripTest, DecodeReturnsWhatWasEncoded) {
  const Message& m = Samples()[GetParam()];
  const auto r = RoundTrip(m);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r->index(), m.index());
  EXPECT_TRUE(*r == m) << CommandName(CommandOf(m)) << " changed in the round trip";
}

TEST_P(CodecRoundTripTest, EncodingIsDeterministic) {
  const Message& m = Samples()[GetParam()];
  const auto once = samples::EncodeToString(m);
  const auto r = RoundTrip(m);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(samples::EncodeToString(*r), once);
}

TEST_P(CodecRoundTripTest, TrailingUnknownFieldsAreIgnored) {
  const Message& m = Samples()[GetParam()];
  const auto body = samples::EncodeToString(m);
  // Re-pack the top-level array with three extra fields a newer peer might append.
  msgpack::object_handle h = msgpack::unpack(body.data(), body.size());
  const msgpack::object& top = h.get();
  ASSERT_EQ(top.type, msgpack::type::ARRAY);
  const auto extended = Body([&](Packer& p) {
    p.pack_array(top.via.array.size + 3);
    for (std::uint32_t i = 0; i < top.via.array.size; ++i) p.pack(top.via.array.ptr[i]);
    p.pack_nil();
    PackStr(p, "field from protocol v1.1");
    p.pack_array(2).pack(1).pack(2);
  });
  const auto r = DecodeAs(CommandOf(m), extended);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(*r == m);
}

std::string SampleName(const ::testing::TestParamInfo<std::size_t>& info) {
  static const auto all = samples::All();
  std::string name(CommandName(CommandOf(all[info.param])));
  return name + "_" + std::to_string(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllSamples, CodecRoundTripTest,
                         ::testing::Range<std::size_t>(0, samples::All().size()), SampleName);

TEST(CodecTest, PublishRoundTripsWithHeadersAndBinaryPayload) {
  const Publish m{{PublishItem{"restarts", "cattle-x7q2", std::string("\0pay\0load\xff\x80", 11),
                               {{"trace-id", "abc"}, {"empty", ""}, {"dup", "1"}, {"dup", "2"}}}}};
  const auto r = RoundTrip(m);
  ASSERT_TRUE(r.ok()) << Describe(r);
  const auto& p = std::get<Publish>(*r);
  ASSERT_EQ(p.items.size(), 1u);
  EXPECT_EQ(p.items[0].payload.size(), 11u);
  EXPECT_EQ(p.items[0].payload, m.items[0].payload);
  // Header order and duplicates are kept: headers are a list of pairs, not a map.
  EXPECT_EQ(p.items[0].headers, m.items[0].headers);
}

TEST(CodecTest, PublishRoundTripsLongestQueueNameIdAndPayload) {
  const Limits limits;
  const Publish m{{PublishItem{samples::QueueName(kMaxQueueNameBytes),
                               samples::MessageId(kMaxMessageIdBytes),
                               samples::BinaryBytes(limits.max_payload_bytes), {}}}};
  const auto r = RoundTrip(m, limits);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(*r == Message(m));
}

TEST(CodecTest, PublishRoundTripsFullBatch) {
  const Limits limits;
  Publish m;
  for (std::size_t i = 0; i < limits.max_batch; ++i) {
    m.items.push_back(PublishItem{"q", "id-" + std::to_string(i), "p", {}});
  }
  const auto r = RoundTrip(m, limits);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(*r == Message(m));
}

TEST(CodecTest, DeliverRoundTripsExtremeLeaseIdsAndNegativeDeadlines) {
  constexpr auto kU64Max = std::numeric_limits<std::uint64_t>::max();
  constexpr auto kI64Min = std::numeric_limits<std::int64_t>::min();
  const Deliver m{{DeliverItem{kU64Max, "a", "q", "", 1, 0, kI64Min, {}},
                   DeliverItem{kU64Max - 1, "b", "q", "x", 2, 1, -1, {{"h", "v"}}},
                   DeliverItem{0, "c", "q", "y", 0, 0, 0, {}}}};
  const auto r = RoundTrip(m);
  ASSERT_TRUE(r.ok()) << Describe(r);
  const auto& d = std::get<Deliver>(*r);
  EXPECT_EQ(d.items[0].lease_id, kU64Max);
  EXPECT_EQ(d.items[0].deadline_unix_ms, kI64Min);
  EXPECT_EQ(d.items[1].deadline_unix_ms, -1);
  EXPECT_TRUE(*r == Message(m));
}

TEST(CodecTest, ErrorKeepsCodesThisPeerDoesNotKnow) {
  // A newer broker may send a code added after this build; it must survive decoding.
  const Error m{static_cast<ErrorCode>(206), "new reason", 0x01, "q", {}, {}, 0};
  const auto r = RoundTrip(m);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(static_cast<int>(std::get<Error>(*r).code), 206);
}

TEST(CodecTest, HeartbeatWithoutTasksIsAnEmptyList) {
  EXPECT_EQ(samples::EncodeToString(Heartbeat{}), std::string("\x92\x90\x00", 3));  // [[], 0]
  // Peers older than task reports send an empty array; it is an empty heartbeat.
  const auto r = DecodeAs(Command::kHeartbeat, "\x90");
  ASSERT_TRUE(r.ok()) << Describe(r);
  ASSERT_TRUE(std::holds_alternative<Heartbeat>(*r));
  EXPECT_TRUE(std::get<Heartbeat>(*r).tasks.empty());
}

TEST(CodecTest, HeartbeatCarriesTheReadyDepthAndOlderOnesHaveNone) {
  Heartbeat h;
  h.ready = 123'456'789'012;
  const auto r = RoundTrip(h);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(std::get<Heartbeat>(*r).ready, 123'456'789'012u);
  // A broker older than depth reports sends [[]]: ready 0. A negative depth is malformed.
  const auto old = DecodeAs(Command::kHeartbeat, "\x91\x90");
  ASSERT_TRUE(old.ok()) << Describe(old);
  EXPECT_EQ(std::get<Heartbeat>(*old).ready, 0u);
  EXPECT_FALSE(DecodeAs(Command::kHeartbeat, "\x92\x90\xff").ok());
}

TEST(CodecTest, HeartbeatWithMoreTaskReportsThanTheLimitIsTooLarge) {
  Heartbeat h;
  h.tasks.resize(kMaxTaskReports);
  EXPECT_TRUE(RoundTrip(h).ok());
  h.tasks.resize(kMaxTaskReports + 1);
  EXPECT_TRUE(IsError(RoundTrip(h), ErrorCode::kTooLarge, "task reports"));
}

TEST(CodecTest, WorkerStatsFromABrokerWithoutTaskListsDecodeWithNone) {
  // A 9-field worker entry, as brokers before task reports send it.
  const auto body = Body([](Packer& p) {
    p.pack_array(6).pack_uint64(1);
    PackStr(p, "b");
    p.pack_int64(0).pack_array(0).pack_array(1).pack_array(9);
    PackStr(p, "w");
    PackStr(p, "peer");
    p.pack_array(0).pack_uint32(4).pack_uint32(1).pack_uint64(2).pack_uint64(1).pack_uint64(0);
    p.pack_int64(7);
    p.pack_array(0);  // counters
  });
  const auto r = DecodeAs(Command::kStatsReply, body);
  ASSERT_TRUE(r.ok()) << Describe(r);
  const auto& w = std::get<StatsReply>(*r).workers.at(0);
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.idle_ms, 7);
  EXPECT_TRUE(w.tasks.empty());
}

TEST(CodecTest, NilHeadersDecodeAsNoHeaders) {
  const auto body = Body([](Packer& p) {
    p.pack_array(1).pack_array(1).pack_array(4);
    PackStr(p, "q");
    PackStr(p, "id");
    PackBin(p, "payload");
    p.pack_nil();
  });
  const auto r = DecodeAs(Command::kPublish, body);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(std::get<Publish>(*r).items.at(0).headers.empty());
}

TEST(CodecTest, TrailingFieldsInsideBatchItemsAreIgnored) {
  const auto body = Body([](Packer& p) {
    p.pack_array(1).pack_array(1).pack_array(8 + 2);
    p.pack_uint64(9);
    PackStr(p, "id");
    PackStr(p, "q");
    PackBin(p, "x");
    p.pack_uint32(1).pack_uint32(30'000).pack_int64(-7);
    p.pack_map(0);
    PackStr(p, "priority");  // unknown to this build
    p.pack_true();
  });
  const auto r = DecodeAs(Command::kDeliver, body);
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(*r == Message(Deliver{{DeliverItem{9, "id", "q", "x", 1, 30'000, -7, {}}}}));
}

TEST(CodecTest, NonMinimalIntegerEncodingsAreAccepted) {
  // Another msgpack implementation may write 5 as uint64 or int8; the value is what counts.
  const auto as_uint64 = Body([](Packer& p) { p.pack_array(1).pack_fix_uint64(5); });
  const auto as_int8 = Body([](Packer& p) { p.pack_array(1).pack_fix_int8(5); });
  for (const auto& body : {as_uint64, as_int8}) {
    const auto r = DecodeAs(Command::kCredit, body);
    ASSERT_TRUE(r.ok()) << Describe(r);
    EXPECT_EQ(std::get<Credit>(*r).credit, 5u);
  }
}

TEST(CodecTest, SameBodyDecodesIndependentlyOfEarlierCalls) {
  // Decode keeps no state between calls: decoding garbage first does not change the result.
  const auto body = samples::EncodeToString(samples::OnePerCommand()[0]);
  const auto first = DecodeAs(Command::kPublish, body);
  EXPECT_FALSE(DecodeAs(Command::kPublish, "\xdd\xff\xff\xff\xff").ok());
  const auto second = DecodeAs(Command::kPublish, body);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(*first == *second);
}

}  // namespace
}  // namespace mandrill::protocol
