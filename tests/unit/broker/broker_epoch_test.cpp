// Fencing epochs (issue 14): the broker takes its epoch from Storage::Open, announces it in
// WELCOME and STATS, puts it in every lease id, and answers an ACK/EXTEND/NACK of another
// epoch's lease LEASE_LOST, counting it apart (broker.stale_epoch_leases).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class BrokerEpochTest : public BrokerHarness {
 protected:
  BrokerEpochTest() {
    options_.heartbeat = 60s;  // no heartbeats or timeouts while the test runs
    storage_.set_epoch(42);
  }
  void StartWithWorker() {
    Start();
    ReadyAndPass("w1", 4);
    transport_.Clear();
  }
  protocol::DeliverItem DeliverOne(const std::string& id) {
    Publish({id});
    Pass();
    auto items = TakeDeliveries("w1");
    EXPECT_EQ(items.size(), 1u);
    return items.empty() ? protocol::DeliverItem{} : items[0];
  }
  // The id `lease` would have had, random bits and all, had epoch `epoch` issued it.
  static std::uint64_t InEpoch(std::uint64_t lease, std::uint64_t epoch) {
    return (epoch << LeaseIds::kRandomBits) | (lease & LeaseIds::kRandomMask);
  }
  protocol::Error OnlyError(const std::string& peer) {
    const auto errors = Errors(peer);
    EXPECT_EQ(errors.size(), 1u);
    return errors.empty() ? protocol::Error{} : errors[0];
  }
};

TEST_F(BrokerEpochTest, WelcomeAndStatsCarryTheStorageEpoch) {
  Start();
  EXPECT_EQ(storage_.open_calls(), 1);
  EXPECT_EQ(broker().epoch(), 42u);
  Ready("w1", 1);
  Pass();
  const auto welcomes = transport_.To<protocol::Welcome>("w1");
  ASSERT_EQ(welcomes.size(), 1u);
  EXPECT_EQ(welcomes[0].epoch, 42u);
  EXPECT_EQ(Counter("broker.epoch"), 42);
  EXPECT_EQ(Counter("broker.stale_epoch_leases"), 0);
}

TEST_F(BrokerEpochTest, OpenBeforeRecoverIsNotRepeatedByRecover) {
  // The reactor opens (locks, advances the epoch) before it binds, then recovers.
  broker_ = std::make_unique<Broker>(options_, storage_, clock_, transport_);
  auto epoch = broker_->Open();
  ASSERT_TRUE(epoch.ok()) << epoch.error().message;
  EXPECT_EQ(*epoch, 42u);
  ASSERT_TRUE(broker_->Recover().ok());
  EXPECT_EQ(storage_.open_calls(), 1);
  EXPECT_EQ(storage_.recover_calls(), 1);
}

TEST_F(BrokerEpochTest, LeaseIdsCarryTheEpoch) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  EXPECT_EQ(item.lease_id >> LeaseIds::kRandomBits, 42u);
}

TEST_F(BrokerEpochTest, AckOfAnotherEpochsLeaseIsLeaseLostAndCountedAsStale) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  const std::uint64_t old = InEpoch(item.lease_id, 41);
  Ack("w1", {old});
  Pass();
  const auto e = OnlyError("w1");
  EXPECT_EQ(e.code, ErrorCode::kLeaseLost);
  EXPECT_EQ(e.answers, static_cast<std::uint8_t>(Command::kAck));
  EXPECT_THAT(e.leases, ElementsAre(old));
  EXPECT_THAT(e.reason, HasSubstr("epoch 42"));
  EXPECT_EQ(Counter("broker.lease_lost"), 1);
  EXPECT_EQ(Counter("broker.stale_epoch_leases"), 1);
  // Nothing was taken: the message is still leased under its real id, which still acks it.
  EXPECT_EQ(QueueStats().acked, 0u);
  EXPECT_EQ(QueueStats().in_flight, 1u);
  transport_.Clear();
  Ack("w1", {item.lease_id});
  Pass();
  EXPECT_TRUE(Errors("w1").empty());
  EXPECT_EQ(QueueStats().acked, 1u);
}

TEST_F(BrokerEpochTest, ExtendAndNackOfAnotherEpochsLeaseAreLeaseLostToo) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  Extend("w1", 5'000, {InEpoch(item.lease_id, 7)});
  Nack("w1", InEpoch(item.lease_id, 43), 0);
  Pass();
  const auto errors = Errors("w1");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].answers, static_cast<std::uint8_t>(Command::kExtend));
  EXPECT_EQ(errors[1].answers, static_cast<std::uint8_t>(Command::kNack));
  for (const auto& e : errors) EXPECT_EQ(e.code, ErrorCode::kLeaseLost);
  EXPECT_TRUE(transport_.To<protocol::Extended>("w1").empty());
  EXPECT_EQ(Counter("broker.stale_epoch_leases"), 2);
  EXPECT_EQ(QueueStats().in_flight, 1u);
  EXPECT_EQ(QueueStats().nacked, 0u);
}

TEST_F(BrokerEpochTest, OnlyLeasesOfAnotherEpochCountAsStale) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  const std::uint64_t unknown_here = InEpoch(item.lease_id + 1, 42);  // this epoch, never issued
  Ack("w1", {unknown_here, InEpoch(item.lease_id, 40)});
  Pass();
  const auto e = OnlyError("w1");
  EXPECT_EQ(e.leases.size(), 2u);
  EXPECT_THAT(e.reason, HasSubstr("expired"));  // the general reason: not all are stale
  EXPECT_EQ(Counter("broker.lease_lost"), 2);
  EXPECT_EQ(Counter("broker.stale_epoch_leases"), 1);
}

// The restart itself: broker run 1 (epoch 1) leases a message; run 2 (epoch 2) recovers it from
// storage and redelivers it; the worker's ack of run 1's lease is LEASE_LOST and counted stale.
TEST_F(BrokerEpochTest, AfterARestartTheOldRunsLeaseIsLostAndTheMessageRedelivered) {
  storage_.set_epoch(1);
  StartWithWorker();
  const auto first = DeliverOne("a");
  ASSERT_EQ(first.lease_id >> LeaseIds::kRandomBits, 1u);

  Recovered r;
  RecoveredMessage m;
  m.publish = PublishRecord{1, kQueue, "a", "payload of a", {}, clock_.WallMs()};
  m.attempts = 1;
  r.messages.push_back(m);
  r.max_seq = 1;
  storage_.set_recovered(r);
  storage_.set_epoch(2);
  Start();  // a new Broker on the same storage: the restart
  ReadyAndPass("w1", 4);
  const auto again = TakeDeliveries("w1");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, "a");
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(again[0].lease_id >> LeaseIds::kRandomBits, 2u);

  Ack("w1", {first.lease_id});
  Pass();
  const auto e = OnlyError("w1");
  EXPECT_EQ(e.code, ErrorCode::kLeaseLost);
  EXPECT_THAT(e.leases, ElementsAre(first.lease_id));
  EXPECT_EQ(Counter("broker.stale_epoch_leases"), 1);
  EXPECT_EQ(QueueStats().in_flight, 1u) << "the old ack did not settle the redelivery";
}

}  // namespace
}  // namespace mandrill::broker::testkit
