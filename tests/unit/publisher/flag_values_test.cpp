#include "publisher/flag_values.h"

#include <gtest/gtest.h>

namespace mandrill::publisher {
namespace {

using namespace std::chrono_literals;

TEST(FlagValuesTest, UnsignedAcceptsDigitsInRange) {
  EXPECT_EQ(*ParseUnsignedFlag("--count", "0", 0, 10), 0u);
  EXPECT_EQ(*ParseUnsignedFlag("--count", "10", 0, 10), 10u);
}

TEST(FlagValuesTest, UnsignedRejectsSignsJunkOverflowAndRange) {
  for (const char* bad : {"-1", "+1", "abc", "1e3", "12x", "", " 1", "99999999999999999999999"}) {
    auto r = ParseUnsignedFlag("--count", bad, 0, 1'000'000);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("--count '"), std::string::npos);
  }
  EXPECT_FALSE(ParseUnsignedFlag("--window", "0", 1, 10).ok());
  EXPECT_FALSE(ParseUnsignedFlag("--window", "11", 1, 10).ok());
}

TEST(FlagValuesTest, NonNegativeNumber) {
  EXPECT_DOUBLE_EQ(*ParseNonNegativeFlag("--rate", "0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseNonNegativeFlag("--rate", "250"), 250);
  for (const char* bad : {"-3", "abc", "", "inf", "nan", "1.5x", "-0"}) {
    EXPECT_FALSE(ParseNonNegativeFlag("--rate", bad).ok()) << bad;
  }
}

TEST(FlagValuesTest, DurationsFollowTheProjectConvention) {
  EXPECT_EQ(*ParseDurationFlag("--give-up", "250ms"), 250ms);
  EXPECT_EQ(*ParseDurationFlag("--give-up", "5s"), 5000ms);
  EXPECT_EQ(*ParseDurationFlag("--give-up", "1500"), 1500ms);
  EXPECT_FALSE(ParseDurationFlag("--give-up", "0").ok());
  EXPECT_EQ(*ParseDurationFlag("--grace", "0", true), 0ms);
  auto bad = ParseDurationFlag("--give-up", "soon");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("--give-up: ", 0), 0u) << bad.error().message;
}

TEST(FlagValuesTest, Headers) {
  auto kv = ParseHeaderFlag("origin=drill=1");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->first, "origin");
  EXPECT_EQ(kv->second, "drill=1");
  EXPECT_TRUE(ParseHeaderFlag("empty=").ok());
  EXPECT_FALSE(ParseHeaderFlag("novalue").ok());
  EXPECT_FALSE(ParseHeaderFlag("=x").ok());
}

}  // namespace
}  // namespace mandrill::publisher
