// Loop teardown, ExitStack, signals, fd readiness and the debug aids.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "shared/runtime/runtime.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::MsSince;
using testing::RunVirtual;
using testing::VirtualOptions;

struct LiveCount {
  static inline int live = 0;
  LiveCount() { ++live; }
  ~LiveCount() { --live; }
  LiveCount(const LiveCount&) = delete;
  LiveCount& operator=(const LiveCount&) = delete;
};

Task<void> Deep(int depth) {
  LiveCount guard;
  if (depth > 0) {
    co_await Deep(depth - 1);
  } else {
    co_await Sleep(1h);
  }
}
Task<void> NestedSupervisorForever() {
  LiveCount guard;
  Supervisor inner("inner");
  inner.Spawn("deep", Deep(5));
  co_await inner.Join();
}
// A task that ignores cancellation for good: it outlives the drain.
Task<void> Unkillable() {
  LiveCount guard;
  for (;;) {
    try {
      co_await Shielded(1h, Deep(2));
    } catch (const TimeoutError&) {
    }
  }
}

TEST(TeardownTest, DestroyingALoopWithSuspendedTasksLeaksNothing) {
  LiveCount::live = 0;
  {
    VirtualClock clock;
    LoopOptions o = VirtualOptions(&clock);
    o.drain_timeout = 1s;
    Loop loop(o);
    std::future<void> f = loop.Submit("stubborn", [] { return Unkillable(); });
    loop.Run([]() -> Task<void> {
      Supervisor sup("s");
      sup.Spawn("nested", NestedSupervisorForever());
      co_await Sleep(1ms);
      sup.CancelAll();
      co_await sup.Join();
    }());
    EXPECT_GT(LiveCount::live, 0);  // the unkillable task is still suspended
    EXPECT_GE(loop.Stats().stragglers, 1u);
  }
  EXPECT_EQ(LiveCount::live, 0);  // every frame was destroyed with the loop (ASan: no leak)
}

TEST(TeardownTest, SpawnsAndPostsBeforeRunAreRunByRun) {
  LiveCount::live = 0;
  VirtualClock clock;
  Loop loop(VirtualOptions(&clock));
  Supervisor sup(loop, "early");  // constructed before Run, with the loop given explicitly
  sup.Spawn("before-run", Deep(3));
  int ran = 0;
  loop.Post([&ran] { ++ran; });
  EXPECT_EQ(ran, 0);
  loop.Run([](Supervisor* s) -> Task<void> {
    co_await Sleep(1ms);
    EXPECT_EQ(LiveCount::live, 4);  // the early task is running
    s->CancelAll();
    co_await s->Join();
  }(&sup));
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(LiveCount::live, 0);
}

TEST(TeardownTest, LoopDestroyedWithoutRunningDropsWorkLoudly) {
  std::future<int> f;
  {
    Loop loop;
    f = loop.Submit("never", [] { return []() -> Task<int> { co_return 1; }(); });
  }  // logged: one posted callback never ran
  EXPECT_THROW(f.get(), std::future_error);  // broken promise, not a hang
}

Task<void> StartComponent(std::vector<std::string>* log, std::string name, bool fail) {
  co_await Sleep(1ms);
  if (fail) throw std::runtime_error(name + " failed to start");
  log->push_back("start " + name);
}
Task<void> StopComponent(std::vector<std::string>* log, std::string name) {
  co_await Sleep(1ms);  // stopping awaits, even when the task is cancelled
  log->push_back("stop " + name);
}
Task<void> EnterThree(ExitStack* stack, std::vector<std::string>* log, bool third_fails) {
  for (std::string name : {"db", "net", "http"}) {
    co_await stack->Enter(name, StartComponent(log, name, third_fails && name == "http"),
                          StopComponent(log, name));
  }
  co_await Sleep(1h);
}
TEST(ExitStackTest, StopsInReverseOrderWhenALaterStartFails) {
  std::vector<std::string> log;
  RunVirtual([](std::vector<std::string>* l) -> Task<void> {
    ExitStack stack("app");
    bool failed = false;
    try {
      co_await stack.Run(EnterThree(&stack, l, true));
    } catch (const std::runtime_error&) {
      failed = true;
    }
    EXPECT_TRUE(failed);
  }(&log));
  EXPECT_EQ(log, (std::vector<std::string>{"start db", "start net", "stop net", "stop db"}));
}
TEST(ExitStackTest, StopsInReverseOrderWhenCancelled) {
  std::vector<std::string> log;
  RunVirtual([](std::vector<std::string>* l) -> Task<void> {
    ExitStack stack("app");
    auto r = co_await MoveOnAfter(1s, stack.Run(EnterThree(&stack, l, false)));
    EXPECT_FALSE(r);
  }(&log));
  EXPECT_EQ(log, (std::vector<std::string>{"start db", "start net", "start http", "stop http",
                                           "stop net", "stop db"}));
}

// SIGTERM/SIGHUP arrive as loop events and drive the normal shutdown path.
Task<void> SignalDrivenShutdown(std::vector<int>* seen) {
  SignalSet signals(*Loop::Current(), {SIGTERM, SIGINT, SIGHUP});
  Supervisor sup("app");
  sup.Spawn("work", [](Duration d) -> Task<void> { co_await Sleep(d); }(1h));
  ::kill(::getpid(), SIGHUP);
  ::kill(::getpid(), SIGTERM);
  for (;;) {
    int signo = co_await signals.Receive();
    seen->push_back(signo);
    if (signo == SIGTERM) {
      sup.Shutdown(10ms);
      break;
    }
  }
  co_await sup.Join();
}
TEST(SignalTest, SignalsArriveAsLoopEventsInOrder) {
  std::vector<int> seen;
  Loop loop;  // real clock: the signal comes through the self-pipe
  loop.Run(SignalDrivenShutdown(&seen));
  EXPECT_EQ(seen, (std::vector<int>{SIGHUP, SIGTERM}));
}

Task<void> ReadsPipe(int fd, std::string* got) {
  std::uint32_t ev = co_await WaitReadable(fd);
  EXPECT_TRUE(ev & EPOLLIN);
  char buf[16];
  ssize_t n = ::read(fd, buf, sizeof buf);
  got->assign(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}
TEST(FdWatchTest, WaitsForReadabilityAndIsCancellable) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string got;
  Loop loop;
  loop.Run([](int rfd, int wfd, std::string* out) -> Task<void> {
    // Cancellable: nothing written yet, so the wait is cut by the timeout.
    auto r = co_await MoveOnAfter(5ms, ReadsPipe(rfd, out));
    EXPECT_FALSE(r);
    Loop::Current()->CallLater(1ms, [wfd] { EXPECT_EQ(::write(wfd, "hi", 2), 2); });
    co_await ReadsPipe(rfd, out);
  }(fds[0], fds[1], &got));
  EXPECT_EQ(got, "hi");
  ::close(fds[0]);
  ::close(fds[1]);
}

Task<void> ListsTasks() {
  Supervisor sup("s");
  sup.Spawn("sleeper", [](Duration d) -> Task<void> { co_await Sleep(d); }(1h));
  co_await Sleep(250ms);
  std::vector<TaskInfo> tasks = Loop::Current()->Tasks();
  EXPECT_EQ(tasks.size(), 2u);  // main and the sleeper
  bool found = false;
  for (const TaskInfo& t : tasks) {
    if (t.name == "sleeper") {
      found = true;
      EXPECT_EQ(t.state, TaskState::kSuspended);
      EXPECT_EQ(t.waiting_on, "sleep");
      EXPECT_EQ(t.age, 250ms);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_NE(Loop::Current()->DumpTasks().find("'sleeper' suspended on sleep, age 250 ms"),
            std::string::npos)
      << Loop::Current()->DumpTasks();
  sup.CancelAll();
  co_await sup.Join();
}
TEST(DebugTest, LiveTaskListShowsNameStateAndAge) { RunVirtual(ListsTasks()); }

void BusyFor(std::chrono::milliseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}
TEST(DebugTest, SlowStepIsReported) {
  LoopOptions o;
  o.slow_step_threshold = 2ms;
  Loop loop(o);
  loop.Run([]() -> Task<void> {
    BusyFor(5ms);  // blocks the loop: the thing under test
    co_await Yield();
  }());
  EXPECT_GE(loop.Stats().slow_steps, 1u);  // (a preempted CI machine may add one)
}

// The watchdog reports a loop still blocked; the step here blocks until it has been reported.
TEST(DebugTest, WatchdogReportsALoopStillBlocked) {
  std::promise<void> reported;
  std::future<void> reported_f = reported.get_future();
  std::atomic<bool> once{false};
  LoopOptions o;
  o.slow_step_threshold = Duration::zero();
  o.watchdog_threshold = 5ms;
  o.on_blocked = [&](Duration blocked) {
    EXPECT_GE(blocked, 5ms);
    if (!once.exchange(true)) reported.set_value();
  };
  Loop loop(o);
  loop.Run([](std::future<void>* f) -> Task<void> {
    f->wait();  // blocked until the watchdog has seen it
    co_return;
  }(&reported_f));
  EXPECT_GE(loop.Stats().blocked_reports, 1u);
}

}  // namespace
}  // namespace mandrill::runtime
