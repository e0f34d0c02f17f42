// Entry from other threads: Post (call_soon_threadsafe) and Submit (run_coroutine_threadsafe).
// Foreign threads here are joined before each test ends.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/supervisor.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;

constexpr int kThreads = 8;
#if defined(MANDRILL_TSAN)
constexpr int kPerThread = 20'000;  // TSan is ~10x slower; the interleavings are the same
#else
constexpr int kPerThread = 100'000;
#endif

// Runs on the loop while the producers post; finishes when every callback has run.
Task<void> WaitForCallbacks(std::atomic<bool>* all_posted, const int* ran, int expected) {
  while (!(all_posted->load() && *ran == expected)) co_await Sleep(1ms);
}

// 8 foreign threads each post 100,000 callbacks: each runs exactly once, in order per thread.
TEST(CrossThreadTest, EveryPostRunsExactlyOnceInOrderPerThread) {
  Loop loop;
  std::vector<int> next(kThreads, 0);  // loop thread only
  int ran = 0;
  int out_of_order = 0;
  std::atomic<int> producers_done{0};
  std::atomic<bool> all_posted{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop.Post([&, t, i] {
          if (next[t] != i) ++out_of_order;
          next[t] = i + 1;
          ++ran;
        });
      }
      if (++producers_done == kThreads) all_posted = true;
    });
  }
  loop.Run(WaitForCallbacks(&all_posted, &ran, kThreads * kPerThread));
  for (auto& p : producers) p.join();
  EXPECT_EQ(ran, kThreads * kPerThread);
  EXPECT_EQ(out_of_order, 0);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kPerThread);
}

// The same while the loop shuts down: every Post either runs exactly once or throws LoopClosed.
// None is lost silently.
TEST(CrossThreadTest, PostsRacingShutdownRunOrFailLoudly) {
  std::atomic<int> ran{0};
  std::atomic<int> refused{0};
  std::atomic<int> attempted{0};
  std::vector<std::thread> producers;
  std::atomic<bool> go{false};
  {
    Loop loop;
    for (int t = 0; t < kThreads; ++t) {
      producers.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        // Post until the close refuses one (bounded): a fixed count could all be posted before
        // the loop closes when the machine is loaded, and then no producer would race the close.
        for (int i = 0; i < 100 * kPerThread; ++i) {
          ++attempted;
          try {
            loop.Post([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
          } catch (const LoopClosed&) {
            ++refused;
            return;  // closed stays closed: the rest would fail the same way
          }
        }
      });
    }
    // main lets the producers start and returns at once: the loop shuts down under them.
    loop.Run([](std::atomic<bool>* g) -> Task<void> {
      g->store(true);
      co_await Sleep(1ms);
    }(&go));
    for (auto& p : producers) p.join();  // the loop object still exists; it is finished
  }
  EXPECT_EQ(ran.load() + refused.load(), attempted.load());
  EXPECT_EQ(refused.load(), kThreads);  // each producer hit the close once, then stopped
}

Task<int> Answer(int x) {
  co_await Sleep(1ms);
  co_return x * 2;
}
Task<int> Fails() {
  co_await Sleep(1ms);
  throw std::runtime_error("submitted failure");
}

Task<void> WaitFor(std::future<void>* done) {
  while (done->wait_for(0s) != std::future_status::ready) co_await Sleep(1ms);
}

TEST(CrossThreadTest, SubmitDeliversResultAndException) {
  Loop loop;
  std::promise<void> finished;
  std::future<void> done = finished.get_future();
  int value = 0;
  std::string error;
  std::thread client([&] {
    value = loop.Submit("answer", [] { return Answer(21); }).get();
    // The state outlives the catch on purpose (a shared_future: future::get releases it). The
    // exception object is shared by the future's state and the rethrown exception through
    // libstdc++'s exception_ptr reference count, which TSan cannot see (libstdc++ is not
    // instrumented). With the state released before the catch, the loop thread could drop the
    // last reference and free the message while this thread reads it, with no happens-before
    // TSan knows of: a false report about 1 run in 150. Releasing the state after the read is
    // an atomic TSan does see, so the loop thread's free is ordered after it.
    std::shared_future<int> failing = loop.Submit("fails", [] { return Fails(); }).share();
    try {
      failing.get();
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    finished.set_value();
  });
  loop.Run(WaitFor(&done));
  client.join();
  EXPECT_EQ(value, 42);
  EXPECT_EQ(error, "submitted failure");
}

Task<void> SubmitFromLoopThread(Loop* loop) {
  EXPECT_THROW((void)loop->Submit("self", [] { return Answer(1); }), std::logic_error);
  co_return;
}
TEST(CrossThreadTest, SubmitFromTheLoopThreadIsRefused) {
  Loop loop;
  loop.Run(SubmitFromLoopThread(&loop));
}

TEST(CrossThreadTest, SubmitAfterTheLoopFinishedFailsLoudly) {
  Loop loop;
  loop.Run([]() -> Task<void> { co_return; }());
  EXPECT_THROW((void)loop.Submit("late", [] { return Answer(1); }), LoopClosed);
}

Task<void> SleepForever() { co_await Sleep(1h); }
TEST(CrossThreadTest, SubmittedTaskCancelledByShutdownReportsCancellation) {
  Loop loop;
  std::future<void> f = loop.Submit("forever", [] { return SleepForever(); });
  loop.Run([]() -> Task<void> { co_await Sleep(1ms); }());
  EXPECT_THROW(f.get(), TaskCancelledError);
}

}  // namespace
}  // namespace mandrill::runtime
