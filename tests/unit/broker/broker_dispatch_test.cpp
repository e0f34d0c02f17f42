// Dispatch: hungry workers take turns, and a message a worker let go (lease expired, nack,
// disconnect) goes to another worker with free credit first — issue 10: a stuck worker got its
// own expired work back in 6 runs of 9, and once dead-lettered all of it while another was idle.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

class BrokerDispatchTest : public BrokerHarness {
 protected:
  BrokerDispatchTest() {
    options_.heartbeat = 600s;
    options_.lease = 10s;
    options_.max_lease = 30s;
  }
};

TEST_F(BrokerDispatchTest, HungryWorkersTakeTurnsMessageByMessage) {
  Start();
  ReadyAndPass("w1", 10);
  ReadyAndPass("w2", 10);
  transport_.Clear();
  Publish({"a", "b", "c", "d"});
  Pass();
  const auto one = Ids(transport_.Deliveries("w1"));
  const auto two = Ids(transport_.Deliveries("w2"));
  EXPECT_EQ(one.size(), 2u);
  EXPECT_EQ(two.size(), 2u) << "a short backlog is spread, not all to the first worker";
}

TEST_F(BrokerDispatchTest, AnExpiredMessageGoesToAnotherWorkerWithCredit) {
  Start();
  ReadyAndPass("stuck", 4);
  Publish({"a"});
  Pass();
  ASSERT_EQ(Ids(TakeDeliveries("stuck")), (std::vector<std::string>{"a"}));
  ReadyAndPass("idle", 4);
  transport_.Clear();
  Advance(10s);  // the stuck worker's lease expires; it still has free credit
  Pass();
  EXPECT_THAT(transport_.Deliveries("stuck"), ::testing::IsEmpty());
  const auto items = transport_.Deliveries("idle");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].id, "a");
  EXPECT_EQ(items[0].attempt, 2u);
  EXPECT_EQ(Counter("broker.redelivered_elsewhere"), 1);
}

TEST_F(BrokerDispatchTest, ANackedMessageGoesToAnotherWorkerAndBackOnlyIfNoneElseIsHungry) {
  Start();
  ReadyAndPass("w1", 4);
  Publish({"a"});
  Pass();
  auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  ReadyAndPass("w2", 4);
  transport_.Clear();
  Nack("w1", items[0].lease_id, 0, "try elsewhere");
  Pass();
  items = TakeDeliveries("w2");
  ASSERT_EQ(items.size(), 1u) << "w2 gets it, though w1 is first in line";
  Nack("w2", items[0].lease_id, 0, "also failed");
  Credit("w1", 0);  // w1 takes nothing now: w2 is the only hungry worker
  Pass();
  EXPECT_EQ(TakeDeliveries("w2").size(), 1u) << "preferred elsewhere, not withheld";
}

TEST_F(BrokerDispatchTest, AStuckWorkerNeverDeadLettersWorkWhileAnotherIsIdle) {
  // The scenario of issue 10: five messages, a worker whose handler hangs (it never acks but
  // keeps credit), an idle one. Every message must end up acked by the idle worker, none dead.
  options_.max_deliveries = 5;
  Start();
  ReadyAndPass("stuck", 16);
  Publish({"a", "b", "c", "d", "e"});
  Pass();
  ASSERT_EQ(TakeDeliveries("stuck").size(), 5u);
  ReadyAndPass("idle", 16);
  transport_.Clear();
  std::vector<std::string> acked;
  for (int round = 0; round < 6 && acked.size() < 5; ++round) {
    Advance(10s);
    Pass();
    const auto items = TakeDeliveries("idle");
    std::vector<std::uint64_t> leases;
    for (const auto& i : items) {
      acked.push_back(i.id);
      leases.push_back(i.lease_id);
    }
    Ack("idle", leases);
    Pass();
  }
  std::sort(acked.begin(), acked.end());
  EXPECT_EQ(acked, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(QueueStats().dead, 0u);
  EXPECT_EQ(QueueStats().acked, 5u);
}

TEST_F(BrokerDispatchTest, MessagesOfAWorkerThatLeftGoToTheOthers) {
  Start();
  ReadyAndPass("w1", 2);
  Publish({"a", "b"});
  Pass();
  ASSERT_EQ(TakeDeliveries("w1").size(), 2u);
  ReadyAndPass("w2", 2);
  transport_.Clear();
  Send("w1", protocol::Disconnect{"bye"});
  Pass();
  EXPECT_EQ(Ids(transport_.Deliveries("w2")), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace mandrill::broker::testkit
