// Poison messages: dead-lettered after max deliveries with their last error, then listed,
// requeued and purged through the admin commands.
#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(BrokerTest, MaxDeliveriesMovesMessageToDeadLetters) {
  StartBroker({"--max-deliveries", "2", "--heartbeat-ms", "2000"});
  Client& worker = NewClient();
  worker.Ready("restarts", 4);
  NewClient().PublishConfirmed("restarts", "poison-1");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto d = worker.Deliveries(1, 5s);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].attempt, static_cast<std::uint32_t>(attempt));
    worker.Send(protocol::Nack{{{d[0].lease_id, 0, "segfault in handler #" + std::to_string(attempt)}}});
  }
  EXPECT_TRUE(worker.Quiet(400ms)) << "delivered past max deliveries";
  const auto q = QueueStatsFor("restarts");
  EXPECT_EQ(q.dead, 1u);
  EXPECT_EQ(q.dead_lettered, 1u);

  Client& admin = NewClient();
  admin.Send(protocol::DlqListRequest{1, "restarts", 10});
  auto list = admin.Expect<protocol::DlqListReply>(5s);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->total, 1u);
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].id, "poison-1");
  EXPECT_EQ(list->items[0].attempts, 2u);
  EXPECT_EQ(list->items[0].last_error, "segfault in handler #2");
  EXPECT_EQ(list->items[0].payload, "restart cattle-test");

  admin.Send(protocol::DlqRequeueRequest{2, "restarts", {}});
  auto ok = admin.Expect<protocol::AdminOk>(5s);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->count, 1u);
  auto d = worker.Deliveries(1, 5s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, "poison-1");
  EXPECT_EQ(d[0].attempt, 1u) << "requeue restarts the attempt count";
  worker.Send(protocol::Ack{{d[0].lease_id}});
  ASSERT_TRUE(Eventually([&] { return QueueStatsFor("restarts").acked == 1; }, 5s));
}

TEST_F(BrokerTest, LeaseExpiryCountsTowardsDeadLettering) {
  StartBroker({"--max-deliveries", "1", "--lease-ms", "150", "--heartbeat-ms", "2000"});
  Client& worker = NewClient();
  worker.Ready("restarts", 4);
  NewClient().PublishConfirmed("restarts", "hangs-1");
  ASSERT_EQ(worker.Deliveries(1, 5s).size(), 1u);
  ASSERT_TRUE(Eventually([&] { return QueueStatsFor("restarts").dead == 1; }, 5s));
  Client& admin = NewClient();
  admin.Send(protocol::DlqListRequest{1, "restarts", 10});
  auto list = admin.Expect<protocol::DlqListReply>(5s);
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].last_error, "lease expired");
}

TEST_F(BrokerTest, PurgeRemovesNamedDeadLettersOnly) {
  StartBroker({"--max-deliveries", "1", "--heartbeat-ms", "2000"});
  Client& worker = NewClient();
  worker.Ready("restarts", 4);
  Client& pub = NewClient();
  pub.PublishConfirmed("restarts", "p-1");
  pub.PublishConfirmed("restarts", "p-2");
  auto d = worker.Deliveries(2, 5s);
  ASSERT_EQ(d.size(), 2u);
  worker.Send(protocol::Nack{{{d[0].lease_id, 0, "bad"}, {d[1].lease_id, 0, "bad"}}});
  ASSERT_TRUE(Eventually([&] { return QueueStatsFor("restarts").dead == 2; }, 5s));
  Client& admin = NewClient();
  admin.Send(protocol::DlqPurgeRequest{3, "restarts", {"p-1", "nope"}});
  auto ok = admin.Expect<protocol::AdminOk>(5s);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->count, 1u);
  EXPECT_NE(ok->message.find("1 id(s) were not dead letters"), std::string::npos);
  EXPECT_EQ(QueueStatsFor("restarts").dead, 1u);
  admin.Send(protocol::DlqListRequest{4, "nosuchqueue", 10});
  auto err = admin.Expect<protocol::Error>(5s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, protocol::ErrorCode::kUnknownQueue);
  EXPECT_EQ(err->request_id, 4u);
}

}  // namespace
}  // namespace mandrill::testing
