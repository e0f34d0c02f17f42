#include "shared/runtime/cancel_scope.h"

#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "shared/runtime/channel.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/supervisor.h"
#include "shared/runtime/timeout.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::MsSince;
using testing::RunVirtual;

static_assert(!std::is_base_of_v<std::exception, Cancelled>,
              "catch (const std::exception&) must never swallow a cancellation");

Task<void> SleepLong() { co_await Sleep(1h); }
Task<void> SleepTask(Duration d) { co_await Sleep(d); }

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

// A handler that catches std::exception around its work does not eat the cancellation.
Task<std::string> CatchesStdException() {
  try {
    co_await Sleep(1h);
  } catch (const std::exception&) {
    co_return "swallowed";
  }
  co_return "finished";
}
Task<bool> StdExceptionCatchDoesNotSwallow() {
  CancelScope scope(Loop::Current()->Now() + 1s);
  auto r = co_await scope.Run(CatchesStdException());
  co_return !r.has_value();
}
TEST(CancelScopeTest, CatchOfStdExceptionDoesNotSwallowCancellation) {
  EXPECT_TRUE(RunVirtual(StdExceptionCatchDoesNotSwallow()));
}

// Level-triggered: a stray catch (...) swallows one Cancelled; the next await raises again.
Task<int> SwallowsThenAwaits(int* swallowed) {
  try {
    co_await Sleep(1h);
  } catch (const Cancelled&) {
    ++*swallowed;  // a bug in user code: swallowing
  }
  try {
    co_await Sleep(1h);  // raises again at once
  } catch (const Cancelled&) {
    ++*swallowed;
  }
  co_await Yield();  // and again: this one escapes
  co_return 1;
}
Task<int> StrayCatchCannotSwallowForGood() {
  int swallowed = 0;
  TimePoint start = Loop::Current()->Now();
  CancelScope scope(start + 10ms);
  auto r = co_await scope.Run(SwallowsThenAwaits(&swallowed));
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(MsSince(start), 10);
  co_return swallowed;
}
TEST(CancelScopeTest, StrayCatchCannotSwallowForGood) {
  EXPECT_EQ(RunVirtual(StrayCatchCannotSwallowForGood()), 2);
}

Task<void> Level(int depth, std::vector<int>* saw) {
  try {
    if (depth == 0) {
      co_await Sleep(1h);
    } else {
      co_await Level(depth - 1, saw);
    }
  } catch (const Cancelled&) {
    saw->push_back(depth);
    throw;
  }
}
struct FrameFlag {
  bool* alive;
  explicit FrameFlag(bool* a) : alive(a) { *alive = true; }
  ~FrameFlag() { *alive = false; }
};
Task<void> Chain(std::vector<int>* saw, bool* alive) {
  FrameFlag flag(alive);
  co_await Level(3, saw);
}
Task<void> CancelParentCancelsWholeChain() {
  std::vector<int> saw;
  bool alive = false;
  Supervisor sup("chain");
  TaskHandle t = sup.Spawn("chain", Chain(&saw, &alive));
  co_await Sleep(10ms);
  EXPECT_TRUE(alive);
  EXPECT_EQ(t.state(), TaskState::kSuspended);
  TaskState final_state = co_await t.Cancel();
  // co_await Cancel() returns only once the frame is gone.
  EXPECT_FALSE(alive);
  EXPECT_EQ(final_state, TaskState::kCancelled);
  EXPECT_EQ(saw, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(sup.stats().failures, 0u);
  co_await sup.Join();
}
TEST(CancelTest, CancellingParentCancelsTheWholeAwaitChain) {
  RunVirtual(CancelParentCancelsWholeChain());
}

Task<void> Cleanup(std::vector<std::string>* log) {
  co_await Sleep(20ms);
  log->push_back("cleanup done");
}
Task<void> WorkWithCleanup(std::vector<std::string>* log) {
  bool cancelled = false;
  try {
    co_await Sleep(1h);
  } catch (const Cancelled&) {
    cancelled = true;  // cannot co_await in a handler; clean up below, then rethrow
  }
  if (cancelled) {
    co_await Shielded(1s, Cleanup(log));
    log->push_back("after cleanup");
    co_await Yield();  // the pending cancellation is raised here
    log->push_back("not reached");
  }
}
Task<void> ShieldLetsCleanupAwait() {
  std::vector<std::string> log;
  TimePoint start = Loop::Current()->Now();
  CancelScope scope(start + 5ms);
  co_await scope.Run(WorkWithCleanup(&log));
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup done", "after cleanup"}));
  EXPECT_EQ(MsSince(start), 25);
}
TEST(CancelTest, ShieldLetsCleanupAwaitThenCancellationResumes) {
  RunVirtual(ShieldLetsCleanupAwait());
}

Task<void> ShieldHasItsOwnDeadline() {
  TimePoint start = Loop::Current()->Now();
  CancelScope scope(start + 5ms);
  scope.Cancel();
  bool timed_out = false;
  try {
    co_await Shielded(100ms, SleepLong());
  } catch (const TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(MsSince(start), 100);
}
TEST(CancelTest, ShieldHasItsOwnDeadline) { RunVirtual(ShieldHasItsOwnDeadline()); }

Task<void> Receiver(Channel<int>* ch, bool* cancelled) {
  try {
    (void)co_await ch->Receive();
  } catch (const Cancelled&) {
    *cancelled = true;
    throw;
  }
}
Task<void> ScopeCancelledByAnotherTask() {
  Channel<int> ch(1);
  bool cancelled = false;
  CancelScope scope;
  Supervisor sup("s");
  sup.Spawn("canceller", [](CancelScope* s) -> Task<void> {
    co_await Sleep(30ms);
    s->Cancel();
  }(&scope));
  TimePoint start = Loop::Current()->Now();
  bool finished = co_await scope.Run(Receiver(&ch, &cancelled));
  EXPECT_FALSE(finished);
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(MsSince(start), 30);
  co_await sup.Join();
}
TEST(CancelTest, CancelFromAnotherTaskWakesChannelWait) { RunVirtual(ScopeCancelledByAnotherTask()); }

Task<void> NestedChild(bool* child_cancelled) {
  try {
    co_await Sleep(1h);
  } catch (const Cancelled&) {
    *child_cancelled = true;
    throw;
  }
}
Task<void> OwnsANursery(bool* child_cancelled) {
  Supervisor inner("inner");
  inner.Spawn("grandchild", NestedChild(child_cancelled));
  co_await inner.Join();
}
Task<void> CancelReachesTasksOfNestedSupervisor() {
  bool child_cancelled = false;
  Supervisor outer("outer");
  TaskHandle h = outer.Spawn("owner", OwnsANursery(&child_cancelled));
  co_await Sleep(10ms);
  EXPECT_EQ(co_await h.Cancel(), TaskState::kCancelled);
  EXPECT_TRUE(child_cancelled);
  co_await outer.Join();
}
TEST(CancelTest, CancelReachesTasksOfANestedSupervisor) {
  RunVirtual(CancelReachesTasksOfNestedSupervisor());
}

// A task that keeps running after its cancellation is reported as a straggler, and
// co_await Cancel() still waits for it to really finish.
Task<void> IgnoresCancellation() {
  try {
    co_await Sleep(1h);
  } catch (const Cancelled&) {
  }
  co_await Shielded(1h, SleepTask(5s));
}
TEST(CancelTest, TaskRunningAfterCancellationIsReportedAsStraggler) {
  VirtualClock clock;
  LoopOptions o = testing::VirtualOptions(&clock);
  o.straggler_threshold = 1s;
  Loop loop(o);
  loop.Run([]() -> Task<void> {
    Supervisor sup("s");
    TaskHandle h = sup.Spawn("stubborn", IgnoresCancellation());
    co_await Sleep(1ms);
    TimePoint start = Loop::Current()->Now();
    co_await h.Cancel();
    EXPECT_EQ(MsSince(start), 5000);
    EXPECT_EQ(Loop::Current()->Stats().stragglers, 1u);
    co_await sup.Join();
  }());
}

Task<void> ChecksCancelRequested(CancelScope* scope, std::vector<bool>* seen) {
  seen->push_back(CancelRequested());
  scope->Cancel();
  seen->push_back(CancelRequested());
  co_return;
}
Task<bool> ObservesCancelRequested() {
  CancelScope scope;
  std::vector<bool> seen;
  bool finished = co_await scope.Run(ChecksCancelRequested(&scope, &seen));
  EXPECT_TRUE(finished);  // no await after the cancel: the body completed
  EXPECT_EQ(seen, (std::vector<bool>{false, true}));
  co_return !CancelRequested();
}
TEST(CancelTest, CancelRequestedReportsTheCurrentScope) {
  EXPECT_TRUE(RunVirtual(ObservesCancelRequested()));
}

Task<bool> CancelBeforeEnterRaisesAtFirstAwait() {
  CancelScope scope;
  scope.Cancel();
  auto r = co_await scope.Run(SleepLong());
  co_return !r && scope.CancelledCaught();
}
TEST(CancelTest, ScopeCancelledBeforeEntryRaisesAtFirstAwait) {
  EXPECT_TRUE(RunVirtual(CancelBeforeEnterRaisesAtFirstAwait()));
}

}  // namespace
}  // namespace mandrill::runtime
