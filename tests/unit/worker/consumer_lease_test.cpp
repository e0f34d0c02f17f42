// The lease keeper extends every live lease before its deadline and stops the moment its task
// ends, however it ends; a lost lease cancels the task and sends nothing.
#include <gtest/gtest.h>

#include "tests/unit/worker/consumer_harness.h"

namespace mandrill::worker::testing {
namespace {

using Times = std::vector<long long>;

// Leases of 3 s (WELCOME and DELIVER): extended a third before each deadline, i.e. at 2 s and
// then every 2 s, each time to now + 3 s.
runtime::Task<void> ExtendsUntilSuccess() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "sleep:9000")}));
  co_await h.out.WaitSettled(1);
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{2000, 4000, 6000, 8000}));
  for (const auto& e : h.out.Extends()) EXPECT_EQ(e.value, 3000u);
  EXPECT_EQ(At(h.out.Acks(), 0).at_ms, 9000);
  co_await runtime::Sleep(20s);  // nothing after the task ended
  EXPECT_EQ(h.out.Extends().size(), 4u);
  EXPECT_EQ(h.consumer.keeper().size(), 0u);
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, LeaseIsExtendedBeforeEachDeadlineUntilTheHandlerReturns) {
  RunVirtual(ExtendsUntilSuccess());
}

runtime::Task<void> StopsOnException() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "sleep-throw:5000:boom")}));
  co_await h.out.WaitSettled(1);
  co_await runtime::Sleep(20s);
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{2000, 4000}));
  EXPECT_EQ(At(h.out.Nacks(), 0).at_ms, 5000);
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, KeeperStopsWhenTheHandlerThrows) { RunVirtual(StopsOnException()); }

runtime::Task<void> StopsOnTimeout() {
  auto o = TestOptions();
  o.handler_timeout = 5s;
  Harness h(o);
  h.consumer.OnDeliveries(Items({Item(1, "hang")}));
  co_await h.out.WaitSettled(1);
  co_await runtime::Sleep(20s);
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{2000, 4000}));
  EXPECT_EQ(At(h.out.Nacks(), 0).reason, "timeout");
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, KeeperStopsWhenTheHandlerTimesOut) { RunVirtual(StopsOnTimeout()); }

runtime::Task<void> LostLeaseCancels() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang"), Item(2, "swallow"), Item(3, "sleep:4500")}));
  co_await runtime::Sleep(2500ms);
  h.consumer.OnLeasesLost({1, 2});
  co_await h.out.WaitSettled(1);  // message 3 finishes at 4.5 s
  co_await runtime::Sleep(20s);
  EXPECT_EQ(h.out.Settled(), 1u);
  EXPECT_EQ(At(h.out.Acks(), 0).lease, 3u);  // nothing at all for 1 and 2
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{2000}));  // none after the loss
  EXPECT_EQ(h.out.ExtendTimes(2), (Times{2000}));
  EXPECT_EQ(h.out.ExtendTimes(3), (Times{2000, 4000}));
  EXPECT_EQ(h.handler.swallowed, 1);  // returned normally after the loss: still no ACK
  EXPECT_EQ(h.consumer.totals().lease_lost, 2u);
  EXPECT_EQ(h.consumer.in_flight(), 0u);
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, LostLeaseCancelsTheHandlerAndSendsNothing) {
  RunVirtual(LostLeaseCancels());
}

runtime::Task<void> BrokerRestart() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang"), Item(2, "hang")}));
  co_await runtime::Sleep(1s);
  h.consumer.OnWelcome(WelcomeFrom("broker-2"));  // a new broker: every old lease is gone
  h.consumer.OnDeliveries(Items({Item(1, "ok", /*attempt=*/2)}));  // lease ids start over
  co_await h.out.WaitSettled(1);
  co_await runtime::Sleep(10s);
  EXPECT_EQ(h.out.Settled(), 1u);
  EXPECT_EQ(At(h.out.Acks(), 0).at_ms, 1000);
  EXPECT_TRUE(h.out.Extends().empty());
  EXPECT_EQ(h.consumer.totals().lease_lost, 2u);
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, BrokerRestartCancelsEveryHandlerOfTheOldBroker) {
  RunVirtual(BrokerRestart());
}

runtime::Task<void> SameBrokerAgain() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang"), Item(2, "hang")}));
  co_await runtime::Sleep(500ms);
  h.consumer.OnWelcome(WelcomeFrom("broker-1"));  // re-announced after a reconnect
  co_await runtime::Sleep(1ms);
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{500}));
  EXPECT_EQ(h.out.ExtendTimes(2), (Times{500}));
  h.consumer.OnLeasesLost({2});  // the broker had released it
  co_await runtime::Sleep(3s);
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{500, 2500}));
  EXPECT_EQ(h.out.ExtendTimes(2), (Times{500}));
  EXPECT_EQ(h.consumer.totals().lease_lost, 1u);
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, ReannouncingToTheSameBrokerExtendsEveryLeaseAtOnce) {
  RunVirtual(SameBrokerAgain());
}

runtime::Task<void> SessionLost() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang"), Item(2, "sleep:100")}));
  co_await runtime::Sleep(50ms);
  h.consumer.OnSessionLost("the broker declared this worker dead");
  co_await runtime::Sleep(1s);
  EXPECT_EQ(h.out.Settled(), 0u);
  EXPECT_EQ(h.consumer.totals().lease_lost, 2u);
  EXPECT_EQ(h.consumer.in_flight(), 0u);
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, SessionLostCancelsEverythingAndSendsNothing) {
  RunVirtual(SessionLost());
}

runtime::Task<void> CappedLease() {
  Harness h;
  h.consumer.OnDeliveries(Items({Item(1, "hang")}));
  co_await runtime::Sleep(2001ms);
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{2000}));
  // The broker's max lease allowed only 1.2 s more (asked 3 s): next try at the deadline.
  h.consumer.OnExtended({protocol::ExtendedItem{1, 1200}});
  co_await runtime::Sleep(1300ms);
  EXPECT_EQ(h.out.ExtendTimes(1), (Times{2000, 3201}));
  EXPECT_EQ(h.consumer.keeper().capped_leases(), 1u);
  h.consumer.OnLeasesLost({1});  // the answer at the deadline
  co_await runtime::Sleep(10s);
  EXPECT_EQ(h.out.ExtendTimes(1).size(), 2u);
  EXPECT_EQ(h.out.Settled(), 0u);
  co_await h.Finish();
}
TEST(ConsumerLeaseTest, LeaseCappedByTheMaxLeaseIsProbedAtItsDeadline) {
  RunVirtual(CappedLease());
}

}  // namespace
}  // namespace mandrill::worker::testing
