// Leases: expiry, EXTEND, ACK/NACK, lease lost, retries and dead-lettering.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class BrokerLeaseTest : public BrokerHarness {
 protected:
  BrokerLeaseTest() {
    // Heartbeats far apart, so lease deadlines are the broker's next wake-ups and a silent
    // worker is not timed out while the clock moves by seconds.
    options_.heartbeat = 60s;
    options_.lease = 10s;
    options_.max_lease = 30s;
  }
  // Starts the broker with options_ and registers worker w1 with `credit`.
  void StartWithWorker(std::uint32_t credit = 1) {
    Start();
    ReadyAndPass("w1", credit);
    transport_.Clear();
    t0_ = clock_.Now();
  }
  // Publishes `id` and returns its first delivery to w1 (which must have free credit).
  protocol::DeliverItem DeliverOne(const std::string& id) {
    Publish({id});
    Pass();
    auto items = TakeDeliveries("w1");
    EXPECT_EQ(items.size(), 1u);
    return items.empty() ? protocol::DeliverItem{} : items[0];
  }
  std::vector<protocol::Error> LeaseLostErrors(const std::string& peer, Command answering) {
    std::vector<protocol::Error> out;
    for (const auto& e : Errors(peer)) {
      EXPECT_EQ(e.code, ErrorCode::kLeaseLost);
      EXPECT_EQ(e.answers, static_cast<std::uint8_t>(answering));
      out.push_back(e);
    }
    return out;
  }

  core::SteadyTime t0_;
};

TEST_F(BrokerLeaseTest, DeliveryCarriesAFreshLeaseWithTheQueueLeaseTime) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  EXPECT_EQ(item.id, "a");
  EXPECT_EQ(item.attempt, 1u);
  EXPECT_EQ(item.lease_ms, 10'000u);
  EXPECT_EQ(item.deadline_unix_ms, clock_.WallMs() + 10'000);
  EXPECT_NE(item.lease_id, 0u);
  EXPECT_EQ(broker().lease_count(), 1u);
  const auto delivers = storage_.RecordsOf<DeliverRecord>();
  ASSERT_EQ(delivers.size(), 1u);
  EXPECT_EQ(delivers[0].attempt, 1u);
}

TEST_F(BrokerLeaseTest, NextWakeupIsTheEarliestLeaseDeadline) {
  StartWithWorker(2);
  const auto a = DeliverOne("a");
  Advance(3s);
  DeliverOne("b");
  EXPECT_EQ(broker().NextWakeup(), t0_ + 10s);
  Ack("w1", {a.lease_id});
  Pass();
  EXPECT_EQ(broker().NextWakeup(), t0_ + 13s) << "the next lease once the first is gone";
}

TEST_F(BrokerLeaseTest, LeaseExpiresExactlyAtItsDeadlineAndIsRedeliveredWithTheNextAttempt) {
  StartWithWorker();
  const auto first = DeliverOne("a");
  EXPECT_EQ(broker().NextWakeup(), t0_ + 10s);

  Advance(10s - 1ms);
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty()) << "not before the deadline";
  EXPECT_EQ(QueueStats().expired, 0u);

  Advance(1ms);
  Pass();
  const auto again = TakeDeliveries("w1");
  ASSERT_EQ(again.size(), 1u) << "expired at exactly the deadline, redelivered in the same pass";
  EXPECT_EQ(again[0].id, "a");
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_NE(again[0].lease_id, first.lease_id);
  EXPECT_EQ(QueueStats().expired, 1u);
  EXPECT_EQ(QueueStats().redelivered, 1u);
  EXPECT_EQ(broker().NextWakeup(), t0_ + 20s);

  // The old lease can no longer settle the message.
  Ack("w1", {first.lease_id});
  Pass();
  const auto lost = LeaseLostErrors("w1", Command::kAck);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_THAT(lost[0].leases, ElementsAre(first.lease_id));
  EXPECT_EQ(QueueStats().acked, 0u);
  EXPECT_EQ(QueueStats().in_flight, 1u);
}

TEST_F(BrokerLeaseTest, ExtendMovesTheDeadlineAndAnswersTheTimeLeft) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  Advance(5s);
  Extend("w1", 20'000, {item.lease_id});
  Pass();
  const auto extended = transport_.To<protocol::Extended>("w1");
  ASSERT_EQ(extended.size(), 1u);
  ASSERT_EQ(extended[0].items.size(), 1u);
  EXPECT_EQ(extended[0].items[0].lease_id, item.lease_id);
  EXPECT_EQ(extended[0].items[0].lease_ms, 20'000u);
  EXPECT_EQ(broker().NextWakeup(), t0_ + 25s);
  transport_.Clear();

  Advance(10s);  // t0 + 15s: past the original deadline
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  EXPECT_EQ(QueueStats().expired, 0u);
  Advance(10s);  // t0 + 25s: the extended deadline
  Pass();
  EXPECT_EQ(QueueStats().expired, 1u);
}

TEST_F(BrokerLeaseTest, ExtendIsCappedAtLeaseStartPlusMaxLease) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  Advance(14s);
  Extend("w1", 60'000, {item.lease_id});
  Pass();
  const auto extended = transport_.To<protocol::Extended>("w1");
  ASSERT_EQ(extended.size(), 1u);
  EXPECT_EQ(extended[0].items[0].lease_ms, 16'000u) << "start + 30 s - now";
  EXPECT_EQ(broker().NextWakeup(), t0_ + 30s);

  Advance(15s);
  Extend("w1", 60'000, {item.lease_id});
  Pass();
  const auto again = transport_.To<protocol::Extended>("w1");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[1].items[0].lease_ms, 1'000u) << "extending never passes the cap";
  Advance(1s);
  Pass();
  EXPECT_EQ(QueueStats().expired, 1u);
}

TEST_F(BrokerLeaseTest, ExtendOfSeveralLeasesAnswersEachAndListsOnlyTheLostOnes) {
  StartWithWorker(2);
  Publish({"a", "b"});
  Pass();
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 2u);
  const std::uint64_t bogus = items[1].lease_id + 1000;
  Extend("w1", 5'000, {items[0].lease_id, bogus, items[1].lease_id});
  Pass();
  const auto extended = transport_.To<protocol::Extended>("w1");
  ASSERT_EQ(extended.size(), 1u);
  ASSERT_EQ(extended[0].items.size(), 2u);
  EXPECT_EQ(extended[0].items[0].lease_id, items[0].lease_id);
  EXPECT_EQ(extended[0].items[1].lease_id, items[1].lease_id);
  const auto lost = LeaseLostErrors("w1", Command::kExtend);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_THAT(lost[0].leases, ElementsAre(bogus));
  EXPECT_EQ(broker().counters().lease_lost, 1);
}

TEST_F(BrokerLeaseTest, AckSettlesTheMessageAndListsUnknownLeasesAsLost) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  const std::uint64_t bogus = item.lease_id + 77;
  Ack("w1", {item.lease_id, bogus});
  Pass();
  const auto lost = LeaseLostErrors("w1", Command::kAck);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_THAT(lost[0].leases, ElementsAre(bogus));
  EXPECT_EQ(broker().counters().lease_lost, 1);
  EXPECT_EQ(QueueStats().acked, 1u);
  EXPECT_EQ(QueueStats().in_flight, 0u);
  EXPECT_EQ(broker().lease_count(), 0u);
  EXPECT_EQ(broker().FindQueue(kQueue)->size(), 0u) << "the settled message is gone";
  const auto acks = storage_.RecordsOf<AckRecord>();
  ASSERT_EQ(acks.size(), 1u);
}

TEST_F(BrokerLeaseTest, LeaseCommandsFromAnotherWorkerAreLostAndChangeNothing) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  ReadyAndPass("w2", 0);
  transport_.Clear();

  Ack("w2", {item.lease_id});
  Extend("w2", 20'000, {item.lease_id});
  Send("w2", protocol::Nack{{{item.lease_id, 0, "not mine"}}});
  Pass();

  const auto errors = Errors("w2");
  ASSERT_EQ(errors.size(), 3u);
  const Command expected[] = {Command::kAck, Command::kExtend, Command::kNack};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(errors[i].code, ErrorCode::kLeaseLost);
    EXPECT_EQ(errors[i].answers, static_cast<std::uint8_t>(expected[i]));
    EXPECT_THAT(errors[i].leases, ElementsAre(item.lease_id));
  }
  EXPECT_THAT(transport_.To<protocol::Extended>("w2"), IsEmpty());
  EXPECT_EQ(broker().counters().lease_lost, 3);
  EXPECT_EQ(QueueStats().acked, 0u);
  EXPECT_EQ(QueueStats().nacked, 0u);
  EXPECT_EQ(QueueStats().in_flight, 1u);
  EXPECT_EQ(broker().NextWakeup(), t0_ + 10s) << "the foreign EXTEND did not move the deadline";
  EXPECT_THAT(storage_.RecordsOf<AckRecord>(), IsEmpty());
  EXPECT_THAT(storage_.RecordsOf<NackRecord>(), IsEmpty());

  // The rightful holder still can.
  Ack("w1", {item.lease_id});
  Pass();
  EXPECT_THAT(Errors("w1"), IsEmpty());
  EXPECT_EQ(QueueStats().acked, 1u);
}

TEST_F(BrokerLeaseTest, StaleLeaseAfterExpiryIsLostForAckExtendAndNack) {
  StartWithWorker();
  const auto first = DeliverOne("a");
  Advance(10s);
  Pass();
  const auto second = TakeDeliveries("w1");
  ASSERT_EQ(second.size(), 1u);

  Ack("w1", {first.lease_id});
  Extend("w1", 5'000, {first.lease_id});
  Nack("w1", first.lease_id, 0);
  Pass();
  const auto errors = Errors("w1");
  ASSERT_EQ(errors.size(), 3u);
  for (const auto& e : errors) {
    EXPECT_EQ(e.code, ErrorCode::kLeaseLost);
    EXPECT_THAT(e.leases, ElementsAre(first.lease_id));
  }
  EXPECT_EQ(broker().counters().lease_lost, 3);
  EXPECT_EQ(QueueStats().in_flight, 1u) << "the current lease is untouched";
  EXPECT_EQ(QueueStats().acked, 0u);
  EXPECT_EQ(QueueStats().nacked, 0u);
  EXPECT_EQ(broker().NextWakeup(), t0_ + 20s);
}

TEST_F(BrokerLeaseTest, NackWithDelayIsNotDeliverableBeforeTheDelay) {
  StartWithWorker();
  const auto item = DeliverOne("a");
  Nack("w1", item.lease_id, 2'000, "remote host busy");
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  EXPECT_EQ(QueueStats().deferred, 1u);
  EXPECT_EQ(QueueStats().nacked, 1u);
  EXPECT_EQ(broker().NextWakeup(), t0_ + 2s);
  const auto nacks = storage_.RecordsOf<NackRecord>();
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0].reason, "remote host busy");
  EXPECT_EQ(nacks[0].not_before_unix_ms, clock_.WallMs() + 2'000);
  EXPECT_EQ(nacks[0].attempt, 1u);

  Advance(2s - 1ms);
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  Advance(1ms);
  Pass();
  const auto again = TakeDeliveries("w1");
  ASSERT_EQ(again.size(), 1u) << "deliverable exactly at the delay";
  EXPECT_EQ(again[0].id, "a");
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(QueueStats().deferred, 0u);
}

TEST_F(BrokerLeaseTest, NackWithoutDelayIsRedeliveredFirst) {
  StartWithWorker(0);
  Publish({"a", "b", "c"});
  Pass();
  Credit("w1", 1);
  Pass();
  const auto a = TakeDeliveries("w1");
  ASSERT_EQ(Ids(a), (std::vector<std::string>{"a"}));
  Nack("w1", a[0].lease_id, 0);
  Pass();
  const auto next = TakeDeliveries("w1");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].id, "a") << "to the front, ahead of b and c";
  EXPECT_EQ(next[0].attempt, 2u);
}

TEST_F(BrokerLeaseTest, MaxDeliveriesDeadLettersWithTheLastNackReason) {
  options_.max_deliveries = 2;
  StartWithWorker();
  const auto first = DeliverOne("a");
  Nack("w1", first.lease_id, 0, "first failure");
  Pass();
  const auto second = TakeDeliveries("w1");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt, 2u);
  Nack("w1", second[0].lease_id, 0, "second failure");
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty()) << "dead letters are not delivered";

  const auto s = QueueStats();
  EXPECT_EQ(s.dead, 1u);
  EXPECT_EQ(s.dead_lettered, 1u);
  EXPECT_EQ(s.ready, 0u);
  EXPECT_EQ(s.in_flight, 0u);
  const Message* dead = Dead("a");
  ASSERT_NE(dead, nullptr);
  EXPECT_EQ(dead->last_error(), "second failure");
  EXPECT_EQ(dead->attempts, 2u);
  const auto records = storage_.RecordsOf<DeadLetterRecord>();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].reason, "second failure");
  EXPECT_EQ(records[0].attempts, 2u);
  EXPECT_EQ(records[0].dead_at_unix_ms, clock_.WallMs());
}

TEST_F(BrokerLeaseTest, MaxDeliveriesByExpiryDeadLettersAsLeaseExpired) {
  options_.max_deliveries = 1;
  StartWithWorker();
  DeliverOne("a");
  Advance(10s);
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  const Message* dead = Dead("a");
  ASSERT_NE(dead, nullptr);
  EXPECT_EQ(dead->last_error(), "lease expired");
  EXPECT_EQ(QueueStats().expired, 1u);
  EXPECT_EQ(QueueStats().dead, 1u);
}

TEST_F(BrokerLeaseTest, DeadLetterIdIsStillDeduplicated) {
  options_.max_deliveries = 1;
  StartWithWorker();
  const auto item = DeliverOne("a");
  Nack("w1", item.lease_id, 0, "poison");
  Pass();
  ASSERT_EQ(QueueStats().dead, 1u);
  transport_.Clear();
  Publish({"a"});
  Pass();
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a"));
  EXPECT_EQ(storage_.RecordsOf<PublishRecord>().size(), 1u);
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
}

}  // namespace
}  // namespace mandrill::broker::testkit
