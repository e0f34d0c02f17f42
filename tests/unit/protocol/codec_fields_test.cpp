// Field values: integers at and past the edge of their field, the semantic checks (empty
// PUBLISH, READY without queues), which error wins, and arbitrary bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "shared/protocol/codec.h"
#include "tests/unit/protocol/codec_test_util.h"
#include "tests/unit/protocol/sample_messages.h"

namespace mandrill::protocol {
namespace {

using testutil::Body;
using testutil::DecodeAs;
using testutil::Describe;
using testutil::IsAnyDecodeError;
using testutil::IsError;
using testutil::Packer;
using testutil::PackBin;
using testutil::PackStr;

struct OutOfRange {
  const char* what;
  Command command;
  std::string body;
};

TEST(CodecBodyTest, IntegersOutOfRangeForTheFieldAreRejected) {
  constexpr std::uint64_t k2to32 = 1ull << 32;
  const OutOfRange cases[] = {
      {"credit > uint32", Command::kCredit, Body([&](Packer& p) { p.pack_array(1).pack(k2to32); })},
      {"credit = uint64 max", Command::kCredit, Body([](Packer& p) {
         p.pack_array(1).pack(std::numeric_limits<std::uint64_t>::max());
       })},
      {"extend duration > uint32", Command::kExtend,
       Body([&](Packer& p) { p.pack_array(2).pack(k2to32).pack_array(0); })},
      {"error code > uint16", Command::kError, Body([](Packer& p) {
         PackStr(p.pack_array(7).pack(65'536), "r");
         PackStr(p.pack(1), "q");
         p.pack_array(0).pack_array(0).pack(0);
       })},
      {"answers > uint8", Command::kError, Body([](Packer& p) {
         PackStr(p.pack_array(7).pack(100), "r");
         PackStr(p.pack(256), "q");
         p.pack_array(0).pack_array(0).pack(0);
       })},
      {"deadline > int64 max", Command::kDeliver, Body([](Packer& p) {
         p.pack_array(1).pack_array(1).pack_array(8).pack(1);
         PackStr(p, "id");
         PackStr(p, "q");
         PackBin(p, "x");
         p.pack(1).pack(1).pack(std::uint64_t{1} << 63).pack_map(0);
       })},
      {"uptime > int64 max", Command::kStatsReply, Body([](Packer& p) {
         PackStr(p.pack_array(6).pack(1), "b");
         p.pack(std::numeric_limits<std::uint64_t>::max()).pack_array(0).pack_array(0).pack_array(0);
       })},
      {"dlq limit > uint32", Command::kDlqList, Body([&](Packer& p) {
         PackStr(p.pack_array(3).pack(1), "q");
         p.pack(k2to32);
       })},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(IsError(DecodeAs(c.command, c.body), ErrorCode::kMalformed, "out of range")) << c.what;
  }
}

TEST(CodecBodyTest, IntegersAtTheEdgeOfTheirFieldAreAccepted) {
  const auto credit = DecodeAs(Command::kCredit, Body([](Packer& p) {
                                 p.pack_array(1).pack(std::numeric_limits<std::uint32_t>::max());
                               }));
  ASSERT_TRUE(credit.ok()) << Describe(credit);
  EXPECT_EQ(std::get<Credit>(*credit).credit, std::numeric_limits<std::uint32_t>::max());
  const auto uptime = DecodeAs(Command::kStatsReply, Body([](Packer& p) {
                                 PackStr(p.pack_array(6).pack(1), "b");
                                 p.pack(std::numeric_limits<std::int64_t>::max())
                                     .pack_array(0)
                                     .pack_array(0)
                                     .pack_array(0);
                               }));
  ASSERT_TRUE(uptime.ok()) << Describe(uptime);
  EXPECT_EQ(std::get<StatsReply>(*uptime).uptime_ms, std::numeric_limits<std::int64_t>::max());
}

TEST(CodecBodyTest, PublishWithZeroItemsIsInvalidArgument) {
  EXPECT_TRUE(IsError(DecodeAs(Command::kPublish, samples::EncodeToString(Publish{})),
                      ErrorCode::kInvalidArgument, "no items"));
}

TEST(CodecBodyTest, ReadyWithNoQueuesIsInvalidArgument) {
  EXPECT_TRUE(IsError(DecodeAs(Command::kReady, samples::EncodeToString(Ready{"w", {}, 10})),
                      ErrorCode::kInvalidArgument, "no queues"));
}

TEST(CodecBodyTest, QueueNameAndIdCharactersAreLeftToTheBroker) {
  // Decode checks lengths only; the character rules (CheckQueueName / CheckMessageId) are
  // applied by the broker when it handles PUBLISH (broker/publish.cpp), answering
  // INVALID_ARGUMENT per item. If Decode starts checking them, this test should change too.
  const auto r = DecodeAs(Command::kPublish,
                          samples::EncodeToString(Publish{{PublishItem{"bad name/", "has space", "x", {}}}}));
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_NE(CheckQueueName(std::get<Publish>(*r).items[0].queue), "");
  EXPECT_NE(CheckMessageId(std::get<Publish>(*r).items[0].id), "");
}

TEST(CodecBodyTest, FirstErrorWins) {
  // Two problems: the first field checked is the one reported.
  const auto body = Body([](Packer& p) { p.pack_array(3).pack(1).pack(2).pack_nil(); });
  EXPECT_TRUE(IsError(DecodeAs(Command::kReady, body), ErrorCode::kMalformed, "worker name"));
}

TEST(CodecBodyTest, ArbitraryBytesNeverDecodeAsAMessageWithUnexpectedCode) {
  // A cheap deterministic sweep of every 1- and 2-byte body under every command; the fuzz
  // driver in tests/fuzz/protocol goes much further.
  for (const auto& m : samples::OnePerCommand()) {
    for (int a = 0; a < 256; ++a) {
      const std::string one(1, static_cast<char>(a));
      const auto r1 = DecodeAs(CommandOf(m), one);
      if (!r1.ok()) {
        EXPECT_TRUE(IsAnyDecodeError(r1));
      }
      for (int b = 0; b < 256; b += 37) {
        const std::string two{static_cast<char>(a), static_cast<char>(b)};
        const auto r2 = DecodeAs(CommandOf(m), two);
        if (!r2.ok()) {
          ASSERT_TRUE(IsAnyDecodeError(r2));
        }
      }
    }
  }
}

}  // namespace
}  // namespace mandrill::protocol
