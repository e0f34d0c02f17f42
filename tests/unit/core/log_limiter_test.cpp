// LogLimiter: a line that repeats per message is logged a few times per period, then counted
// and summarised (issue 10: a full disk logged 14,567 lines in 90 s).
#include "shared/core/log_limiter.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

namespace mandrill::core {
namespace {

using namespace std::chrono_literals;

class LogLimiterTest : public ::testing::Test {
 protected:
  LogLimiterTest() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("test", sink_);
    logger->set_level(spdlog::level::info);
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
  }
  ~LogLimiterTest() override { spdlog::set_default_logger(previous_); }
  std::vector<std::string> Lines() {
    auto lines = sink_->last_formatted();
    for (auto& l : lines) {
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    }
    return lines;
  }

  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
  VirtualClock clock_;
};

TEST_F(LogLimiterTest, ABurstIsLoggedThenCountedAndSummarisedWhenThePeriodEnds) {
  LogLimiter limiter("storage failures", &clock_, 5, 10s);
  for (int i = 0; i < 14'567; ++i) {
    limiter.Log(spdlog::level::err, "message {} could not be stored", i);
  }
  EXPECT_EQ(Lines().size(), 5u) << "only the burst";
  EXPECT_EQ(limiter.suppressed_total(), 14'562);
  clock_.Advance(9s);
  limiter.Tick(clock_.Now());
  EXPECT_EQ(Lines().size(), 5u) << "the period has not ended";
  clock_.Advance(1s);
  limiter.Tick(clock_.Now());
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines.back(), "storage failures: ... and 14562 more like it in the last 10 s");
}

TEST_F(LogLimiterTest, ANewPeriodLogsAgainAndAQuietOneSaysNothing) {
  LogLimiter limiter("bad frames", &clock_, 2, 10s);
  for (int i = 0; i < 3; ++i) limiter.Log(spdlog::level::warn, "bad frame {}", i);
  clock_.Advance(10s);
  EXPECT_TRUE(limiter.Log(spdlog::level::warn, "bad frame {}", 3));
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2], "bad frames: ... and 1 more like it in the last 10 s");
  EXPECT_EQ(lines[3], "bad frame 3");
  clock_.Advance(30s);
  limiter.Tick(clock_.Now());
  EXPECT_EQ(Lines().size(), 4u) << "nothing suppressed: no summary";
}

}  // namespace
}  // namespace mandrill::core
