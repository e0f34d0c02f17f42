// How long handlers ran, by outcome (Consumer::handler_times, mandrill_worker_handler_seconds),
// what Consumer::Report lists as running, and the StatusReporter that publishes it, all on the
// virtual clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "shared/metrics/snapshot_slot.h"
#include "tests/unit/worker/consumer_harness.h"
#include "worker/loop/status_reporter.h"

namespace mandrill::worker::testing {
namespace {

const metrics::HistogramData& Of(const Harness& h, HandlerOutcome o) {
  return h.consumer.handler_times().data(o);
}

// Every outcome but `except` has no observation.
void ExpectOnlyOutcome(const Harness& h, HandlerOutcome except) {
  for (std::size_t i = 0; i < kHandlerOutcomes; ++i) {
    const auto o = static_cast<HandlerOutcome>(i);
    if (o == except) continue;
    EXPECT_EQ(Of(h, o).count, 0u) << kHandlerOutcomeNames[i];
  }
}

runtime::Task<void> AckedHandlerIsTimed() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "sleep:2000", 1, 30000)}));
  co_await h.out.WaitSettled(1);
  EXPECT_EQ(h.out.Acks().size(), 1u);
  const auto& d = Of(h, HandlerOutcome::kAcked);
  EXPECT_EQ(d.count, 1u);
  EXPECT_NEAR(d.sum, 2.0, 1e-9);
  EXPECT_EQ(d.bounds.data(), metrics::HandlerBounds().data());
  // 2 s: above the 1 s bound, within the 5 s one.
  EXPECT_EQ(At(d.counts, metrics::BucketOf(metrics::HandlerBounds(), 5)), 1u);
  ExpectOnlyOutcome(h, HandlerOutcome::kAcked);
  co_await h.Finish();
}
TEST(ConsumerTimingTest, AHandlerThatReturnsIsTimedAsAcked) { RunVirtual(AckedHandlerIsTimed()); }

runtime::Task<void> ThrowingHandlerIsTimed() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "sleep-throw:300:boom"), Item(2, "throw:at once")}));
  co_await h.out.WaitSettled(2);
  EXPECT_EQ(h.out.Nacks().size(), 2u);
  const auto& d = Of(h, HandlerOutcome::kError);
  EXPECT_EQ(d.count, 2u);
  EXPECT_NEAR(d.sum, 0.3, 1e-9);
  ExpectOnlyOutcome(h, HandlerOutcome::kError);
  co_await h.Finish();
}
TEST(ConsumerTimingTest, AHandlerThatThrowsIsTimedAsError) { RunVirtual(ThrowingHandlerIsTimed()); }

runtime::Task<void> TimedOutHandlerIsTimed() {
  auto o = TestOptions();
  o.handler_timeout = 2s;
  Harness h(o);
  h.consumer.OnDeliveries(Items({Item(1, "hang", 1, 30000)}));
  co_await h.out.WaitSettled(1);
  const auto& d = Of(h, HandlerOutcome::kTimeout);
  EXPECT_EQ(d.count, 1u);
  EXPECT_NEAR(d.sum, 2.0, 1e-9);
  ExpectOnlyOutcome(h, HandlerOutcome::kTimeout);
  co_await h.Finish();
}
TEST(ConsumerTimingTest, AHandlerPastItsTimeoutIsTimedAsTimeout) {
  RunVirtual(TimedOutHandlerIsTimed());
}

runtime::Task<void> LostLeaseIsTimed() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang", 1, 30000), Item(2, "swallow", 1, 30000)}));
  co_await runtime::Sleep(700ms);
  h.consumer.OnLeasesLost({1, 2});
  co_await runtime::Sleep(10ms);  // let the cancelled handlers end
  const auto& d = Of(h, HandlerOutcome::kLeaseLost);
  EXPECT_EQ(d.count, 2u);
  EXPECT_NEAR(d.sum, 1.4, 1e-9);
  ExpectOnlyOutcome(h, HandlerOutcome::kLeaseLost);  // the swallowing one is no ACK either
  co_await h.Finish();
  EXPECT_EQ(Of(h, HandlerOutcome::kLeaseLost).count, 2u);  // and not counted again at teardown
  EXPECT_EQ(Of(h, HandlerOutcome::kShutdown).count, 0u);
}
TEST(ConsumerTimingTest, ALostLeaseIsTimedAsLeaseLostOnce) { RunVirtual(LostLeaseIsTimed()); }

runtime::Task<void> ShutdownIsTimed() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang", 1, 30000)}));
  co_await runtime::Sleep(250ms);
  co_await h.Finish();
  const auto& d = Of(h, HandlerOutcome::kShutdown);
  EXPECT_EQ(d.count, 1u);
  EXPECT_NEAR(d.sum, 0.25, 1e-9);
  ExpectOnlyOutcome(h, HandlerOutcome::kShutdown);
}
TEST(ConsumerTimingTest, AHandlerUnfinishedAtShutdownIsTimedAsShutdown) {
  RunVirtual(ShutdownIsTimed());
}

runtime::Task<void> EachDeliveryIsTimedOnce() {
  auto o = TestOptions();
  o.handler_timeout = 1s;
  Harness h(o);
  h.consumer.OnDeliveries(Items(
      {Item(1, "ok"), Item(2, "throw:x"), Item(3, "hang"), Item(4, "hang"), Item(5, "sleep:400")}));
  co_await runtime::Sleep(100ms);
  h.consumer.OnLeasesLost({4});
  co_await h.out.WaitSettled(4);
  co_await h.Finish();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < kHandlerOutcomes; ++i) {
    total += Of(h, static_cast<HandlerOutcome>(i)).count;
  }
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(Of(h, HandlerOutcome::kAcked).count, 2u);
  EXPECT_EQ(Of(h, HandlerOutcome::kError).count, 1u);
  EXPECT_EQ(Of(h, HandlerOutcome::kTimeout).count, 1u);
  EXPECT_EQ(Of(h, HandlerOutcome::kLeaseLost).count, 1u);
  EXPECT_EQ(Of(h, HandlerOutcome::kShutdown).count, 0u);
  EXPECT_NEAR(Of(h, HandlerOutcome::kAcked).sum, 0.4, 1e-9);
}
TEST(ConsumerTimingTest, EachDeliveryIsTimedExactlyOnce) { RunVirtual(EachDeliveryIsTimedOnce()); }

runtime::Task<void> ReportListsLongestFirst() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang", 1, 30000)}));
  co_await runtime::Sleep(100ms);
  h.consumer.OnDeliveries(Items({Item(2, "hang", 1, 30000), Item(3, "hang", 1, 30000)}));
  co_await runtime::Sleep(200ms);
  h.consumer.OnDeliveries(Items({Item(4, "hang", 1, 30000), Item(5, "ok")}));
  co_await runtime::Sleep(50ms);  // 350 ms since the first; 5 was acked at once
  WorkerStatus s;
  const runtime::TimePoint now = runtime::Loop::Current()->Now();
  h.consumer.Report(now, s);
  EXPECT_EQ(s.in_flight, 4u);
  EXPECT_EQ(s.totals.received, 5u);
  EXPECT_EQ(s.totals.acked, 1u);
  EXPECT_EQ(s.handler_seconds[0].count, 1u);  // the acked one
  EXPECT_EQ(s.lease_extensions, h.consumer.keeper().extensions_sent());
  EXPECT_EQ(s.tasks.size(), 4u);
  EXPECT_EQ(At(s.tasks, 0).lease_id, 1u);
  EXPECT_EQ(At(s.tasks, 0).id, "m-1");
  EXPECT_EQ(At(s.tasks, 0).running, 350ms);
  const std::set<std::uint64_t> middle{At(s.tasks, 1).lease_id, At(s.tasks, 2).lease_id};
  EXPECT_EQ(middle, (std::set<std::uint64_t>{2, 3}));
  EXPECT_EQ(At(s.tasks, 1).running, 250ms);
  EXPECT_EQ(At(s.tasks, 2).running, 250ms);
  EXPECT_EQ(At(s.tasks, 3).lease_id, 4u);
  EXPECT_EQ(At(s.tasks, 3).running, 50ms);
  // A later `now` ages every task by the same amount.
  WorkerStatus later;
  h.consumer.Report(now + 1s, later);
  EXPECT_EQ(At(later.tasks, 0).running, 1350ms);
  // A lost lease is no longer ours to report.
  h.consumer.OnLeasesLost({1});
  WorkerStatus after;
  h.consumer.Report(now, after);
  EXPECT_EQ(after.in_flight, 3u);
  EXPECT_EQ(after.tasks.size(), 3u);
  for (const auto& t : after.tasks) EXPECT_NE(t.lease_id, 1u);
  co_await h.Finish();
}
TEST(ConsumerTimingTest, ReportListsRunningTasksLongestFirst) {
  RunVirtual(ReportListsLongestFirst());
}

runtime::Task<void> ReportIsCapped() {
  Harness h;
  const std::size_t n = protocol::kMaxTaskReports + 6;
  for (std::size_t i = 1; i <= n; ++i) {
    h.consumer.OnDeliveries(Items({Item(i, "hang", 1, 600000)}));
    co_await runtime::Sleep(10ms);
  }
  WorkerStatus s;
  h.consumer.Report(runtime::Loop::Current()->Now(), s);
  EXPECT_EQ(s.in_flight, n);
  EXPECT_EQ(s.tasks.size(), protocol::kMaxTaskReports);
  // The longest-running ones (the first delivered), in order.
  for (std::size_t i = 0; i < s.tasks.size(); ++i) {
    EXPECT_EQ(s.tasks[i].lease_id, i + 1) << i;
    if (i > 0) {
      EXPECT_GT(s.tasks[i - 1].running, s.tasks[i].running) << i;
    }
  }
  co_await h.Finish();
}
TEST(ConsumerTimingTest, ReportKeepsTheLongestRunningUpToTheCap) { RunVirtual(ReportIsCapped()); }

runtime::Task<void> ReporterPublishes() {
  Harness h;
  metrics::SnapshotSlot<WorkerStatus> slot;
  StatusReporter reporter(StatusOptions{}, h.consumer, slot);
  const runtime::TimePoint t0 = runtime::Loop::Current()->Now();
  EXPECT_EQ(slot.Get(), nullptr);
  reporter.Start();
  {
    auto first = slot.Get();
    EXPECT_NE(first, nullptr);
    if (first) {
      EXPECT_EQ(first->taken_at, t0);
      EXPECT_EQ(first->in_flight, 0u);
      EXPECT_TRUE(first->tasks.empty());
    }
  }
  h.consumer.OnDeliveries(Items({Item(1, "hang", 1, 30000)}));
  co_await runtime::Sleep(1050ms);
  auto second = slot.Get();
  EXPECT_NE(second, nullptr);
  if (second) {
    EXPECT_EQ(second->taken_at, t0 + 1s);  // every interval (1 s)
    EXPECT_EQ(second->in_flight, 1u);
    EXPECT_EQ(At(second->tasks, 0).lease_id, 1u);
    EXPECT_EQ(At(second->tasks, 0).running, 1s);
    EXPECT_EQ(second->loop_lag.bounds.data(), metrics::LatencyBounds().data());
  }
  // Probed every 100 ms; on the virtual clock the loop is never late.
  const auto& lag = reporter.loop_lag();
  EXPECT_EQ(lag.count, 10u);
  EXPECT_EQ(At(lag.counts, 0), 10u);
  EXPECT_EQ(lag.sum, 0);
  reporter.Publish();  // on demand too
  auto third = slot.Get();
  EXPECT_NE(third, nullptr);
  if (third) {
    EXPECT_EQ(third->taken_at, t0 + 1050ms);
    EXPECT_EQ(third->loop_lag.count, 10u);
  }
  co_await h.Finish();
}
TEST(StatusReporterTest, PublishesAtStartThenEveryIntervalWithTheLoopLag) {
  RunVirtual(ReporterPublishes());
}

}  // namespace
}  // namespace mandrill::worker::testing
