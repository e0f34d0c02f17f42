// Deliveries: sends that fail (unreachable, would block) are taken back without using an
// attempt, DELIVER frames stay within the peer's limits, several queues, per-worker stats.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using protocol::SendResult;

class BrokerDeliveryTest : public BrokerHarness {
 protected:
  BrokerDeliveryTest() {
    options_.heartbeat = 1s;
    options_.liveness = 3;
    options_.lease = 30s;
  }
  std::vector<std::string> Publish5() {
    std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
    Publish(ids);
    return ids;
  }
};

TEST_F(BrokerDeliveryTest, UnreachableWorkerOnDeliverIsRemovedAndItsLeasesReturnAtOnce) {
  Start();
  ReadyAndPass("w1", 3);
  Publish({"a", "b"});
  Pass();
  ASSERT_EQ(TakeDeliveries("w1").size(), 2u);
  transport_.FailNext("w1", Command::kDeliver, SendResult::kUnreachable);
  Publish({"c"});
  Pass();
  EXPECT_FALSE(HasWorker("w1"));
  EXPECT_EQ(Counter("broker.send_failures"), 1);
  EXPECT_EQ(broker().counters().workers_disconnected, 1);
  EXPECT_EQ(broker().counters().leases_released, 2) << "c never left: taken back, not released";
  EXPECT_EQ(broker().lease_count(), 0u);
  EXPECT_EQ(QueueStats().in_flight, 0u);
  EXPECT_EQ(QueueStats().ready, 3u);

  ReadyAndPass("w2", 10);
  EXPECT_EQ(Ids(transport_.Deliveries("w2")), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(BrokerDeliveryTest, UnreachableWorkerOnAReplyIsRemoved) {
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"});
  Pass();
  ASSERT_EQ(TakeDeliveries("w1").size(), 1u);
  transport_.FailNext("w1", Command::kError, SendResult::kUnreachable);
  Ack("w1", {999});  // answered LEASE_LOST, which cannot be sent
  Pass();
  EXPECT_FALSE(HasWorker("w1"));
  EXPECT_EQ(QueueStats().ready, 1u);
}

TEST_F(BrokerDeliveryTest, WouldBlockTakesTheDeliverBatchBackAndKeepsTheWorker) {
  Start();
  ReadyAndPass("w1", 5);
  transport_.FailNext("w1", Command::kDeliver, SendResult::kWouldBlock);
  Publish({"a", "b"});
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  EXPECT_TRUE(HasWorker("w1"));
  EXPECT_EQ(WorkerStats("w1").in_flight, 0u);
  EXPECT_EQ(broker().lease_count(), 0u);
  EXPECT_EQ(QueueStats().in_flight, 0u);
  EXPECT_EQ(QueueStats().ready, 2u) << "ready again at once, not at lease expiry";
  EXPECT_EQ(Counter("broker.send_failures"), 1);
  transport_.Clear();

  Pass();
  EXPECT_THAT(Ids(transport_.Deliveries("w1")), ::testing::UnorderedElementsAre("a", "b"));
}

TEST_F(BrokerDeliveryTest, BatchTakenBackAfterWouldBlockKeepsItsOrder) {
  Start();
  ReadyAndPass("w1", 5);
  transport_.FailNext("w1", Command::kDeliver, SendResult::kWouldBlock);
  Publish({"a", "b", "c"});
  Pass();
  transport_.Clear();
  Pass();
  const auto ids = Ids(transport_.Deliveries("w1"));
  // Regression: each lease was returned to the front in turn, reversing the batch.
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(BrokerDeliveryTest, DeliveryThatCouldNotBeSentDoesNotUseUpAnAttempt) {
  options_.max_deliveries = 1;
  Start();
  ReadyAndPass("w1", 5);
  transport_.FailNext("w1", Command::kDeliver, SendResult::kWouldBlock);
  Publish({"a"});
  Pass();
  transport_.Clear();
  Pass();
  const auto items = transport_.Deliveries("w1");
  // Regression: the unsent delivery counted as an attempt, so with max_deliveries 1 the message
  // was dead-lettered as "delivery could not be sent" without ever reaching a worker.
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].attempt, 1u);
  EXPECT_EQ(QueueStats().dead, 0u);
}

TEST_F(BrokerDeliveryTest, UnsentDeliveryToAnUnreachableWorkerDoesNotUseUpAnAttempt) {
  // a was delivered (its attempt counts when the worker vanishes); b's DELIVER never left.
  options_.max_deliveries = 1;
  Start();
  ReadyAndPass("w1", 2);
  Publish({"a"});
  Pass();
  ASSERT_EQ(TakeDeliveries("w1").size(), 1u);
  transport_.FailNext("w1", Command::kDeliver, SendResult::kUnreachable);
  Publish({"b"});
  Pass();
  ASSERT_FALSE(HasWorker("w1"));
  EXPECT_NE(Dead("a"), nullptr) << "a used its only attempt";
  EXPECT_EQ(Dead("b"), nullptr) << "b never left: no attempt used, not dead-lettered";
  EXPECT_EQ(QueueStats().ready, 1u);
  ReadyAndPass("w2", 1);
  const auto items = transport_.Deliveries("w2");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].id, "b");
  EXPECT_EQ(items[0].attempt, 1u);
}

TEST_F(BrokerDeliveryTest, DeliverFramesNeverExceedTheProtocolBatchLimitWhateverTheCredit) {
  // mandrill-worker --concurrency accepts up to 100,000 (its credit); a DELIVER may carry at most
  // max_batch (10,000) items or the worker's decoder refuses the whole frame.
  const std::size_t n = options_.limits.max_batch + 1;
  Recovered r;
  for (std::size_t i = 1; i <= n; ++i) {
    RecoveredMessage m;
    m.publish = PublishRecord{i, kQueue, "m" + std::to_string(i), "p", {}, 0};
    r.messages.push_back(std::move(m));
  }
  r.max_seq = n;
  storage_.set_recovered(std::move(r));
  Start();
  ReadyAndPass("w1", static_cast<std::uint32_t>(n));
  EXPECT_THAT(transport_.undecodable(), IsEmpty());
  EXPECT_GE(transport_.To<protocol::Deliver>("w1").size(), 2u) << "split into several frames";
  EXPECT_EQ(transport_.Deliveries("w1").size(), n);
}

TEST_F(BrokerDeliveryTest, DeliverFramesStayWithinTheBodyLimit) {
  // Scaled down: 8 payloads of 64 KiB against a 256 KiB body limit (by default 100 x 1 MiB
  // against 64 MiB).
  options_.limits.max_body_bytes = 256 << 10;
  options_.limits.max_payload_bytes = 64 << 10;
  Start();
  ReadyAndPass("w1", 8);
  protocol::Publish p;
  for (int i = 0; i < 8; ++i) {
    p.items.push_back({kQueue, "m" + std::to_string(i), std::string(64 << 10, 'x'), {}});
  }
  Send(kPublisher, std::move(p));
  Pass();
  EXPECT_THAT(transport_.undecodable(), IsEmpty());
  EXPECT_GE(transport_.To<protocol::Deliver>("w1").size(), 2u) << "split into several frames";
  EXPECT_EQ(transport_.Deliveries("w1").size(), 8u);
}

TEST_F(BrokerDeliveryTest, WorkersConsumingSeveralQueuesGetEach) {
  Start();
  Publish({"a1", "a2"}, "qa");
  Publish({"b1", "b2"}, "qb");
  Pass();
  ReadyAndPass("w1", 4, {"qa", "qb"});
  auto ids = Ids(transport_.Deliveries("w1"));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a1", "a2", "b1", "b2"}));
}

TEST_F(BrokerDeliveryTest, WorkerOnlyReceivesItsOwnQueues) {
  Start();
  Publish({"x"}, "other");
  Pass();
  ReadyAndPass("w1", 4);
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
}

TEST_F(BrokerDeliveryTest, StatsShowEachWorkersCreditInFlightAndCounts) {
  Start();
  ReadyAndPass("w1", 3);
  Publish({"a", "b", "c"});
  Pass();
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 3u);
  Ack("w1", {items[0].lease_id});
  Nack("w1", items[1].lease_id, 60'000);
  Pass();
  Advance(250ms);
  const auto w = WorkerStats("w1");
  EXPECT_EQ(w.credit, 3u);
  EXPECT_EQ(w.in_flight, 1u);
  EXPECT_EQ(w.delivered, 3u);
  EXPECT_EQ(w.acked, 1u);
  EXPECT_EQ(w.nacked, 1u);
  EXPECT_EQ(w.idle_ms, 250);
  EXPECT_THAT(w.queues, ElementsAre(kQueue));
}

}  // namespace
}  // namespace mandrill::broker::testkit
