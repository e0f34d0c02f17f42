// Publishing and flow control against a real broker: credit, depth limit, deduplication.
#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

protocol::Publish Batch(const std::string& queue, int n, const std::string& prefix = "m-") {
  protocol::Publish p;
  for (int i = 0; i < n; ++i) {
    p.items.push_back({queue, prefix + std::to_string(i), "restart cattle-" + std::to_string(i), {}});
  }
  return p;
}

std::size_t ConfirmedCount(Client& c, std::size_t want) {
  std::size_t got = 0;
  while (got < want) {
    auto conf = c.Expect<protocol::Confirm>(5s);
    if (!conf) break;
    got += conf->ids.size();
  }
  return got;
}

TEST_F(BrokerTest, CreditIsNeverExceeded) {
  StartBroker({"--heartbeat-ms", "2000"});
  Client& worker = NewClient();
  worker.Ready("restarts", 3);
  Client& pub = NewClient();
  pub.Send(Batch("restarts", 10));
  ASSERT_EQ(ConfirmedCount(pub, 10), 10u);
  auto first = worker.Deliveries(3, 5s);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_TRUE(worker.Quiet(300ms)) << "delivered beyond credit";
  auto stats = Stats();
  ASSERT_EQ(stats.workers.size(), 1u);
  EXPECT_EQ(stats.workers[0].credit, 3u);
  EXPECT_EQ(stats.workers[0].in_flight, 3u);
  worker.Send(protocol::Ack{{first[0].lease_id}});
  auto more = worker.Deliveries(1, 5s);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_TRUE(worker.Quiet(300ms)) << "one ack freed more than one slot";
  // Raising the credit lets more flow; lowering it to zero stops delivery.
  worker.Send(protocol::Credit{5});
  EXPECT_EQ(worker.Deliveries(2, 5s).size(), 2u);
  worker.Send(protocol::Credit{0});
  worker.Send(protocol::Ack{{first[1].lease_id, first[2].lease_id}});
  EXPECT_TRUE(worker.Quiet(300ms));
}

TEST_F(BrokerTest, PublishOverTheDepthLimitIsRefusedQueueFull) {
  StartBroker({"--queue-limit", "5"});
  Client& pub = NewClient();
  pub.Send(Batch("restarts", 7));
  auto err = pub.Expect<protocol::Error>(5s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, protocol::ErrorCode::kQueueFull);
  EXPECT_EQ(err->ids, (std::vector<std::string>{"m-5", "m-6"}));
  EXPECT_NE(err->reason.find("full"), std::string::npos);
  std::size_t confirmed = 0;
  for (auto& m : pub.skipped) {
    if (auto* c = std::get_if<protocol::Confirm>(&m)) confirmed += c->ids.size();
  }
  confirmed += ConfirmedCount(pub, 5 - confirmed);
  EXPECT_EQ(confirmed, 5u);
  // Memory does not grow: the queue holds exactly the limit.
  const auto q = QueueStatsFor("restarts");
  EXPECT_EQ(q.ready, 5u);
  EXPECT_EQ(q.refused_full, 2u);
  // Draining makes room again.
  Client& worker = NewClient();
  worker.Ready("restarts", 10);
  auto d = worker.Deliveries(5, 5s);
  ASSERT_EQ(d.size(), 5u);
  std::vector<std::uint64_t> leases;
  for (auto& it : d) leases.push_back(it.lease_id);
  worker.Send(protocol::Ack{leases});
  ASSERT_TRUE(Eventually([&] { return QueueStatsFor("restarts").acked == 5; }, 5s));
  pub.skipped.clear();
  pub.PublishConfirmed("restarts", "m-5");
}

TEST_F(BrokerTest, DuplicateIdIsConfirmedWithoutASecondMessage) {
  StartBroker({"--heartbeat-ms", "2000"});
  Client& pub = NewClient();
  pub.PublishConfirmed("restarts", "dup-1");
  pub.PublishConfirmed("restarts", "dup-1");  // a retry after a lost confirm
  Client& worker = NewClient();
  worker.Ready("restarts", 10);
  auto d = worker.Deliveries(1, 5s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(worker.Quiet(300ms)) << "the duplicate was delivered";
  worker.Send(protocol::Ack{{d[0].lease_id}});
  ASSERT_TRUE(Eventually([&] { return QueueStatsFor("restarts").acked == 1; }, 5s));
  // Still deduplicated after it was settled (within the window).
  pub.PublishConfirmed("restarts", "dup-1");
  EXPECT_TRUE(worker.Quiet(300ms));
  const auto q = QueueStatsFor("restarts");
  EXPECT_EQ(q.published, 1u);
  EXPECT_EQ(q.deduplicated, 2u);
  // The same id in another queue is a different message.
  pub.PublishConfirmed("other", "dup-1");
  EXPECT_EQ(QueueStatsFor("other").published, 1u);
}

TEST_F(BrokerTest, WorkSpreadsAcrossWorkers) {
  StartBroker({"--heartbeat-ms", "2000"});
  Client& a = NewClient();
  Client& b = NewClient();
  a.Ready("restarts", 4, "a");
  b.Ready("restarts", 4, "b");
  Client& pub = NewClient();
  pub.Send(Batch("restarts", 8));
  ASSERT_EQ(ConfirmedCount(pub, 8), 8u);
  EXPECT_EQ(a.Deliveries(4, 5s).size(), 4u);
  EXPECT_EQ(b.Deliveries(4, 5s).size(), 4u);
}

TEST_F(BrokerTest, InvalidPublishIsRefusedWithAReason) {
  StartBroker();
  Client& pub = NewClient();
  pub.Send(OneMessage("bad queue!", "m-1"));
  auto err = pub.Expect<protocol::Error>(5s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, protocol::ErrorCode::kInvalidArgument);
  EXPECT_NE(err->reason.find("queue name"), std::string::npos);
  pub.Send(OneMessage("restarts", "has space"));
  err = pub.Expect<protocol::Error>(5s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, protocol::ErrorCode::kInvalidArgument);
  EXPECT_EQ(err->ids, std::vector<std::string>{"has space"});
}

}  // namespace
}  // namespace mandrill::testing
