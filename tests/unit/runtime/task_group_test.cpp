// TaskGroup (first failure cancels the siblings) and FirstOf (the loser is cancelled and ended).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "shared/runtime/loop.h"
#include "shared/runtime/select.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/supervisor.h"
#include "shared/runtime/timeout.h"
#include "test_util.h"

namespace mandrill::runtime {
namespace {

using namespace std::chrono_literals;
using testing::FailAfter;
using testing::MsSince;
using testing::RunVirtual;
using testing::SleepFor;

Task<void> GroupFirstFailureCancelsSiblings() {
  TaskGroup group("g");
  TaskHandle sibling = group.Spawn("sibling", SleepFor(1h));
  group.Spawn("bad", FailAfter(10ms, "first"));
  group.Spawn("bad2", FailAfter(20ms, "second"));
  bool caught = false;
  try {
    co_await group.Join();
  } catch (const std::runtime_error& e) {
    caught = true;
    EXPECT_STREQ(e.what(), "first");
  }
  EXPECT_TRUE(caught);
  EXPECT_EQ(sibling.state(), TaskState::kCancelled);
}
TEST(TaskGroupTest, FirstFailureCancelsSiblingsAndIsRethrown) {
  RunVirtual(GroupFirstFailureCancelsSiblings());
}

Task<void> GroupAllSucceed() {
  int done = 0;
  TaskGroup group;
  for (int i = 0; i < 10; ++i) {
    group.Spawn("w", [](int* d, int i) -> Task<void> {
      co_await Sleep(std::chrono::milliseconds(i));
      ++*d;
    }(&done, i));
  }
  co_await group.Join();
  EXPECT_EQ(done, 10);
}
TEST(TaskGroupTest, JoinWaitsForAllChildren) { RunVirtual(GroupAllSucceed()); }

// FirstOf: the lease keeper stops the instant the handler ends, however it ends.
Task<int> Handler(Duration d, bool fail) {
  co_await Sleep(d);
  if (fail) throw std::runtime_error("handler failed");
  co_return 42;
}
Task<void> LeaseKeeper(int* extensions, bool* stopped) {
  try {
    for (;;) {
      co_await Sleep(100ms);
      ++*extensions;
    }
  } catch (const Cancelled&) {
    *stopped = true;
    throw;
  }
}
Task<void> FirstOfStopsTheLoser() {
  int extensions = 0;
  bool stopped = false;
  TimePoint start = Loop::Current()->Now();
  auto r = co_await FirstOf(Handler(350ms, false), LeaseKeeper(&extensions, &stopped));
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(std::get<0>(r), 42);
  EXPECT_TRUE(stopped);  // already ended when FirstOf returns
  EXPECT_EQ(extensions, 3);
  EXPECT_EQ(MsSince(start), 350);

  stopped = false;
  bool failed = false;
  try {
    co_await FirstOf(Handler(150ms, true), LeaseKeeper(&extensions, &stopped));
  } catch (const std::runtime_error&) {
    failed = true;
  }
  EXPECT_TRUE(failed);
  EXPECT_TRUE(stopped);
}
TEST(FirstOfTest, TheLoserIsCancelledAndEndedWhenTheWinnerFinishesOrFails) {
  RunVirtual(FirstOfStopsTheLoser());
}

}  // namespace
}  // namespace mandrill::runtime
