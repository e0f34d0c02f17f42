#include "broker/journal/options.h"

#include <gtest/gtest.h>

namespace mandrill::broker::journal {
namespace {

TEST(FsyncPolicyTest, ParsesTheThreeForms) {
  auto always = ParseFsyncPolicy("always");
  ASSERT_TRUE(always.ok());
  EXPECT_EQ(FsyncPolicy::Mode::kAlways, always->mode);
  auto never = ParseFsyncPolicy("never");
  ASSERT_TRUE(never.ok());
  EXPECT_EQ(FsyncPolicy::Mode::kNever, never->mode);
  auto five = ParseFsyncPolicy("interval:5");
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(FsyncPolicy::Mode::kInterval, five->mode);
  EXPECT_EQ(std::chrono::milliseconds(5), five->interval);
  EXPECT_EQ("interval:5", five->ToString());
  auto second = ParseFsyncPolicy("interval:1s");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(std::chrono::milliseconds(1000), second->interval);
}

TEST(FsyncPolicyTest, RejectsJunkWithAMessageNamingTheInputAndTheForms) {
  for (const char* bad : {"", "Always", "sometimes", "interval", "interval:", "interval:0",
                          "interval:-5", "interval:5x", "interval:abc"}) {
    auto p = ParseFsyncPolicy(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(std::string::npos, p.error().message.find(std::string("'") + bad + "'"))
        << p.error().message;
    EXPECT_NE(std::string::npos, p.error().message.find("interval:MS")) << p.error().message;
  }
}

TEST(JournalOptionsTest, DefaultsAreValidOnceADirIsGiven) {
  JournalOptions o;
  EXPECT_FALSE(ValidateOptions(o).ok());
  o.data_dir = "/tmp/x";
  EXPECT_TRUE(ValidateOptions(o).ok());
  EXPECT_EQ(FsyncPolicy::Mode::kAlways, o.fsync.mode);
  EXPECT_EQ(64ull << 20, o.segment_bytes);
  EXPECT_EQ(std::chrono::minutes(10), o.dedup_window);
  o.segment_bytes = 100;
  EXPECT_FALSE(ValidateOptions(o).ok());
  o.segment_bytes = 1 << 20;
  o.compaction_threshold = 1.5;
  EXPECT_FALSE(ValidateOptions(o).ok());
}

}  // namespace
}  // namespace mandrill::broker::journal
