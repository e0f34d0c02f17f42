// Drain: credit goes to 0 at once, in-flight handlers finish within the grace while their
// leases keep being extended, what is left is nacked with delay 0, and late deliveries are
// nacked at once.
#include <gtest/gtest.h>

#include "tests/unit/worker/consumer_harness.h"

namespace mandrill::worker::testing {
namespace {

using Sent = RecordingOutbox::Sent;
using Times = std::vector<long long>;

runtime::Task<void> WithinGrace() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "sleep:2500"), Item(2, "sleep:4500")}));
  co_await runtime::Sleep(1s);
  h.consumer.Stop(10s);
  co_await h.sup.Join();  // Consumer::Run returned: every message settled
  EXPECT_EQ(h.Now(), 4500);
  const auto credits = h.out.Of(Sent::kCredit);
  EXPECT_EQ(credits.size(), 1u);
  EXPECT_EQ(At(credits, 0).value, 0u);
  EXPECT_EQ(At(credits, 0).at_ms, 1000);
  EXPECT_EQ(h.out.Acks().size(), 2u);
  EXPECT_TRUE(h.out.Nacks().empty());
  EXPECT_EQ(h.out.ExtendTimes(2), (Times{2000, 4000}));  // kept alive while draining
  EXPECT_GE(h.out.flushes, 1);
  EXPECT_EQ(h.consumer.totals().acked, 2u);
}
TEST(ConsumerDrainTest, HandlersFinishingWithinTheGraceAreAcked) { RunVirtual(WithinGrace()); }

runtime::Task<void> PastGrace() {
  Harness h;
  h.consumer.OnDeliveries(
      Items({Item(1, "sleep:2000"), Item(2, "hang", /*attempt=*/3), Item(3, "swallow")}));
  co_await runtime::Sleep(1s);
  h.consumer.Stop(5500ms);
  co_await h.sup.Join();
  EXPECT_EQ(h.Now(), 6500);
  EXPECT_EQ(h.out.Acks().size(), 1u);
  const auto nacks = h.out.Nacks();
  EXPECT_EQ(nacks.size(), 2u);
  for (const auto& n : nacks) {
    EXPECT_EQ(n.at_ms, 6500);
    EXPECT_EQ(n.value, 0u) << "shutdown nacks are for immediate redelivery";
    EXPECT_EQ(n.reason, "worker shutting down");
  }
  EXPECT_EQ(h.out.ExtendTimes(2), (Times{2000, 4000, 6000}));  // kept alive to the end
  EXPECT_EQ(h.consumer.totals().nacked_shutdown, 2u);
}
TEST(ConsumerDrainTest, HandlersStillRunningAtTheEndOfTheGraceAreNackedWithDelayZero) {
  RunVirtual(PastGrace());
}

runtime::Task<void> StopNow() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang"), Item(2, "hang")}));
  co_await runtime::Sleep(1s);
  h.consumer.Stop(runtime::Duration::zero());
  co_await h.sup.Join();
  EXPECT_EQ(h.Now(), 1000);
  EXPECT_EQ(h.out.Nacks().size(), 2u);
  EXPECT_EQ(h.consumer.totals().nacked_shutdown, 2u);
}
TEST(ConsumerDrainTest, StopWithoutGraceNacksEverythingAtOnce) { RunVirtual(StopNow()); }

runtime::Task<void> SecondStop() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang")}));
  h.consumer.Stop(30s);
  co_await runtime::Sleep(2s);
  h.consumer.Stop(runtime::Duration::zero());  // the second signal
  co_await h.sup.Join();
  EXPECT_EQ(h.Now(), 2000);
  EXPECT_EQ(At(h.out.Nacks(), 0).at_ms, 2000);
}
TEST(ConsumerDrainTest, SecondStopCutsTheGraceShort) { RunVirtual(SecondStop()); }

runtime::Task<void> LateDelivery() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "sleep:3000")}));
  h.consumer.Stop(10s);
  co_await runtime::Sleep(1s);
  // Sent by the broker before it saw CREDIT 0.
  h.consumer.OnDeliveries(Items({Item(2, "ok")}));
  EXPECT_EQ(At(h.out.Nacks(), 0).lease, 2u);
  EXPECT_EQ(At(h.out.Nacks(), 0).value, 0u);
  EXPECT_EQ(h.handler.started, 1);
  co_await h.sup.Join();
  EXPECT_EQ(h.out.Acks().size(), 1u);
  EXPECT_EQ(h.consumer.totals().refused_draining, 1u);
}
TEST(ConsumerDrainTest, DeliveriesArrivingWhileDrainingAreNackedAtOnce) {
  RunVirtual(LateDelivery());
}

runtime::Task<void> IdleStop() {
  Harness h;
  h.consumer.Stop(30s);
  co_await h.sup.Join();
  EXPECT_EQ(h.Now(), 0);
}
TEST(ConsumerDrainTest, IdleWorkerStopsAtOnce) { RunVirtual(IdleStop()); }

}  // namespace
}  // namespace mandrill::worker::testing
