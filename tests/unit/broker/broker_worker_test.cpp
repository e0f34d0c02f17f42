// Workers: READY/WELCOME, credit, liveness (heartbeats, closed connections, DISCONNECT) and
// unknown peers. (Failed sends and frame limits: broker_delivery_test.cpp.)
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

class BrokerWorkerTest : public BrokerHarness {
 protected:
  BrokerWorkerTest() {
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

TEST_F(BrokerWorkerTest, ReadyIsAnsweredWithWelcome) {
  Start();
  Ready("w1", 4);
  Pass();
  const auto welcome = transport_.To<protocol::Welcome>("w1");
  ASSERT_EQ(welcome.size(), 1u);
  EXPECT_EQ(welcome[0].broker_id, broker().broker_id());
  EXPECT_EQ(welcome[0].heartbeat_ms, 1000u);
  EXPECT_EQ(welcome[0].lease_ms, 30'000u);
  EXPECT_EQ(welcome[0].max_lease_ms, 300'000u);
  EXPECT_EQ(broker().worker_count(), 1u);
  EXPECT_EQ(WorkerStats("w1").credit, 4u);
}

TEST_F(BrokerWorkerTest, WelcomeIsSentBeforeTheFirstDeliveryItEnables) {
  Start();
  Publish({"a"});
  Pass();
  transport_.Clear();
  Ready("w1", 1);
  Pass();
  const auto& sent = transport_.all();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<protocol::Welcome>(sent[0].message));
  EXPECT_TRUE(std::holds_alternative<protocol::Deliver>(sent[1].message));
}

TEST_F(BrokerWorkerTest, ReadyWithABadQueueNameIsRefusedAndNotRegistered) {
  Start();
  Ready("w1", 1, {"ok", "not ok!"});
  Pass();
  const auto errors = Errors("w1");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(errors[0].answers, static_cast<std::uint8_t>(Command::kReady));
  EXPECT_EQ(broker().worker_count(), 0u);
}

TEST_F(BrokerWorkerTest, NeverMoreLeasesThanCredit) {
  Start();
  ReadyAndPass("w1", 3);
  Publish5();
  Pass();
  auto items = TakeDeliveries("w1");
  EXPECT_EQ(Ids(items), (std::vector<std::string>{"a", "b", "c"}));
  Pass();
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty()) << "at its credit";
  EXPECT_EQ(WorkerStats("w1").in_flight, 3u);
  EXPECT_EQ(WorkerStats("w1").credit, 3u);
  EXPECT_EQ(QueueStats().in_flight, 3u);
  EXPECT_EQ(QueueStats().ready, 2u);

  Ack("w1", {items[0].lease_id});
  Pass();
  EXPECT_EQ(Ids(TakeDeliveries("w1")), (std::vector<std::string>{"d"})) << "one freed, one sent";
  EXPECT_EQ(WorkerStats("w1").in_flight, 3u);
}

TEST_F(BrokerWorkerTest, CreditZeroStopsDeliveryAndRaisingItResumes) {
  Start();
  ReadyAndPass("w1", 2);
  Publish5();
  Pass();
  const auto first = TakeDeliveries("w1");
  ASSERT_EQ(first.size(), 2u);

  Credit("w1", 0);
  Ack("w1", Leases(first));
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty()) << "credit 0: drained, nothing new";
  EXPECT_EQ(WorkerStats("w1").credit, 0u);
  EXPECT_EQ(QueueStats().ready, 3u);

  Credit("w1", 5);
  Pass();
  EXPECT_EQ(Ids(TakeDeliveries("w1")), (std::vector<std::string>{"c", "d", "e"}));
}

TEST_F(BrokerWorkerTest, LoweringCreditBelowInFlightSendsNothingUntilBelowIt) {
  Start();
  ReadyAndPass("w1", 3);
  Publish5();
  Pass();
  const auto held = TakeDeliveries("w1");
  ASSERT_EQ(held.size(), 3u);
  Credit("w1", 1);
  Ack("w1", {held[0].lease_id});
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty()) << "2 held, credit 1";
  Ack("w1", {held[1].lease_id, held[2].lease_id});
  Pass();
  EXPECT_EQ(Ids(TakeDeliveries("w1")), (std::vector<std::string>{"d"}));
}

TEST_F(BrokerWorkerTest, SilentWorkerIsDeclaredDeadAndItsLeasesReturnWhileAHeartbeatingOneStays) {
  Start();
  ReadyAndPass("w1", 2);
  ReadyAndPass("w2", 0);
  Publish({"a", "b"});
  Pass();
  // Whichever worker the pass started with, only w1 has credit.
  ASSERT_EQ(transport_.Deliveries("w1").size(), 2u);
  transport_.Clear();

  for (int step = 1; step <= 6; ++step) {  // 3 s in half-heartbeat steps: still alive
    Advance(500ms);
    Send("w2", protocol::Heartbeat{});
    Pass();
  }
  EXPECT_TRUE(HasWorker("w1")) << "silent for exactly liveness x heartbeat: not yet dead";
  EXPECT_EQ(QueueStats().in_flight, 2u);
  EXPECT_FALSE(transport_.To<protocol::Heartbeat>("w1").empty())
      << "the broker heartbeats a worker it has sent nothing to";

  Advance(500ms);
  Send("w2", protocol::Heartbeat{});
  Pass();
  EXPECT_FALSE(HasWorker("w1"));
  EXPECT_TRUE(HasWorker("w2"));
  EXPECT_EQ(broker().counters().workers_timed_out, 1);
  EXPECT_EQ(broker().counters().leases_released, 2);
  EXPECT_EQ(QueueStats().in_flight, 0u);
  EXPECT_EQ(QueueStats().ready, 2u) << "returned at once, not at lease expiry (30 s)";
  EXPECT_THAT(Errors("w2"), IsEmpty());

  // The dead worker's late ack is refused: it must announce itself again.
  transport_.Clear();
  Ack("w1", {1, 2});
  Pass();
  const auto errors = Errors("w1");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kNotReady);
}

TEST_F(BrokerWorkerTest, AnyFrameFromAWorkerCountsAsLiveness) {
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"});
  Pass();
  const auto items = TakeDeliveries("w1");
  for (int step = 0; step < 10; ++step) {
    Advance(2s);
    Extend("w1", 30'000, Leases(items));
    Pass();
  }
  EXPECT_TRUE(HasWorker("w1"));
  EXPECT_EQ(QueueStats().in_flight, 1u);
}

TEST_F(BrokerWorkerTest, ClosedConnectionReturnsLeasesAtOnceInOriginalOrderAtTheFront) {
  Start();
  ReadyAndPass("w1", 3, {kQueue}, /*fd=*/7);
  Publish5();
  Pass();
  const auto held = TakeDeliveries("w1");
  ASSERT_EQ(Ids(held), (std::vector<std::string>{"a", "b", "c"}));
  Send("w1", protocol::Heartbeat{}, /*fd=*/9);  // reconnected: now speaks on fd 9

  broker().OnConnectionClosed(7);
  EXPECT_TRUE(HasWorker("w1")) << "fd 7 is no longer its connection";
  EXPECT_EQ(QueueStats().in_flight, 3u);

  broker().OnConnectionClosed(9);
  EXPECT_FALSE(HasWorker("w1"));
  EXPECT_EQ(broker().counters().workers_disconnected, 1);
  EXPECT_EQ(broker().counters().leases_released, 3);
  EXPECT_EQ(QueueStats().in_flight, 0u);
  EXPECT_EQ(QueueStats().ready, 5u);

  ReadyAndPass("w2", 10);
  const auto again = TakeDeliveries("w2");
  EXPECT_EQ(Ids(again), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  ASSERT_EQ(again.size(), 5u);
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(again[3].attempt, 1u);
}

TEST_F(BrokerWorkerTest, ClosedConnectionOfAnUnknownFdChangesNothing) {
  Start();
  ReadyAndPass("w1", 1, {kQueue}, 7);
  broker().OnConnectionClosed(8);
  broker().OnConnectionClosed(-1);
  EXPECT_TRUE(HasWorker("w1"));
}

// The monitor drain held a close of fd 7 and then an accept of fd 7 (its reuse). A worker heard
// on fd 7 in the previous pass may be on the new connection: dropping it would redeliver work it
// is doing. It is kept, untied, until it speaks again; one heard earlier is released as before.
TEST_F(BrokerWorkerTest, CloseOfAReusedFdKeepsAWorkerHeardSinceTheLastDrain) {
  Start();
  ReadyAndPass("fresh", 2, {kQueue}, /*fd=*/7);
  Publish({"a", "b"});
  Pass();
  ASSERT_EQ(TakeDeliveries("fresh").size(), 2u);
  Send("fresh", protocol::Heartbeat{}, /*fd=*/7);
  Pass();  // the reactor's pass that read the heartbeat

  broker().OnConnectionClosed(7, /*fd_reused=*/true);
  EXPECT_TRUE(HasWorker("fresh"));
  EXPECT_EQ(QueueStats().in_flight, 2u);
  EXPECT_EQ(broker().counters().closes_ambiguous, 1);
  EXPECT_EQ(broker().counters().leases_released, 0);
  broker().OnConnectionClosed(7, /*fd_reused=*/false);
  EXPECT_TRUE(HasWorker("fresh")) << "untied: a later close of fd 7 is not its connection's";

  Send("fresh", protocol::Heartbeat{}, /*fd=*/7);  // speaks again: tied to fd 7 anew
  Pass();
  Pass();
  broker().OnConnectionClosed(7, /*fd_reused=*/true);  // heard two passes ago: it was the old one
  EXPECT_FALSE(HasWorker("fresh"));
  EXPECT_EQ(broker().counters().leases_released, 2);
  EXPECT_EQ(QueueStats().ready, 2u);
}

TEST_F(BrokerWorkerTest, AWorkerKeptOnAnAmbiguousCloseThatNeverSpeaksIsReleasedByItsHeartbeats) {
  Start();
  ReadyAndPass("silent", 1, {kQueue}, /*fd=*/7);
  Publish({"a"});
  Pass();
  ASSERT_EQ(TakeDeliveries("silent").size(), 1u);
  Send("silent", protocol::Heartbeat{}, /*fd=*/7);
  Pass();
  broker().OnConnectionClosed(7, /*fd_reused=*/true);
  ASSERT_TRUE(HasWorker("silent"));
  Advance(2s);
  Pass();
  EXPECT_TRUE(HasWorker("silent"));
  Advance(2s);  // 4 s silent > 3 heartbeats of 1 s
  Pass();
  EXPECT_FALSE(HasWorker("silent"));
  EXPECT_EQ(broker().counters().workers_timed_out, 1);
  EXPECT_EQ(QueueStats().ready, 1u);
}

TEST_F(BrokerWorkerTest, DisconnectFromAWorkerReturnsItsLeases) {
  Start();
  ReadyAndPass("w1", 2);
  Publish({"a", "b"});
  Pass();
  ASSERT_EQ(TakeDeliveries("w1").size(), 2u);
  Send("w1", protocol::Disconnect{"draining"});
  EXPECT_FALSE(HasWorker("w1"));
  EXPECT_EQ(broker().counters().workers_left, 1);
  EXPECT_EQ(QueueStats().ready, 2u);
}

TEST_F(BrokerWorkerTest, ReannouncingWorkerKeepsItsLeases) {
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"});
  Pass();
  const auto items = TakeDeliveries("w1");
  ASSERT_EQ(items.size(), 1u);
  Ready("w1", 1);
  Pass();
  EXPECT_EQ(broker().worker_count(), 1u);
  EXPECT_EQ(WorkerStats("w1").in_flight, 1u);
  Ack("w1", Leases(items));
  Pass();
  EXPECT_THAT(Errors("w1"), IsEmpty());
  EXPECT_EQ(QueueStats().acked, 1u);
}

TEST_F(BrokerWorkerTest, WorkerCommandFromAnUnknownPeerIsAnsweredNotReady) {
  Start();
  Ack("ghost", {11, 12});
  Extend("ghost", 1000, {13});
  Send("ghost", protocol::Nack{{{14, 0, "x"}, {15, 10, "y"}}});
  Credit("ghost", 5);
  Send("ghost", protocol::Heartbeat{});
  Pass();
  const auto errors = Errors("ghost");
  ASSERT_EQ(errors.size(), 5u);
  for (const auto& e : errors) EXPECT_EQ(e.code, ErrorCode::kNotReady);
  EXPECT_EQ(errors[0].answers, static_cast<std::uint8_t>(Command::kAck));
  EXPECT_THAT(errors[0].leases, ElementsAre(11u, 12u));
  EXPECT_EQ(errors[1].answers, static_cast<std::uint8_t>(Command::kExtend));
  EXPECT_THAT(errors[1].leases, ElementsAre(13u));
  EXPECT_EQ(errors[2].answers, static_cast<std::uint8_t>(Command::kNack));
  EXPECT_THAT(errors[2].leases, ElementsAre(14u, 15u));
  EXPECT_EQ(errors[3].answers, static_cast<std::uint8_t>(Command::kCredit));
  EXPECT_THAT(errors[3].leases, IsEmpty());
  EXPECT_EQ(errors[4].answers, static_cast<std::uint8_t>(Command::kHeartbeat));
  EXPECT_EQ(broker().counters().not_ready, 5);
  EXPECT_EQ(broker().worker_count(), 0u);
}

}  // namespace
}  // namespace mandrill::broker::testkit
