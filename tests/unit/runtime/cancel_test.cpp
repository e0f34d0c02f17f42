#include "shared/runtime/cancel_scope.h"

#include <gtest/gtest.h>

#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::MsSince;
using testing::RunVirtual;

Task<void> SleepLong() { co_await Sleep(1h); }

Task<long long> ScopeDeadlineCancelsSleep() {
  TimePoint start = Loop::Current()->Now();
  CancelScope scope(Loop::Current()->Now() + 50ms);
  bool finished = co_await scope.Run(SleepLong());
  EXPECT_FALSE(finished);
  EXPECT_TRUE(scope.DeadlineFired());
  EXPECT_TRUE(scope.CancelledCaught());
  co_return MsSince(start);
}
TEST(CancelScopeTest, DeadlineCancelsTheAwaitInside) {
  EXPECT_EQ(RunVirtual(ScopeDeadlineCancelsSleep()), 50);
}

}  // namespace
}  // namespace mandrill::runtime
