// Nested timeouts and cancellation: each case asyncio has had a bug in is a test here.
#include "shared/runtime/timeout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/supervisor.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::MsSince;
using testing::RunVirtual;
using testing::SleepFor;

Task<int> SleepThen(Duration d, int v) {
  co_await Sleep(d);
  co_return v;
}

Task<void> TimeoutRaises() {
  TimePoint start = Loop::Current()->Now();
  EXPECT_THROW(co_await Timeout(100ms, SleepThen(1s, 1)), TimeoutError);
  EXPECT_EQ(MsSince(start), 100);
}
TEST(TimeoutTest, ExpiryRaisesTimeoutErrorAtTheDeadline) { RunVirtual(TimeoutRaises()); }

Task<int> TimeoutNotReached() { co_return co_await Timeout(1s, SleepThen(100ms, 7)); }
TEST(TimeoutTest, WorkFinishingInTimeReturnsItsValue) {
  EXPECT_EQ(RunVirtual(TimeoutNotReached()), 7);
}

// Inner budget 10 s inside an outer 1 s: the work is cancelled at 1 s; the inner call sees
// Cancelled (its own deadline did not fire), the outer call's caller gets TimeoutError.
Task<void> Inner(std::vector<std::string>* log) {
  try {
    co_await Timeout(10s, SleepFor(5s));
    log->push_back("inner finished");
  } catch (const TimeoutError&) {
    log->push_back("inner TimeoutError");
    throw;
  } catch (const Cancelled&) {
    log->push_back("inner Cancelled");
    throw;
  }
}
Task<void> InnerCannotExtendOuter() {
  std::vector<std::string> log;
  TimePoint start = Loop::Current()->Now();
  bool outer_timeout = false;
  try {
    co_await Timeout(1s, Inner(&log));
  } catch (const TimeoutError&) {
    outer_timeout = true;
  }
  EXPECT_TRUE(outer_timeout);
  EXPECT_EQ(log, (std::vector<std::string>{"inner Cancelled"}));
  EXPECT_EQ(MsSince(start), 1000);
}
TEST(TimeoutTest, InnerTimeoutCannotExtendTheOuterBudget) { RunVirtual(InnerCannotExtendOuter()); }

Task<TimePoint> ReadDeadline() { co_return CurrentDeadline(); }
Task<void> ReportsEffectiveDeadline() {
  TimePoint start = Loop::Current()->Now();
  TimePoint seen = co_await Timeout(1s, Timeout(10s, ReadDeadline()));
  EXPECT_EQ(seen, start + 1s);
  seen = co_await Timeout(10s, Timeout(1s, ReadDeadline()));
  EXPECT_EQ(seen, start + 1s);
  EXPECT_EQ(CurrentDeadline(), kNoDeadline);
}
TEST(TimeoutTest, CurrentDeadlineIsTheEarliestEnclosingOne) { RunVirtual(ReportsEffectiveDeadline()); }

// Inner 1 s inside outer 10 s: the inner raises TimeoutError; the outer is not cancelled and
// its body goes on awaiting.
Task<int> InnerFiresFirstBody() {
  try {
    co_await Timeout(1s, SleepFor(5s));
  } catch (const TimeoutError&) {
  }
  co_await Sleep(2s);  // the outer scope is not cancelled
  co_return 3;
}
Task<void> InnerFiresFirst() {
  TimePoint start = Loop::Current()->Now();
  EXPECT_EQ(co_await Timeout(10s, InnerFiresFirstBody()), 3);
  EXPECT_EQ(MsSince(start), 3000);
}
TEST(TimeoutTest, InnerExpiryIsATimeoutErrorAndLeavesTheOuterScopeAlone) {
  RunVirtual(InnerFiresFirst());
}

// The task is cancelled from outside while inside a timeout that has not fired: the result is
// a cancellation, never a TimeoutError (asyncio.wait_for once turned this into a timeout or
// swallowed it).
Task<void> WaitsInsideTimeout(std::vector<std::string>* log) {
  try {
    co_await Timeout(10s, SleepFor(1h));
  } catch (const TimeoutError&) {
    log->push_back("TimeoutError");
    throw;
  } catch (const Cancelled&) {
    log->push_back("Cancelled");
    throw;
  }
}
Task<void> CancellationInsideTimeout() {
  std::vector<std::string> log;
  Supervisor sup("s");
  TaskHandle h = sup.Spawn("waiter", WaitsInsideTimeout(&log));
  co_await Sleep(1s);
  EXPECT_EQ(co_await h.Cancel(), TaskState::kCancelled);
  EXPECT_EQ(log, (std::vector<std::string>{"Cancelled"}));
  co_await sup.Join();
}
TEST(TimeoutTest, CancellationArrivingInsideATimeoutStaysACancellation) {
  RunVirtual(CancellationInsideTimeout());
}

// Cancellation and the deadline land in the same loop iteration, in both orders: the task is
// cancelled (the enclosing scope wins), never a TimeoutError (asyncio 3.11's timeout() bug).
Task<void> CancelAndDeadlineTogether(bool cancel_first) {
  std::vector<std::string> log;
  Supervisor sup("s");
  Timer cancel_timer(*Loop::Current());
  TaskHandle h;
  if (cancel_first) {
    // Registered before the waiter's 10 s deadline, so it fires first in that iteration.
    cancel_timer.Start(10s, [&h] { h.Cancel(); });
    h = sup.Spawn("waiter", WaitsInsideTimeout(&log));
    co_await h.Join();
  } else {
    h = sup.Spawn("waiter", WaitsInsideTimeout(&log));
    co_await Sleep(10s);  // wakes in the iteration where the deadline fires, before the waiter
    EXPECT_EQ(h.state(), TaskState::kScheduled);
    h.Cancel();
    co_await h.Join();
  }
  EXPECT_EQ(h.state(), TaskState::kCancelled);
  EXPECT_EQ(log, (std::vector<std::string>{"Cancelled"}));
  co_await sup.Join();
}
TEST(TimeoutTest, CancellationThenDeadlineInOneIterationIsACancellation) {
  RunVirtual(CancelAndDeadlineTogether(true));
}
TEST(TimeoutTest, DeadlineThenCancellationInOneIterationIsACancellation) {
  RunVirtual(CancelAndDeadlineTogether(false));
}

// Two timeouts one after the other in the same task: the first leaves nothing behind
// (asyncio's uncancel() bookkeeping bug).
Task<void> ConsecutiveTimeouts() {
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW(co_await Timeout(10ms, SleepFor(1s)), TimeoutError);
  }
  EXPECT_EQ(co_await Timeout(1s, SleepThen(10ms, 5)), 5);
  co_await Sleep(1s);  // not cancelled
}
TEST(TimeoutTest, ConsecutiveTimeoutsInOneTaskAreIndependent) { RunVirtual(ConsecutiveTimeouts()); }

// Work that catches the cancellation and returns a value anyway: the value is returned.
Task<int> SwallowsAndReturns() {
  try {
    co_await Sleep(1h);
  } catch (const Cancelled&) {
  }
  co_return 9;
}
Task<int> SwallowedTimeoutReturnsValue() { co_return co_await Timeout(1s, SwallowsAndReturns()); }
TEST(TimeoutTest, WorkThatFinishesDespiteTheDeadlineReturnsItsValue) {
  EXPECT_EQ(RunVirtual(SwallowedTimeoutReturnsValue()), 9);
}

Task<void> ZeroTimeout() {
  EXPECT_THROW(co_await Timeout(0ms, SleepFor(1ms)), TimeoutError);
}
TEST(TimeoutTest, ZeroBudgetTimesOutAtTheFirstAwait) { RunVirtual(ZeroTimeout()); }

Task<void> MoveOn() {
  TimePoint start = Loop::Current()->Now();
  std::optional<int> r = co_await MoveOnAfter(50ms, SleepThen(1s, 1));
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(MsSince(start), 50);
  r = co_await MoveOnAfter(1s, SleepThen(50ms, 2));
  EXPECT_EQ(r, 2);
}
TEST(TimeoutTest, MoveOnAfterGivesNulloptInsteadOfAnError) { RunVirtual(MoveOn()); }

// The outer deadline passes while the inner work runs shielded cleanup: the cleanup finishes,
// then the cancellation resumes and becomes the outer TimeoutError.
Task<void> WorkWithShieldedCleanup(std::vector<std::string>* log) {
  bool cancelled = false;
  try {
    co_await Sleep(1h);
  } catch (const Cancelled&) {
    cancelled = true;
  }
  if (cancelled) {
    co_await Shielded(5s, SleepFor(2s));
    log->push_back("cleanup finished");
    co_await Yield();
  }
}
Task<void> OuterExpiresDuringShieldedCleanup() {
  std::vector<std::string> log;
  TimePoint start = Loop::Current()->Now();
  EXPECT_THROW(co_await Timeout(1s, WorkWithShieldedCleanup(&log)), TimeoutError);
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup finished"}));
  EXPECT_EQ(MsSince(start), 3000);
}
TEST(TimeoutTest, ShieldedCleanupCompletesAfterTheDeadlineFired) {
  RunVirtual(OuterExpiresDuringShieldedCleanup());
}

}  // namespace
}  // namespace mandrill::runtime
