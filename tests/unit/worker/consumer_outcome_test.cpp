// Outcomes map to ACK/NACK with the right reason and delay, and every outcome is counted.
#include <gtest/gtest.h>

#include "tests/unit/worker/consumer_harness.h"

namespace mandrill::worker::testing {
namespace {

using Sent = RecordingOutbox::Sent;

runtime::Task<void> SuccessIsAcked() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "ok"), Item(2, "sleep:700")}));
  co_await h.out.WaitSettled(2);
  const auto acks = h.out.Acks();
  EXPECT_EQ(acks.size(), 2u);
  EXPECT_EQ(At(acks, 0).lease, 1u);
  EXPECT_EQ(At(acks, 0).at_ms, 0);
  EXPECT_EQ(At(acks, 1).lease, 2u);
  EXPECT_EQ(At(acks, 1).at_ms, 700);
  EXPECT_TRUE(h.out.Nacks().empty());
  EXPECT_EQ(h.consumer.totals().received, 2u);
  EXPECT_EQ(h.consumer.totals().acked, 2u);
  EXPECT_EQ(h.consumer.in_flight(), 0u);
  co_await h.Finish();
}
TEST(ConsumerOutcomeTest, HandlerReturningIsAcked) { RunVirtual(SuccessIsAcked()); }

runtime::Task<void> ExceptionIsNacked() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "throw:disk on fire", /*attempt=*/1),
                                 Item(2, "sleep-throw:100:still on fire", /*attempt=*/3)}));
  co_await h.out.WaitSettled(2);
  const auto nacks = h.out.Nacks();
  EXPECT_EQ(nacks.size(), 2u);
  EXPECT_EQ(At(nacks, 0).lease, 1u);
  EXPECT_EQ(At(nacks, 0).reason, "disk on fire");
  EXPECT_EQ(At(nacks, 0).value, 500u);  // attempt 1: the initial delay
  EXPECT_EQ(At(nacks, 1).lease, 2u);
  EXPECT_EQ(At(nacks, 1).reason, "still on fire");
  EXPECT_EQ(At(nacks, 1).value, 2000u);  // attempt 3: 500 * 2^2
  EXPECT_EQ(At(nacks, 1).at_ms, 100);
  EXPECT_TRUE(h.out.Acks().empty());
  EXPECT_EQ(h.consumer.totals().nacked_error, 2u);
  co_await h.Finish();
}
TEST(ConsumerOutcomeTest, ExceptionIsNackedWithItsTextAndAnAttemptBasedDelay) {
  RunVirtual(ExceptionIsNacked());
}

TEST(ConsumerOutcomeTest, RetryDelayDoublesPerAttemptUpToTheCap) {
  EXPECT_EQ(RetryDelayMs(1, 500ms, 60s), 500u);
  EXPECT_EQ(RetryDelayMs(2, 500ms, 60s), 1000u);
  EXPECT_EQ(RetryDelayMs(5, 500ms, 60s), 8000u);
  EXPECT_EQ(RetryDelayMs(9, 500ms, 60s), 60000u);
  EXPECT_EQ(RetryDelayMs(1000, 500ms, 60s), 60000u);
  EXPECT_EQ(RetryDelayMs(0, 500ms, 60s), 500u);
}

runtime::Task<void> TimeoutIsNacked() {
  auto o = TestOptions();
  o.handler_timeout = 2s;
  Harness h(o);
  h.consumer.OnDeliveries(Items({Item(1, "hang", /*attempt=*/2, /*lease_ms=*/30000)}));
  co_await h.out.WaitSettled(1);
  const auto nacks = h.out.Nacks();
  EXPECT_EQ(nacks.size(), 1u);
  EXPECT_EQ(At(nacks, 0).reason, "timeout");
  EXPECT_EQ(At(nacks, 0).at_ms, 2000);
  EXPECT_EQ(At(nacks, 0).value, 1000u);  // attempt 2
  EXPECT_EQ(h.consumer.totals().nacked_timeout, 1u);
  EXPECT_EQ(h.consumer.totals().nacked_error, 0u);
  co_await h.Finish();
}
TEST(ConsumerOutcomeTest, HandlerRunningPastTheTimeoutIsNackedTimeout) {
  RunVirtual(TimeoutIsNacked());
}

runtime::Task<void> SubtaskFailure() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "spawn-fail:300:ledger unavailable")}));
  co_await h.out.WaitSettled(1);
  const auto nacks = h.out.Nacks();
  EXPECT_EQ(nacks.size(), 1u);
  EXPECT_EQ(At(nacks, 0).reason, "ledger unavailable");
  EXPECT_EQ(At(nacks, 0).at_ms, 300);
  EXPECT_EQ(h.handler.subtask_cancelled, 1);  // the sibling was cancelled, not left running
  co_await h.Finish();
}
TEST(ConsumerOutcomeTest, FailingSubtaskCancelsItsSiblingAndNacks) {
  RunVirtual(SubtaskFailure());
}

runtime::Task<void> EveryOutcomeCounted() {
  auto o = TestOptions();
  o.handler_timeout = 1s;
  Harness h(o);
  h.consumer.OnDeliveries(Items({Item(1, "ok"), Item(2, "throw:x"), Item(3, "hang"),
                                 Item(4, "hang")}));
  co_await runtime::Sleep(100ms);
  h.consumer.OnLeasesLost({4, 99});  // 4 is running; 99 is unknown (settled long ago)
  co_await h.out.WaitSettled(3);
  const auto& t = h.consumer.totals();
  EXPECT_EQ(t.received, 4u);
  EXPECT_EQ(t.acked, 1u);
  EXPECT_EQ(t.nacked_error, 1u);
  EXPECT_EQ(t.nacked_timeout, 1u);
  EXPECT_EQ(t.lease_lost, 1u);
  EXPECT_EQ(t.lost_after_settle, 1u);
  EXPECT_EQ(t.nacked_shutdown, 0u);
  EXPECT_EQ(h.out.Settled(), 3u);  // nothing for the lost lease
  co_await h.Finish();
  EXPECT_NE(t.Summary().find("lease lost 1"), std::string::npos) << t.Summary();
}
TEST(ConsumerOutcomeTest, EveryOutcomeIsCounted) { RunVirtual(EveryOutcomeCounted()); }

}  // namespace
}  // namespace mandrill::worker::testing
