#include "publisher/publish_summary.h"

#include <gtest/gtest.h>

namespace mandrill::publisher {
namespace {

PublishReport Done(std::uint64_t confirmed) {
  PublishReport r;
  r.counters.admitted = confirmed;
  r.counters.published = confirmed;
  r.counters.confirmed = confirmed;
  r.input_complete = true;
  r.elapsed = std::chrono::milliseconds(2000);
  return r;
}

TEST(PublishSummaryTest, AllConfirmedExitsZero) {
  const auto r = Done(1000);
  EXPECT_EQ(ExitCodeFor(r), 0);
  EXPECT_EQ(FormatSummaryLine(r),
            "published=1000 confirmed=1000 refused=0 retried=0 unconfirmed=0 elapsed=2.000s "
            "rate=500/s (all confirmed)");
}

TEST(PublishSummaryTest, RefusedExitsOne) {
  auto r = Done(9);
  r.counters.refused = 1;
  EXPECT_EQ(ExitCodeFor(r), 1);
  EXPECT_NE(FormatSummaryLine(r).find("1 refused permanently"), std::string::npos);
  r = Done(9);
  r.input_skipped = 1;  // an input line too long to publish counts as refused
  EXPECT_EQ(ExitCodeFor(r), 1);
}

TEST(PublishSummaryTest, UnconfirmedWinsOverRefused) {
  auto r = Done(5);
  r.counters.refused = 1;
  r.unconfirmed = 2;
  r.ending = Ending::kGaveUp;
  r.detail = "no confirm for 60s";
  EXPECT_EQ(ExitCodeFor(r), 2);
  EXPECT_NE(FormatSummaryLine(r).find("gave up: no confirm for 60s; 2 never confirmed"),
            std::string::npos)
      << FormatSummaryLine(r);
}

TEST(PublishSummaryTest, InterruptedWithEverythingSettledExitsZero) {
  auto r = Done(5);
  r.ending = Ending::kInterrupted;
  r.input_complete = false;
  EXPECT_EQ(ExitCodeFor(r), 0);
  EXPECT_NE(FormatSummaryLine(r).find("interrupted; input not fully published"), std::string::npos);
}

TEST(PublishSummaryTest, FailedRunExitsTwo) {
  auto r = Done(5);
  r.ending = Ending::kFailed;
  EXPECT_EQ(ExitCodeFor(r), 2);
}

TEST(PublishSummaryTest, JsonSummary) {
  auto r = Done(4);
  r.id_prefix = "ab12";
  r.seed = 7;
  const auto j = FormatSummaryJson(r);
  EXPECT_EQ(j, R"({"published":4,"confirmed":4,"refused":0,"retried":0,"unconfirmed":0,)"
               R"("duplicate_confirms":0,"moved_to_other_cells":0,"longest_stall_ms":0,)"
               R"("elapsed_ms":2000,"rate":2,"ending":"completed",)"
               R"("outcome":"all confirmed","input_complete":true,"exit_code":0,)"
               R"("id_prefix":"ab12","seed":7})");
}

}  // namespace
}  // namespace mandrill::publisher
