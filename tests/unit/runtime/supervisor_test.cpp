#include "shared/runtime/supervisor.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "shared/runtime/loop.h"
#include "shared/runtime/select.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/timeout.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::FailAfter;
using testing::MsSince;
using testing::RunVirtual;
using testing::SleepFor;


struct Failures {
  std::vector<std::string> seen;
  SupervisorOptions Options() {
    SupervisorOptions o;
    o.on_failure = [this](const ChildFailure& f) {
      seen.push_back(f.child + ": " + DescribeException(f.error));
    };
    return o;
  }
};

Task<void> ExceptionReachesHandlerOnce() {
  Failures failures;
  Supervisor sup("s", failures.Options());
  sup.Spawn("bad", FailAfter(10ms, "boom"));
  TaskHandle sibling = sup.Spawn("good", SleepFor(50ms));
  co_await sup.Join();
  EXPECT_EQ(failures.seen, (std::vector<std::string>{"bad: boom"}));
  EXPECT_EQ(sup.stats().failures, 1u);
  EXPECT_EQ(sibling.state(), TaskState::kDone);  // one_for_one: the sibling was not touched
}
TEST(SupervisorTest, ChildExceptionReachesTheHandlerExactlyOnce) {
  RunVirtual(ExceptionReachesHandlerOnce());
}

Task<void> DefaultHandlerLogsAndCounts() {
  Supervisor sup("s");
  sup.Spawn("bad", FailAfter(1ms, "logged"));
  co_await sup.Join();
  EXPECT_EQ(sup.stats().failures, 1u);
  EXPECT_EQ(Loop::Current()->Stats().tasks_failed, 1u);
}
TEST(SupervisorTest, DefaultHandlerCountsFailures) { RunVirtual(DefaultHandlerLogsAndCounts()); }

// A factory whose n-th run fails while n < fail_runs, then returns normally.
struct Flaky {
  explicit Flaky(int fails) : fail_runs(fails), start(Loop::Current()->Now()) {}
  int runs = 0;
  int fail_runs;
  std::vector<long long> started_at_ms;
  TimePoint start;
  std::function<Task<void>()> Factory() {
    return [this] { return Run(this); };
  }
  static Task<void> Run(Flaky* self) {
    self->started_at_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      Loop::Current()->Now() - self->start)
                                      .count());
    int n = ++self->runs;
    co_await Sleep(1ms);
    if (n <= self->fail_runs) throw std::runtime_error("run " + std::to_string(n));
  }
};

Task<void> TransientRestartsWithBackoff() {
  Flaky flaky(3);
  Failures failures;
  SupervisorOptions o = failures.Options();
  o.max_restarts = 10;
  Supervisor sup("s", o);
  ChildSpec spec;
  spec.restart = Restart::kTransient;
  spec.backoff_initial = 100ms;
  spec.backoff_factor = 2;
  sup.Spawn("flaky", flaky.Factory(), spec);
  co_await sup.Join();
  EXPECT_EQ(flaky.runs, 4);  // 3 failures, then a normal exit ends it
  EXPECT_EQ(sup.stats().restarts, 3u);
  EXPECT_EQ(failures.seen.size(), 3u);
  // Each run takes 1 ms; backoff 100, 200, 400 ms.
  EXPECT_EQ(flaky.started_at_ms, (std::vector<long long>{0, 101, 302, 703}));
}
TEST(SupervisorTest, TransientChildRestartsAfterFailureWithExponentialBackoff) {
  RunVirtual(TransientRestartsWithBackoff());
}

Task<void> PermanentRestartsAfterNormalExit() {
  Flaky flaky(0);
  SupervisorOptions o;
  o.max_restarts = 100;
  o.restart_window = 1s;
  Supervisor sup("s", o);
  ChildSpec spec;
  spec.restart = Restart::kPermanent;
  spec.backoff_initial = 10ms;
  spec.backoff_factor = 1;
  sup.Spawn("forever", flaky.Factory(), spec);
  co_await Sleep(100ms);
  EXPECT_GE(flaky.runs, 9);
  sup.Shutdown(1s);
  co_await sup.Join();
  EXPECT_EQ(sup.stats().failures, 0u);
}
TEST(SupervisorTest, PermanentChildRestartsEvenAfterNormalExit) {
  RunVirtual(PermanentRestartsAfterNormalExit());
}

Task<void> TemporaryNeverRestarts() {
  Flaky flaky(5);
  Supervisor sup("s");
  ChildSpec spec;
  spec.restart = Restart::kTemporary;
  sup.Spawn("once", flaky.Factory(), spec);
  co_await sup.Join();
  EXPECT_EQ(flaky.runs, 1);
  EXPECT_EQ(sup.stats().failures, 1u);
  EXPECT_EQ(sup.stats().restarts, 0u);
}
TEST(SupervisorTest, TemporaryChildIsNeverRestarted) { RunVirtual(TemporaryNeverRestarts()); }

// Restart by policy, then escalation past the intensity limit: more than 3 restarts within
// 5 s fails the supervisor, which cancels its other children; Join throws SupervisorFailed.
Task<void> EscalatesPastIntensity() {
  Flaky flaky(1000);
  SupervisorOptions o;
  o.max_restarts = 3;
  o.restart_window = 5s;
  Supervisor sup("s", o);
  ChildSpec spec;
  spec.restart = Restart::kPermanent;
  spec.backoff_initial = 10ms;
  spec.backoff_factor = 1;
  sup.Spawn("crashy", flaky.Factory(), spec);
  TaskHandle bystander = sup.Spawn("bystander", SleepFor(1h));
  bool failed = false;
  try {
    co_await sup.Join();
  } catch (const SupervisorFailed& e) {
    failed = true;
    EXPECT_NE(std::string(e.what()).find("crashy"), std::string::npos) << e.what();
    EXPECT_EQ(DescribeException(e.cause()), "run 4");
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(flaky.runs, 4);  // the first run plus 3 restarts
  EXPECT_EQ(sup.stats().restarts, 3u);
  EXPECT_EQ(bystander.state(), TaskState::kCancelled);
  EXPECT_FALSE(sup.open());
  EXPECT_FALSE(sup.Spawn("late", SleepFor(1ms)));
}
TEST(SupervisorTest, RestartsByPolicyThenEscalatesPastTheIntensityLimit) {
  RunVirtual(EscalatesPastIntensity());
}

Task<void> RestartsOutsideTheWindowDoNotEscalate() {
  SupervisorOptions o;
  o.max_restarts = 1;
  o.restart_window = 1s;
  Supervisor sup("s", o);
  int runs = 0;
  ChildSpec spec;
  spec.restart = Restart::kTransient;
  spec.backoff_initial = 2s;  // restarts are 2 s apart: never two in one 1 s window
  spec.backoff_factor = 1;
  sup.Spawn("slow-crash",
            [&runs]() -> Task<void> { return [](int* r) -> Task<void> {
                if (++*r <= 4) throw std::runtime_error("crash");
                co_return;
              }(&runs); },
            spec);
  co_await sup.Join();
  EXPECT_EQ(runs, 5);
}
TEST(SupervisorTest, IntensityIsASlidingWindow) { RunVirtual(RestartsOutsideTheWindowDoNotEscalate()); }

// one_for_all / rest_for_one: record which children started how often.
struct Recorder {
  std::vector<std::string> events;
  std::function<Task<void>()> Child(std::string name, bool crash_once) {
    return [this, name, crash_once] { return Run(this, name, crash_once); };
  }
  static Task<void> Run(Recorder* self, std::string name, bool crash_once) {
    self->events.push_back("start " + name);
    bool crash = crash_once && std::count(self->events.begin(), self->events.end(),
                                          "start " + name) == 1;
    try {
      co_await Sleep(crash ? 10ms : 1h);
    } catch (const Cancelled&) {
      self->events.push_back("stop " + name);
      throw;
    }
    if (crash) throw std::runtime_error(name + " crashed");
  }
};

Task<std::vector<std::string>> StrategyRun(Strategy strategy) {
  Recorder rec;
  SupervisorOptions o;
  o.strategy = strategy;
  Supervisor sup("s", o);
  ChildSpec spec;
  spec.backoff_initial = 5ms;
  sup.Spawn("a", rec.Child("a", false), spec);
  sup.Spawn("b", rec.Child("b", true), spec);
  sup.Spawn("c", rec.Child("c", false), spec);
  co_await Sleep(100ms);
  rec.events.push_back("shutdown");
  sup.Shutdown(1s);
  co_await sup.Join();
  co_return rec.events;
}
TEST(SupervisorTest, OneForOneRestartsOnlyTheFailedChild) {
  EXPECT_EQ(RunVirtual(StrategyRun(Strategy::kOneForOne)),
            (std::vector<std::string>{"start a", "start b", "start c", "start b", "shutdown",
                                      "stop c", "stop b", "stop a"}));
}
TEST(SupervisorTest, OneForAllRestartsEveryChild) {
  EXPECT_EQ(RunVirtual(StrategyRun(Strategy::kOneForAll)),
            (std::vector<std::string>{"start a", "start b", "start c", "stop a", "stop c",
                                      "start a", "start b", "start c", "shutdown", "stop c",
                                      "stop b", "stop a"}));
}
TEST(SupervisorTest, RestForOneRestartsTheFailedChildAndThoseStartedAfterIt) {
  EXPECT_EQ(RunVirtual(StrategyRun(Strategy::kRestForOne)),
            (std::vector<std::string>{"start a", "start b", "start c", "stop c", "start b",
                                      "start c", "shutdown", "stop c", "stop b", "stop a"}));
}

// shutdown(grace): a child that finishes within the grace is left alone; one that does not is
// cancelled at the grace deadline; one that then delays its exit is reported as a straggler
// and Join still waits for it.
Task<void> DelaysExit(std::vector<std::string>* log) {
  try {
    co_await Sleep(1h);
  } catch (const Cancelled&) {
    log->push_back("slow: cancelled");
  }
  co_await Shielded(1h, SleepFor(3s));
  log->push_back("slow: exited");
}
Task<void> FinishesInGrace(std::vector<std::string>* log) {
  co_await Sleep(500ms);
  log->push_back("quick: done");
}
Task<void> ShutdownWithGrace() {
  std::vector<std::string> log;
  Supervisor sup("s");
  TaskHandle quick = sup.Spawn("quick", FinishesInGrace(&log));
  TaskHandle slow = sup.Spawn("slow", DelaysExit(&log));
  co_await Sleep(1ms);
  TimePoint start = Loop::Current()->Now();
  sup.Shutdown(2s);
  EXPECT_FALSE(sup.Spawn("refused", SleepFor(1ms)));  // no new spawns once shutting down
  co_await sup.Join();
  EXPECT_EQ(MsSince(start), 5000);  // 2 s grace + 3 s of delayed exit
  EXPECT_EQ(log, (std::vector<std::string>{"quick: done", "slow: cancelled", "slow: exited"}));
  EXPECT_EQ(quick.state(), TaskState::kDone);
  EXPECT_EQ(slow.state(), TaskState::kDone);  // it swallowed the cancellation and returned
  EXPECT_EQ(Loop::Current()->Stats().stragglers, 1u);
  EXPECT_EQ(sup.stats().refused, 1u);
}
TEST(SupervisorTest, ShutdownRespectsGraceAndReportsStragglers) {
  VirtualClock clock;
  LoopOptions o = testing::VirtualOptions(&clock);
  o.straggler_threshold = 1s;
  Loop loop(o);
  loop.Run(ShutdownWithGrace());
}

Task<void> ShutdownFromALoopCallback() {
  Supervisor sup("s");
  sup.Spawn("work", SleepFor(1h));
  Loop::Current()->CallLater(1s, [&sup] { sup.Shutdown(10ms); });
  TimePoint start = Loop::Current()->Now();
  co_await sup.Join();
  EXPECT_EQ(MsSince(start), 1010);
}
TEST(SupervisorTest, ShutdownCanBeCalledFromALoopCallback) {
  RunVirtual(ShutdownFromALoopCallback());
}

Task<void> JoinCancelled(bool* child_cancelled) {
  Supervisor sup("inner");
  sup.Spawn("child", [](bool* flag) -> Task<void> {
    try {
      co_await Sleep(1h);
    } catch (const Cancelled&) {
      *flag = true;
    }
    co_await Shielded(1h, SleepFor(1s));  // ends 1 s after its cancellation
  }(child_cancelled));
  co_await sup.Join();
}
Task<void> JoinWaitsForChildrenWhenCancelled() {
  bool child_cancelled = false;
  TimePoint start = Loop::Current()->Now();
  auto r = co_await MoveOnAfter(100ms, JoinCancelled(&child_cancelled));
  EXPECT_FALSE(r);
  EXPECT_TRUE(child_cancelled);
  EXPECT_EQ(MsSince(start), 1100);  // the scope ended only when the child had ended
}
TEST(SupervisorTest, CancelledJoinCancelsAndWaitsForTheChildren) {
  RunVirtual(JoinWaitsForChildrenWhenCancelled());
}

TEST(SupervisorDeathTest, DestroyingAnUnjoinedSupervisorWithChildrenAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        RunVirtual([]() -> Task<void> {
          Supervisor sup("forgotten");
          sup.Spawn("child", SleepFor(1h));
          co_await Sleep(1ms);
          // returns without Join
        }());
      },
      "must be joined");
}

}  // namespace
}  // namespace mandrill::runtime
