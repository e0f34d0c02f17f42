#include "shared/runtime/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/supervisor.h"
#include "shared/runtime/timeout.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::RunVirtual;

Task<void> ResultComesBackOnTheLoopThread(ThreadPool* pool) {
  std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id job_thread;
  int v = co_await RunInExecutor(*pool, [&job_thread] {
    job_thread = std::this_thread::get_id();
    return 41 + 1;
  });
  EXPECT_EQ(v, 42);
  EXPECT_NE(job_thread, loop_thread);
  EXPECT_EQ(std::this_thread::get_id(), loop_thread);
  bool threw = false;
  try {
    co_await RunInExecutor(*pool, []() -> void { throw std::runtime_error("disk full"); });
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()) == "disk full";
  }
  EXPECT_TRUE(threw);
}
TEST(ExecutorTest, ResultAndExceptionComeBackOnTheLoopThread) {
  ThreadPool pool("exec", 2);
  RunVirtual(ResultComesBackOnTheLoopThread(&pool));
}

// The virtual clock does not jump while a job is in flight: a 10 ms timeout around a job that
// takes real milliseconds does not fire spuriously on an idle loop.
Task<void> ClockWaitsForJobs(ThreadPool* pool, std::future<void>* release) {
  int v = co_await Timeout(10ms, [](ThreadPool* p, std::future<void>* r) -> Task<int> {
    co_return co_await RunInExecutor(*p, [r] {
      r->wait();
      return 5;
    });
  }(pool, release));
  EXPECT_EQ(v, 5);
}
TEST(ExecutorTest, VirtualClockDoesNotJumpWhileAJobRuns) {
  ThreadPool pool("exec", 1);
  std::promise<void> gate;
  std::future<void> release = gate.get_future();
  std::thread opener([&gate] { gate.set_value(); });
  RunVirtual(ClockWaitsForJobs(&pool, &release));
  opener.join();
}

// A queued (not started) job is dropped on cancellation; a running job is waited for and its
// result delivered; a stop is requested through its stop_token.
Task<void> RunsBlockingJob(ThreadPool* pool, std::promise<void>* started,
                           std::shared_future<void> release, std::atomic<bool>* stop_seen,
                           std::optional<int>* out) {
  // Named, not a temporary inside the co_await: GCC 12 destroys aggregate temporaries (like a
  // lambda capturing a non-trivial object) in a co_await expression twice. See docs/runtime.md.
  auto job = [started, release, stop_seen](std::stop_token token) {
    started->set_value();
    release.wait();
    stop_seen->store(token.stop_requested());
    return 1;
  };
  *out = co_await RunInExecutor(*pool, std::move(job));
  co_await Yield();  // the pending cancellation is raised here
}
Task<void> RunsQuickJob(ThreadPool* pool, std::atomic<bool>* ran) {
  co_await RunInExecutor(*pool, [ran] { ran->store(true); });
}
Task<void> CancellationOfExecutorWaits(ThreadPool* pool) {
  std::promise<void> started_p, release_p;
  std::future<void> started = started_p.get_future();
  std::atomic<bool> second_ran{false};
  std::atomic<bool> stop_seen{false};
  std::optional<int> first_result;
  std::shared_future<void> release = release_p.get_future().share();
  Supervisor sup("s");
  TaskHandle first =
      sup.Spawn("first", RunsBlockingJob(pool, &started_p, release, &stop_seen, &first_result));
  TaskHandle second = sup.Spawn("second", RunsQuickJob(pool, &second_ran));
  co_await Yield();  // both have enqueued their jobs; the pool's one thread runs the first
  started.wait();    // blocks the loop thread until the first job is running (test only)
  second.Cancel();
  first.Cancel();
  co_await second.Join();
  EXPECT_EQ(second.state(), TaskState::kCancelled);
  EXPECT_EQ(first.state(), TaskState::kSuspended);  // still waiting for its running job
  release_p.set_value();
  co_await first.Join();
  EXPECT_EQ(first.state(), TaskState::kCancelled);
  EXPECT_EQ(first_result, 1);  // the running job's result was delivered before the cancel
  EXPECT_TRUE(stop_seen.load());
  co_await sup.Join();
}
TEST(ExecutorTest, CancellationDropsQueuedJobsAndWaitsForRunningOnes) {
  ThreadPool pool("exec", 1);
  RunVirtual(CancellationOfExecutorWaits(&pool));
  EXPECT_EQ(pool.stats().abandoned, 1u);
  EXPECT_EQ(pool.stats().executed, 1u);
}

Task<void> WaitsOnJob(ThreadPool* pool, std::shared_future<void> release,
                      std::atomic<bool>* started) {
  auto job = [release, started] {
    started->store(true);
    release.wait();
  };
  co_await RunInExecutor(*pool, std::move(job));
}
Task<void> ReturnsOnceTheJobRuns(const std::atomic<bool>* started) {
  // Until the job is really running on the pool (a fixed sleep was not always long enough on a
  // loaded machine: a job not yet started is dropped by the cancellation instead).
  while (!started->load()) co_await Sleep(1ms);
}
// A job still running when its loop is torn down: the waiting frame is destroyed with the loop,
// and the job's late result is dropped and counted, never delivered into freed memory.
TEST(ExecutorTest, JobOutlivingItsLoopIsDroppedLoudly) {
  ThreadPool pool("exec", 1);
  std::promise<void> release_p;
  std::shared_future<void> release = release_p.get_future().share();
  std::future<void> submitted;
  std::atomic<bool> started{false};
  {
    LoopOptions o;
    o.drain_timeout = 20ms;  // real clock: the job really runs
    Loop loop(o);
    submitted = loop.Submit("stuck", [&pool, release, &started] {
      return WaitsOnJob(&pool, release, &started);
    });
    loop.Run(ReturnsOnceTheJobRuns(&started));
    EXPECT_EQ(loop.Stats().stragglers, 1u);
  }
  release_p.set_value();
  EXPECT_THROW(submitted.get(), std::future_error);  // broken promise: the loop died first
  while (pool.stats().executed == 0) std::this_thread::yield();
  EXPECT_EQ(pool.stats().results_dropped, 1u);
}

}  // namespace
}  // namespace mandrill::runtime
