// A worker that dies, goes silent or says goodbye gets its leases returned at once, long before
// their lease deadline.
#include <signal.h>

#include "tests/integration/broker/broker_fixture.h"

namespace mandrill::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(BrokerTest, KilledWorkerProcessLeasesGoToAnotherWorkerAtOnce) {
  // 30 s leases and 15 s heartbeat liveness: anything redelivered within a few seconds came
  // from the closed connection.
  StartBroker({"--lease-ms", "30000", "--heartbeat-ms", "5000"});
  Client& pub = NewClient();
  for (int i = 0; i < 5; ++i) pub.PublishConfirmed("restarts", "k-" + std::to_string(i));
  Process doomed({Binary("mandrill-worker"), "--broker", endpoint_, "--queue", "restarts",
                  "--concurrency", "5", "--restart-ms", "60000:60000", "--name", "doomed"},
                 dir_ + "/worker.log");
  ASSERT_TRUE(Eventually(
      [&] {
        auto s = Stats();
        return s.workers.size() == 1 && s.workers[0].in_flight == 5;
      },
      10s))
      << doomed.Log();
  Client& survivor = NewClient();
  survivor.Ready("restarts", 10, "survivor");
  const auto t0 = std::chrono::steady_clock::now();
  doomed.Kill();
  auto d = survivor.Deliveries(5, 10s);
  ASSERT_EQ(d.size(), 5u);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 5s) << "redelivery waited for something other than the connection close";
  for (const auto& item : d) EXPECT_EQ(item.attempt, 2u);
  const auto stats = Stats();
  EXPECT_EQ(Counter(stats, "broker.workers_disconnected"), 1);
  EXPECT_EQ(Counter(stats, "broker.leases_released"), 5);
}

TEST_F(BrokerTest, SilentWorkerIsDeclaredDeadByHeartbeat) {
  StartBroker({"--lease-ms", "30000", "--heartbeat-ms", "200"});
  // Published first, so the message is there the moment the worker says READY; the worker stays
  // alive until it holds it (a slow machine can take longer than 3 heartbeats), then goes silent.
  NewClient().PublishConfirmed("restarts", "h-1");
  Client& silent = NewClient();
  silent.Ready("restarts", 1, "silent");
  std::vector<protocol::DeliverItem> held;
  for (const auto t = std::chrono::steady_clock::now();
       held.empty() && std::chrono::steady_clock::now() - t < 5s;) {
    silent.Send(protocol::Heartbeat{});
    held = silent.Deliveries(1, 50ms);
  }
  ASSERT_EQ(held.size(), 1u);
  // The silent client's connection stays open (ZeroMQ answers transport pings), but it never
  // sends a frame: only application heartbeats can notice.
  Client& other = NewClient();
  other.Ready("restarts", 1, "other");
  const auto t0 = std::chrono::steady_clock::now();
  // `other` must heartbeat to stay alive itself.
  std::vector<protocol::DeliverItem> d;
  while (d.empty() && std::chrono::steady_clock::now() - t0 < 10s) {
    other.Send(protocol::Heartbeat{});
    d = other.Deliveries(1, 50ms);
  }
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, "h-1");
  EXPECT_EQ(Counter(Stats(), "broker.workers_timed_out"), 1);
}

TEST_F(BrokerTest, DisconnectReturnsLeasesImmediately) {
  StartBroker({"--lease-ms", "30000", "--heartbeat-ms", "2000"});
  Client& leaving = NewClient();
  leaving.Ready("restarts", 2, "leaving");
  NewClient().PublishConfirmed("restarts", "d-1");
  ASSERT_EQ(leaving.Deliveries(1, 5s).size(), 1u);
  Client& other = NewClient();
  other.Ready("restarts", 2, "other");
  leaving.Send(protocol::Disconnect{"maintenance"});
  auto d = other.Deliveries(1, 5s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].attempt, 2u);
}

TEST_F(BrokerTest, CommandsFromAnUnknownWorkerAskForReady) {
  StartBroker();
  Client& stranger = NewClient();
  stranger.Send(protocol::Ack{{42}});
  auto err = stranger.Expect<protocol::Error>(5s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, protocol::ErrorCode::kNotReady);
  EXPECT_EQ(err->leases, std::vector<std::uint64_t>{42});
}

TEST_F(BrokerTest, SigtermSaysDisconnectToWorkersAndExitsZero) {
  StartBroker({"--heartbeat-ms", "2000"});
  Client& worker = NewClient();
  worker.Ready("restarts", 1);
  broker_->Signal(SIGTERM);
  auto bye = worker.Expect<protocol::Disconnect>(5s);
  ASSERT_TRUE(bye.has_value());
  EXPECT_EQ(bye->reason, "SIGTERM");
  EXPECT_EQ(broker_->Wait(10s), 0);
}

}  // namespace
}  // namespace mandrill::testing
