#include "shared/runtime/loop.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "shared/runtime/sleep.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::MsSince;
using testing::VirtualOptions;

Task<long long> SleepAndMeasure(Duration d) {
  TimePoint start = Loop::Current()->Now();
  co_await Sleep(d);
  co_return MsSince(start);
}

TEST(LoopTest, VirtualClockJumpsToNextTimer) {
  VirtualClock clock;
  Loop loop(VirtualOptions(&clock));
  auto real_start = std::chrono::steady_clock::now();
  EXPECT_EQ(loop.Run(SleepAndMeasure(3600s)), 3'600'000);
  EXPECT_LT(std::chrono::steady_clock::now() - real_start, 10s);
}

TEST(LoopTest, RealClockSleepsAtLeastTheDelay) {
  Loop loop;
  EXPECT_GE(loop.Run(SleepAndMeasure(5ms)), 5);
}

Task<std::vector<int>> TimersFireInDeadlineOrder() {
  std::vector<int> order;
  Loop* loop = Loop::Current();
  loop->CallLater(30ms, [&order] { order.push_back(3); });
  loop->CallLater(10ms, [&order] { order.push_back(1); });
  loop->CallLater(20ms, [&order] { order.push_back(2); });
  loop->CallLater(20ms, [&order] { order.push_back(22); });  // same deadline: FIFO
  co_await Sleep(1s);
  co_return order;
}
TEST(LoopTest, TimersFireInDeadlineOrderThenFifo) {
  EXPECT_EQ(testing::RunVirtual(TimersFireInDeadlineOrder()), (std::vector<int>{1, 2, 22, 3}));
}

// CallLater stores each callable in a node sized to it: small, large and move-only captures all
// run once, a throwing one is logged and counted without stopping the loop, and the ones that
// never fire are destroyed with the loop (their captures released: no leak under ASan).
Task<std::vector<int>> CallbacksOfEveryShape(std::shared_ptr<int> tracked) {
  std::vector<int> order;
  Loop* loop = Loop::Current();
  std::array<char, 200> big{};
  big[199] = 7;
  loop->CallLater(1ms, [&order, big] { order.push_back(big[199]); });
  loop->CallLater(2ms, [&order, p = std::make_unique<int>(8)] { order.push_back(*p); });
  loop->CallLater(3ms, [] { throw std::runtime_error("callback failure"); });
  UniqueFunction<void()> erased = [&order] { order.push_back(9); };
  loop->CallLater(4ms, std::move(erased));
  loop->CallLater(1h, [tracked] { ADD_FAILURE() << "fired after the loop finished"; });
  co_await Sleep(10ms);
  co_return order;
}
TEST(LoopTest, CallLaterTakesAnyCallableAndFreesUnfiredOnes) {
  auto tracked = std::make_shared<int>(0);
  {
    VirtualClock clock;
    Loop loop(VirtualOptions(&clock));
    EXPECT_EQ(loop.Run(CallbacksOfEveryShape(tracked)), (std::vector<int>{7, 8, 9}));
    EXPECT_EQ(loop.Stats().tasks_failed, 1u);  // the throwing callback, counted
    EXPECT_EQ(tracked.use_count(), 2);         // the 1 h callback is still pending
  }
  EXPECT_EQ(tracked.use_count(), 1);  // destroyed with the loop, never run
}

Task<int> CancelledTimerDoesNotFire() {
  int fired = 0;
  {
    Timer t(*Loop::Current());
    t.Start(10ms, [&fired] { ++fired; });
    Timer u(*Loop::Current());
    u.Start(10ms, [&fired] { fired += 10; });
    u.Cancel();
    co_await Sleep(1s);
  }
  co_return fired;
}
TEST(LoopTest, TimerCancel) { EXPECT_EQ(testing::RunVirtual(CancelledTimerDoesNotFire()), 1); }

Task<void> RunNested(Loop* inner) {
  inner->Run([]() -> Task<void> { co_return; }());
  co_return;
}
TEST(LoopTest, RefusesToRunNested) {
  VirtualClock c1, c2;
  Loop outer(VirtualOptions(&c1, "outer"));
  Loop inner(VirtualOptions(&c2, "inner"));
  EXPECT_THROW(outer.Run(RunNested(&inner)), std::logic_error);
}

Task<void> Nothing() { co_return; }
TEST(LoopTest, RunsOnlyOnce) {
  VirtualClock c;
  Loop loop(VirtualOptions(&c));
  loop.Run(Nothing());
  EXPECT_THROW(loop.Run(Nothing()), std::logic_error);
}

Task<void> TryRunFromOtherThread(Loop* loop, bool* refused) {
  std::thread t([loop, refused] {
    try {
      loop->Run(Nothing());
    } catch (const std::logic_error&) {
      *refused = true;
    }
  });
  t.join();
  co_return;
}
TEST(LoopTest, RefusesToRunFromASecondThread) {
  VirtualClock c;
  Loop loop(VirtualOptions(&c));
  bool refused = false;
  loop.Run(TryRunFromOtherThread(&loop, &refused));
  EXPECT_TRUE(refused);
}

TEST(LoopTest, PostAfterFinishFailsLoudly) {
  VirtualClock c;
  Loop loop(VirtualOptions(&c));
  loop.Run(Nothing());
  EXPECT_THROW(loop.Post([] {}), LoopClosed);
}

}  // namespace
}  // namespace mandrill::runtime
