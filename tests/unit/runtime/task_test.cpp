#include "shared/runtime/task.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using testing::RunVirtual;

Task<int> Value(int v) { co_return v; }
Task<int> Add(int a, int b) {
  int x = co_await Value(a);
  int y = co_await Value(b);
  co_return x + y;
}
Task<void> Throws() {
  throw std::runtime_error("boom");
  co_return;
}
Task<std::string> CatchesChild() {
  try {
    co_await Throws();
  } catch (const std::runtime_error& e) {
    co_return std::string("caught ") + e.what();
  }
  co_return "not thrown";
}

TEST(TaskTest, ValueReachesAwaiter) { EXPECT_EQ(RunVirtual(Add(2, 3)), 5); }

TEST(TaskTest, ExceptionReachesAwaiter) { EXPECT_EQ(RunVirtual(CatchesChild()), "caught boom"); }

TEST(TaskTest, ExceptionOfMainIsRethrownByRun) {
  EXPECT_THROW(RunVirtual(Throws()), std::runtime_error);
}

Task<std::unique_ptr<int>> MoveOnlyValue() { co_return std::make_unique<int>(7); }
Task<int> UsesMoveOnly() {
  std::unique_ptr<int> p = co_await MoveOnlyValue();
  co_return *p;
}
TEST(TaskTest, MoveOnlyResults) { EXPECT_EQ(RunVirtual(UsesMoveOnly()), 7); }

Task<void> MarkRan(bool* ran) {
  *ran = true;
  co_return;
}
Task<bool> LazyUntilAwaited() {
  bool ran = false;
  Task<void> t = MarkRan(&ran);
  bool before = ran;
  co_await std::move(t);
  co_return !before && ran;
}
TEST(TaskTest, IsLazy) { EXPECT_TRUE(RunVirtual(LazyUntilAwaited())); }

TEST(TaskTest, UnawaitedTaskIsDestroyedWithoutRunning) {
  bool ran = false;
  { Task<void> t = MarkRan(&ran); }
  EXPECT_FALSE(ran);
}

// 1,000,000 synchronously completing awaits in a row: the trampoline keeps the stack flat.
Task<int> One() { co_return 1; }
Task<long> MillionSequential() {
  long sum = 0;
  for (int i = 0; i < 1'000'000; ++i) sum += co_await One();
  co_return sum;
}
TEST(TaskTest, MillionSynchronousAwaitsDoNotGrowTheStack) {
  EXPECT_EQ(RunVirtual(MillionSequential()), 1'000'000);
}

// A chain 1,000,000 deep: each task awaits the next; all complete synchronously.
Task<long> Chain(int depth) {
  if (depth == 0) co_return 0;
  long below = co_await Chain(depth - 1);
  co_return below + 1;
}
TEST(TaskTest, MillionDeepAwaitChainDoesNotGrowTheStack) {
  EXPECT_EQ(RunVirtual(Chain(1'000'000)), 1'000'000);
}

Task<int> SleepsThenReturns() {
  co_await Sleep(std::chrono::seconds(10));
  co_return 42;
}
TEST(TaskTest, SuspendingChildResumesAwaiter) { EXPECT_EQ(RunVirtual(SleepsThenReturns()), 42); }

}  // namespace
}  // namespace mandrill::runtime
