// ParseDuration / FormatDuration: the command-line duration convention (DESIGN.md): a unit
// suffix, a bare number meaning milliseconds, and a clear error naming the bad text.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "shared/core/duration.h"

namespace mandrill::core {
namespace {

using std::chrono::milliseconds;

::testing::AssertionResult Parses(std::string_view text, milliseconds expected) {
  const auto r = ParseDuration(text);
  if (!r.ok()) return ::testing::AssertionFailure() << "'" << text << "' failed: " << r.error().message;
  if (*r != expected) {
    return ::testing::AssertionFailure() << "'" << text << "' gave " << r->count() << "ms, expected "
                                         << expected.count() << "ms";
  }
  return ::testing::AssertionSuccess();
}

// Rejected, with a message that quotes the text and contains `why`.
::testing::AssertionResult Rejects(std::string_view text, std::string_view why) {
  const auto r = ParseDuration(text);
  if (r.ok()) return ::testing::AssertionFailure() << "'" << text << "' parsed as " << r->count() << "ms";
  const auto& msg = r.error().message;
  if (msg.find("'" + std::string(text) + "'") == std::string::npos) {
    return ::testing::AssertionFailure() << "message does not name the text: " << msg;
  }
  if (msg.find(why) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks \"" << why << "\": " << msg;
  }
  return ::testing::AssertionSuccess();
}

TEST(ParseDurationTest, AcceptsEveryUnit) {
  EXPECT_TRUE(Parses("250ms", milliseconds(250)));
  EXPECT_TRUE(Parses("30s", milliseconds(30'000)));
  EXPECT_TRUE(Parses("5m", milliseconds(300'000)));
  EXPECT_TRUE(Parses("1h", milliseconds(3'600'000)));
  EXPECT_TRUE(Parses("1500us", milliseconds(1)));  // whole milliseconds: 1.5 ms -> 1 ms
  EXPECT_TRUE(Parses("2000us", milliseconds(2)));
}

TEST(ParseDurationTest, BareNumberIsMilliseconds) {
  EXPECT_TRUE(Parses("250", milliseconds(250)));
  EXPECT_TRUE(Parses("0", milliseconds(0)));
  EXPECT_TRUE(Parses("007", milliseconds(7)));
}

TEST(ParseDurationTest, ZeroIsAllowedInEveryUnit) {
  for (std::string_view text : {"0ms", "0s", "0m", "0h", "0us"}) EXPECT_TRUE(Parses(text, milliseconds(0)));
}

TEST(ParseDurationTest, SubMillisecondMicrosecondsRoundDownToZero) {
  // Documented here because it surprises: "999us" is 0 ms, so a timeout given in us below 1 ms
  // becomes "no time at all".
  EXPECT_TRUE(Parses("999us", milliseconds(0)));
}

TEST(ParseDurationTest, LargestValuesThatFitAreAccepted) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_TRUE(Parses(std::to_string(kMax), milliseconds(kMax)));
  EXPECT_TRUE(Parses(std::to_string(kMax) + "ms", milliseconds(kMax)));
  EXPECT_TRUE(Parses(std::to_string(kMax / 1000) + "s", milliseconds(kMax / 1000 * 1000)));
  EXPECT_TRUE(Parses(std::to_string(kMax / 60'000) + "m", milliseconds(kMax / 60'000 * 60'000)));
  EXPECT_TRUE(Parses(std::to_string(kMax / 3'600'000) + "h", milliseconds(kMax / 3'600'000 * 3'600'000)));
}

TEST(ParseDurationTest, OverflowIsRejected) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_TRUE(Rejects(std::to_string(std::uint64_t{kMax} + 1), "too large"));
  EXPECT_TRUE(Rejects("18446744073709551615", "too large"));       // uint64 max
  EXPECT_TRUE(Rejects("18446744073709551616", "too large"));       // past uint64
  EXPECT_TRUE(Rejects("99999999999999999999999999ms", "too large"));
  EXPECT_TRUE(Rejects(std::to_string(kMax / 1000 + 1) + "s", "too large"));
  EXPECT_TRUE(Rejects(std::to_string(kMax / 60'000 + 1) + "m", "too large"));
  EXPECT_TRUE(Rejects(std::to_string(kMax / 3'600'000 + 1) + "h", "too large"));
}

TEST(ParseDurationTest, NegativesAreRejected) {
  EXPECT_TRUE(Rejects("-1", "non-negative"));
  EXPECT_TRUE(Rejects("-5s", "non-negative"));
  EXPECT_TRUE(Rejects("-0ms", "non-negative"));
}

TEST(ParseDurationTest, EmptyIsRejected) { EXPECT_TRUE(Rejects("", "empty")); }

TEST(ParseDurationTest, JunkIsRejected) {
  for (std::string_view text : {"abc", "ms", "s", "+5s", " 5s", "5s ", "5 s", "1.5s", "5e3", "0x10",
                                "5ms5", "5,000ms", "\t5", "5\n"}) {
    const auto r = ParseDuration(text);
    EXPECT_FALSE(r.ok()) << "'" << text << "' parsed as " << (r.ok() ? r->count() : 0) << "ms";
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("'" + std::string(text) + "'"), std::string::npos)
          << r.error().message;
    }
  }
}

TEST(ParseDurationTest, UnknownUnitsAreRejected) {
  for (std::string_view text : {"5d", "5ns", "5S", "5MS", "5sec", "5min", "5hr", "5µs", "5mss"}) {
    EXPECT_TRUE(Rejects(text, "unknown unit"));
  }
}

TEST(ParseDurationTest, ErrorTellsHowToWriteADuration) {
  const auto r = ParseDuration("soon");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("250ms"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

TEST(ParseDurationTest, EmbeddedNulIsRejected) {
  const auto r = ParseDuration(std::string_view("5\0s", 3));
  ASSERT_FALSE(r.ok());
}

TEST(FormatDurationTest, PicksTheLargestExactUnit) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0ms");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(30'000)), "30s");
  EXPECT_EQ(FormatDuration(milliseconds(120'000)), "2m");
  EXPECT_EQ(FormatDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(FormatDuration(milliseconds(7'200'000)), "2h");
}

TEST(FormatDurationTest, OutputParsesBackToTheSameDuration) {
  const std::int64_t values[] = {0, 1, 999, 1000, 1500, 59'000, 60'000, 61'000, 3'600'000,
                                 86'400'000, 123'456'789, std::numeric_limits<std::int64_t>::max()};
  for (std::int64_t ms : values) {
    const auto text = FormatDuration(milliseconds(ms));
    EXPECT_TRUE(Parses(text, milliseconds(ms))) << text;
  }
}

}  // namespace
}  // namespace mandrill::core
