// The version and command frames: magic, version, lengths and the command table.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "shared/protocol/codec.h"
#include "tests/unit/protocol/codec_test_util.h"
#include "tests/unit/protocol/sample_messages.h"

namespace mandrill::protocol {
namespace {

using testutil::CommandFrame;
using testutil::Describe;
using testutil::IsError;

const std::string kHeartbeatBody = "\x90";

core::Result<Message> DecodeFrames(std::string_view version, std::string_view command,
                                   std::string_view body = kHeartbeatBody) {
  return Decode(version, command, body, Limits{});
}

TEST(CodecFramesTest, VersionFrameIsMagicAndVersionOne) {
  EXPECT_EQ(VersionFrame(), std::string_view("MDL\x01", 4));
  EXPECT_EQ(kProtocolVersion, 1);
}

TEST(CodecFramesTest, WrongMagicIsMalformed) {
  for (std::string_view version : {std::string_view("XYZ\x01", 4), std::string_view("mdl\x01", 4),
                                   std::string_view("MDM\x01", 4), std::string_view("\0DL\x01", 4)}) {
    EXPECT_TRUE(IsError(DecodeFrames(version, CommandFrame(Command::kHeartbeat)),
                        ErrorCode::kMalformed, "version frame"))
        << "version frame " << ::testing::PrintToString(std::string(version));
  }
}

TEST(CodecFramesTest, OtherVersionIsUnsupportedAndReasonNamesBothVersions) {
  const auto r = DecodeFrames(std::string_view("MDL\x02", 4), CommandFrame(Command::kHeartbeat));
  EXPECT_TRUE(IsError(r, ErrorCode::kUnsupportedVersion, "version 2"));
  EXPECT_TRUE(IsError(r, ErrorCode::kUnsupportedVersion, "version 1"));
  EXPECT_TRUE(IsError(DecodeFrames(std::string_view("MDL\x00", 4), CommandFrame(Command::kHeartbeat)),
                      ErrorCode::kUnsupportedVersion, "version 0"));
  EXPECT_TRUE(IsError(DecodeFrames(std::string_view("MDL\xff", 4), CommandFrame(Command::kHeartbeat)),
                      ErrorCode::kUnsupportedVersion, "version 255"));
}

TEST(CodecFramesTest, VersionIsCheckedBeforeCommandAndBody) {
  // A peer speaking another version may use command bytes and bodies we do not know: the
  // version error is the useful one.
  EXPECT_TRUE(IsError(DecodeFrames(std::string_view("MDL\x02", 4), "\xee\xee", "garbage"),
                      ErrorCode::kUnsupportedVersion));
}

TEST(CodecFramesTest, VersionFrameOfWrongLengthIsMalformed) {
  for (std::string_view version : {std::string_view(""), std::string_view("M"),
                                   std::string_view("MDL"), std::string_view("MDL\x01\x01", 5),
                                   std::string_view("MDL\x01MDL\x01", 8)}) {
    EXPECT_TRUE(IsError(DecodeFrames(version, CommandFrame(Command::kHeartbeat)),
                        ErrorCode::kMalformed, "version frame"))
        << "version frame of " << version.size() << " bytes";
  }
}

TEST(CodecFramesTest, CommandFrameOfZeroOrTwoBytesIsMalformed) {
  EXPECT_TRUE(IsError(DecodeFrames(VersionFrame(), ""), ErrorCode::kMalformed, "1 byte"));
  EXPECT_TRUE(IsError(DecodeFrames(VersionFrame(), "\x20\x20"), ErrorCode::kMalformed, "1 byte"));
  EXPECT_TRUE(IsError(DecodeFrames(VersionFrame(), std::string_view("\x20\x00", 2)), ErrorCode::kMalformed, "1 byte"));
}

TEST(CodecFramesTest, UnknownCommandBytesAreReportedWithTheByte) {
  const std::set<int> known = [] {
    std::set<int> s;
    for (const auto& m : samples::OnePerCommand()) s.insert(static_cast<int>(CommandOf(m)));
    return s;
  }();
  int unknown = 0;
  for (int byte = 0; byte < 256; ++byte) {
    if (known.count(byte) != 0) continue;
    ++unknown;
    const std::string command(1, static_cast<char>(byte));
    EXPECT_TRUE(IsError(DecodeFrames(VersionFrame(), command), ErrorCode::kUnknownCommand,
                        std::to_string(byte)))
        << "command byte " << byte;
  }
  EXPECT_EQ(unknown, 256 - static_cast<int>(std::variant_size_v<Message>));
}

TEST(CodecFramesTest, KnownCommandWithEmptyBodyIsMalformedNotUnknown) {
  for (const auto& m : samples::OnePerCommand()) {
    const auto r = DecodeFrames(VersionFrame(), CommandFrame(CommandOf(m)), "");
    EXPECT_TRUE(IsError(r, ErrorCode::kMalformed)) << CommandName(CommandOf(m));
  }
}

TEST(CodecFramesTest, BodyIsDecodedAsTheCommandTheFrameNames) {
  // The same bytes mean different things under different commands; CREDIT [5] is not ACK.
  const std::string body = "\x91\x05";  // [5]
  const auto credit = DecodeFrames(VersionFrame(), CommandFrame(Command::kCredit), body);
  ASSERT_TRUE(credit.ok()) << Describe(credit);
  EXPECT_TRUE(*credit == Message(Credit{5}));
  EXPECT_TRUE(IsError(DecodeFrames(VersionFrame(), CommandFrame(Command::kAck), body),
                      ErrorCode::kMalformed, "expected an array"));
}

}  // namespace
}  // namespace mandrill::protocol
