#include "publisher/pacer.h"

#include <gtest/gtest.h>

namespace mandrill::publisher {
namespace {

using namespace std::chrono_literals;

TEST(PacerTest, ZeroRateIsUnlimited) {
  core::VirtualClock clock;
  Pacer p(0, clock.Now());
  EXPECT_TRUE(p.unlimited());
  EXPECT_GT(p.Allowance(clock.Now()), 1'000'000'000u);
  EXPECT_FALSE(p.NextAllowed().has_value());
}

TEST(PacerTest, AllowsOneAtStartThenRateOverTime) {
  core::VirtualClock clock;
  Pacer p(100, clock.Now());  // one per 10 ms, burst 5
  EXPECT_EQ(p.Allowance(clock.Now()), 1u);
  p.Consume(1);
  EXPECT_EQ(p.Allowance(clock.Now()), 0u);
  ASSERT_TRUE(p.NextAllowed().has_value());
  EXPECT_LE(*p.NextAllowed() - clock.Now(), 10ms + 1ms);
  clock.Advance(10ms);
  EXPECT_EQ(p.Allowance(clock.Now()), 1u);
  p.Consume(1);
  clock.Advance(30ms);
  EXPECT_EQ(p.Allowance(clock.Now()), 3u);
}

TEST(PacerTest, IdleTimeBuildsOnlyAShortBurst) {
  core::VirtualClock clock;
  Pacer p(1000, clock.Now());  // burst: 50 messages
  clock.Advance(10s);
  EXPECT_EQ(p.Allowance(clock.Now()), 50u);
}

TEST(PacerTest, AverageRateHoldsOverManySteps) {
  core::VirtualClock clock;
  Pacer p(250, clock.Now());
  std::uint64_t sent = 0;
  for (int i = 0; i < 1000; ++i) {  // 1000 steps of 4 ms = 4 s
    const auto n = p.Allowance(clock.Now());
    p.Consume(n);
    sent += n;
    clock.Advance(4ms);
  }
  EXPECT_NEAR(static_cast<double>(sent), 1000.0, 3.0);
}

TEST(PacerTest, SlowRateBelowOnePerSecond) {
  core::VirtualClock clock;
  Pacer p(0.5, clock.Now());
  p.Consume(p.Allowance(clock.Now()));
  clock.Advance(1s);
  EXPECT_EQ(p.Allowance(clock.Now()), 0u);
  clock.Advance(1s);
  EXPECT_EQ(p.Allowance(clock.Now()), 1u);
}

}  // namespace
}  // namespace mandrill::publisher
