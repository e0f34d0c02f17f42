// Graceful shutdown: BeginShutdown refuses new work; SayGoodbye sends the last confirms and
// DISCONNECT to every peer the broker knows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/broker/broker_harness.h"

namespace mandrill::broker::testkit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class BrokerShutdownTest : public BrokerHarness {
 protected:
  // Peers that were sent a DISCONNECT, and the reason each got.
  std::vector<std::string> DisconnectedPeers(const std::string& reason) const {
    std::vector<std::string> peers;
    for (const auto& s : transport_.all()) {
      if (const auto* d = std::get_if<protocol::Disconnect>(&s.message)) {
        EXPECT_EQ(d->reason, reason);
        peers.push_back(s.peer);
      }
    }
    return peers;
  }
};

TEST_F(BrokerShutdownTest, NewPublishesAreRefusedWithShuttingDown) {
  Start();
  broker().BeginShutdown("SIGTERM");
  EXPECT_TRUE(broker().shutting_down());
  Publish({"a", "b"});
  Pass();
  const auto errors = Errors(kPublisher);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kShuttingDown);
  EXPECT_EQ(errors[0].answers, static_cast<std::uint8_t>(Command::kPublish));
  EXPECT_EQ(errors[0].queue, kQueue);
  EXPECT_THAT(errors[0].ids, ElementsAre("a", "b"));
  EXPECT_THAT(ConfirmedIds(), IsEmpty());
  EXPECT_THAT(storage_.RecordsOf<PublishRecord>(), IsEmpty());
}

TEST_F(BrokerShutdownTest, NothingMoreIsDeliveredAfterBeginShutdown) {
  Start();
  ReadyAndPass("w1", 0);
  Publish({"a", "b"});
  Pass();
  broker().BeginShutdown("SIGTERM");
  Credit("w1", 10);
  Pass();
  Advance(5s);
  Send("w1", protocol::Heartbeat{});
  Pass();
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
  EXPECT_EQ(QueueStats().ready, 2u);
}

TEST_F(BrokerShutdownTest, ReadyDuringShutdownIsAnsweredDisconnect) {
  Start();
  broker().BeginShutdown("SIGTERM");
  Ready("w9", 5);
  Pass();
  EXPECT_EQ(transport_.To<protocol::Disconnect>("w9").size(), 1u);
  EXPECT_THAT(transport_.To<protocol::Welcome>("w9"), IsEmpty());
  EXPECT_EQ(broker().worker_count(), 0u);
}

TEST_F(BrokerShutdownTest, MessagesThatBecomeDurableDuringShutdownAreStillConfirmed) {
  storage_.set_auto_durable(false);
  Start();
  Publish({"a", "b"});
  Pass();
  broker().BeginShutdown("SIGTERM");
  storage_.Commit();
  ASSERT_TRUE(storage_.Close().ok());
  storage_.MakeAllDurable();
  broker().OnStorageProgress(storage_.Poll());
  broker().SayGoodbye("SIGTERM");
  EXPECT_THAT(ConfirmedIds(), ElementsAre("a", "b"));
}

TEST_F(BrokerShutdownTest, GoodbyeSendsDisconnectToEveryWorkerAndRecentPublisherAndAdmin) {
  options_.heartbeat = 30s;  // workers survive the minute below
  Start();
  Publish({"old"}, kQueue, "pub-old");
  Pass();
  Advance(61s);  // pub-old is no longer recent
  ReadyAndPass("w1", 1);
  ReadyAndPass("w2", 1);
  Publish({"a"}, kQueue, kPublisher);
  Send(kAdmin, protocol::StatsRequest{1});
  Pass();
  transport_.Clear();

  broker().BeginShutdown("SIGTERM");
  broker().SayGoodbye("SIGTERM");
  EXPECT_THAT(DisconnectedPeers("SIGTERM"),
              UnorderedElementsAre("w1", "w2", kPublisher, kAdmin));
}

TEST_F(BrokerShutdownTest, LastConfirmsPrecedeTheDisconnect) {
  storage_.set_auto_durable(false);
  Start();
  Publish({"a"});
  Pass();
  broker().BeginShutdown("SIGTERM");
  storage_.MakeAllDurable();
  broker().OnStorageProgress(storage_.Poll());
  broker().SayGoodbye("SIGTERM");
  std::vector<protocol::Command> to_publisher;
  for (const auto& s : transport_.all()) {
    if (s.peer == kPublisher) to_publisher.push_back(protocol::CommandOf(s.message));
  }
  ASSERT_THAT(to_publisher, UnorderedElementsAre(Command::kConfirm, Command::kDisconnect));
  // Regression: Flush sent the DISCONNECT replies before the confirm batches.
  EXPECT_EQ(to_publisher.front(), Command::kConfirm);
}

TEST_F(BrokerShutdownTest, LeasesStillExpireDuringShutdownButAreNotRedelivered) {
  options_.heartbeat = 60s;
  options_.lease = 10s;
  Start();
  ReadyAndPass("w1", 1);
  Publish({"a"});
  Pass();
  ASSERT_EQ(TakeDeliveries("w1").size(), 1u);
  broker().BeginShutdown("SIGTERM");
  Advance(10s);
  Pass();
  EXPECT_EQ(QueueStats().expired, 1u);
  EXPECT_EQ(QueueStats().ready, 1u);
  EXPECT_THAT(transport_.Deliveries("w1"), IsEmpty());
}

}  // namespace
}  // namespace mandrill::broker::testkit
