// Queue-name and message-id rules, command and error-code names.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "shared/protocol/codec.h"
#include "shared/protocol/transport.h"
#include "tests/unit/protocol/sample_messages.h"

namespace mandrill::protocol {
namespace {

TEST(CheckQueueNameTest, AcceptsLettersDigitsAndDotUnderscoreDashColon) {
  for (std::string_view name : {"restarts", "a", "Z", "0", "restarts.dlq", "team_a:restarts-v2",
                                "...", "-", ":", "ABCxyz0123456789._:-"}) {
    EXPECT_EQ(CheckQueueName(name), "") << name;
  }
  EXPECT_EQ(CheckQueueName(std::string(kMaxQueueNameBytes, 'q')), "");
}

TEST(CheckQueueNameTest, RejectsEmptyTooLongAndOtherCharacters) {
  EXPECT_NE(CheckQueueName(""), "");
  EXPECT_NE(CheckQueueName(std::string(kMaxQueueNameBytes + 1, 'q')), "");
  for (std::string_view name :
       {"has space", "slash/", "back\\slash", "star*", "q?", "tab\t", "new\nline", "caf\xc3\xa9",
        "quote'", "comma,", "plus+", "at@", "hash#", "percent%"}) {
    const auto reason = CheckQueueName(name);
    EXPECT_NE(reason, "") << ::testing::PrintToString(std::string(name));
  }
  EXPECT_NE(CheckQueueName(std::string_view("nul\0byte", 8)), "");
  EXPECT_NE(CheckQueueName(std::string(1, '\x80')), "");
}

TEST(CheckQueueNameTest, ReasonSaysWhatIsWrong) {
  EXPECT_NE(CheckQueueName("").find("empty"), std::string::npos);
  EXPECT_NE(CheckQueueName(std::string(129, 'q')).find("128"), std::string::npos);
  const auto reason = CheckQueueName("bad name");
  EXPECT_NE(reason.find("'bad name'"), std::string::npos) << reason;
}

TEST(CheckQueueNameTest, EveryByteOutsideTheSetIsRejected) {
  int accepted = 0;
  for (int b = 0; b < 256; ++b) {
    if (CheckQueueName(std::string(1, static_cast<char>(b))).empty()) ++accepted;
  }
  EXPECT_EQ(accepted, 26 + 26 + 10 + 4);
}

TEST(CheckMessageIdTest, AcceptsPrintableAsciiWithoutSpaces) {
  for (std::string_view id : {"cattle-x7q2", "1", "~", "!", "a/b?c=d&e#f", "{\"json\":1}",
                              "550e8400-e29b-41d4-a716-446655440000"}) {
    EXPECT_EQ(CheckMessageId(id), "") << id;
  }
  EXPECT_EQ(CheckMessageId(std::string(kMaxMessageIdBytes, 'i')), "");
  EXPECT_EQ(CheckMessageId(samples::MessageId(kMaxMessageIdBytes)), "");
}

TEST(CheckMessageIdTest, RejectsEmptyTooLongSpacesControlAndNonAscii) {
  EXPECT_NE(CheckMessageId("").find("empty"), std::string::npos);
  EXPECT_NE(CheckMessageId(std::string(kMaxMessageIdBytes + 1, 'i')).find("256"), std::string::npos);
  for (std::string_view id : {"has space", " leading", "trailing ", "tab\t", "new\nline", "del\x7f",
                              "caf\xc3\xa9", "\xff"}) {
    EXPECT_NE(CheckMessageId(id), "") << ::testing::PrintToString(std::string(id));
  }
  EXPECT_NE(CheckMessageId(std::string_view("nul\0byte", 8)), "");
}

TEST(CheckMessageIdTest, ExactlyTheBytesFromBangToTildeAreAccepted) {
  for (int b = 0; b < 256; ++b) {
    const bool expected = b >= '!' && b <= '~';
    EXPECT_EQ(CheckMessageId(std::string(1, static_cast<char>(b))).empty(), expected) << "byte " << b;
  }
}

TEST(CommandNamesTest, EveryCommandHasAUniqueNameAndIsKnown) {
  std::set<std::string_view> names;
  int known = 0;
  for (int b = 0; b < 256; ++b) {
    const auto byte = static_cast<std::uint8_t>(b);
    const auto name = CommandName(static_cast<Command>(byte));
    EXPECT_EQ(IsKnownCommand(byte), name != "UNKNOWN") << b;
    if (IsKnownCommand(byte)) {
      ++known;
      names.insert(name);
    }
  }
  EXPECT_EQ(known, static_cast<int>(std::variant_size_v<Message>));
  EXPECT_EQ(names.size(), std::variant_size_v<Message>);
  EXPECT_EQ(CommandName(Command::kPublish), "PUBLISH");
  EXPECT_EQ(CommandName(Command::kDlqListReply), "DLQ_LIST_REPLY");
}

TEST(CommandNamesTest, CommandOfNamesEachAlternative) {
  for (const auto& m : samples::OnePerCommand()) {
    EXPECT_TRUE(IsKnownCommand(static_cast<std::uint8_t>(CommandOf(m))));
  }
  EXPECT_EQ(CommandOf(Publish{}), Command::kPublish);
  EXPECT_EQ(CommandOf(Heartbeat{}), Command::kHeartbeat);
  EXPECT_EQ(CommandOf(AdminOk{}), Command::kAdminOk);
}

TEST(ErrorCodeNamesTest, EveryCodeHasAName) {
  for (auto code : {ErrorCode::kNone, ErrorCode::kMalformed, ErrorCode::kUnsupportedVersion,
                    ErrorCode::kUnknownCommand, ErrorCode::kTooLarge, ErrorCode::kInvalidArgument,
                    ErrorCode::kUnexpectedCommand, ErrorCode::kQueueFull, ErrorCode::kUnknownQueue,
                    ErrorCode::kLeaseLost, ErrorCode::kNotReady, ErrorCode::kStorageFailed,
                    ErrorCode::kShuttingDown, ErrorCode::kInternal}) {
    EXPECT_NE(ErrorCodeName(code), "unknown error") << static_cast<int>(code);
  }
  EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(7)), "unknown error");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kQueueFull), "queue full");
}

TEST(PrintableIdTest, PrintableIdsAreShownAsIs) {
  EXPECT_EQ(PrintableId("worker-1"), "worker-1");
  EXPECT_EQ(PrintableId("~!"), "~!");
}

TEST(PrintableIdTest, BinaryIdsAreRenderedAsHex) {
  // ZeroMQ's generated routing ids: a zero byte then a 32-bit counter.
  EXPECT_EQ(PrintableId(std::string_view("\x00\x6b\x8b\x45\x67", 5)), "0x006b8b4567");
  EXPECT_EQ(PrintableId("\xff\xfe"), "0xfffe");
  EXPECT_EQ(PrintableId("a b"), "0x612062");   // a space makes it non-printable
  EXPECT_EQ(PrintableId("tab\t"), "0x74616209");
  EXPECT_EQ(PrintableId("\x7f"), "0x7f");
  EXPECT_EQ(PrintableId(""), "0x");
}

}  // namespace
}  // namespace mandrill::protocol
