// Graceful drain on SIGTERM: credit 0, in-flight work finishes within the grace, the rest is
// nacked for immediate redelivery (long before its lease deadline), exit 0, nothing lost.
#include <set>

#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

TEST_F(WorkerTest, SigtermWithTenLongHandlersExitsWithinGraceAndRedeliversThemAtOnce) {
  // 30 s leases and 15 s heartbeat liveness: a redelivery within seconds came from the nacks.
  StartBroker({"--lease-ms", "30000", "--heartbeat-ms", "5000"});
  for (int i = 0; i < 10; ++i) Publish("long-" + std::to_string(i));
  Process& w = StartWorker("draining", {"--concurrency", "10", "--restart-ms", "60000:60000",
                                        "--grace", "1s"});
  // Held by the worker's loop: the broker's in-flight count rises when it sends, before the
  // deliveries have reached the handlers, and a SIGTERM in between tests another path.
  ASSERT_TRUE(w.WaitForLog("; 10 messages in flight", 15s)) << w.Log();
  Client& other = NewClient();
  other.Ready("restarts", 10, "other");
  const auto t0 = std::chrono::steady_clock::now();
  w.Signal(SIGTERM);
  const auto code = w.Wait(10s);
  const auto exited_after = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(code, 0) << w.Log();
  EXPECT_LT(exited_after, 5s) << "a 1 s grace should end well within 5 s";
  auto d = other.Deliveries(10, 10s);
  const auto redelivered_after = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(d.size(), 10u) << w.Log();
  EXPECT_LT(redelivered_after, 8s) << "redelivery waited for something other than the nacks";
  std::set<std::string> ids;
  for (const auto& item : d) {
    ids.insert(item.id);
    EXPECT_EQ(item.attempt, 2u);
  }
  EXPECT_EQ(ids.size(), 10u);
  const auto q = Queue();
  EXPECT_EQ(q.nacked, 10u);
  EXPECT_EQ(q.expired, 0u);
  const std::string log = w.Log();
  EXPECT_NE(log.find("nacked 10 (error 0, timeout 0, shutdown 10)"), std::string::npos) << log;
  EXPECT_NE(log.find("CREDIT 0 sent"), std::string::npos) << log;
}

TEST_F(WorkerTest, SigtermLetsHandlersFinishingWithinTheGraceAck) {
  StartBroker({"--lease-ms", "30000"});
  for (int i = 0; i < 5; ++i) Publish("short-" + std::to_string(i));
  Process& w = StartWorker("finishing", {"--concurrency", "5", "--restart-ms", "1500:1500",
                                         "--grace", "20s"});
  // Held by the worker's loop, not merely sent by the broker.
  ASSERT_TRUE(w.WaitForLog("; 5 messages in flight", 15s)) << w.Log();
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  const auto q = Queue();
  EXPECT_EQ(q.acked, 5u);
  EXPECT_EQ(q.nacked, 0u);
  EXPECT_EQ(q.ready, 0u);
  EXPECT_NE(w.Log().find("acked 5, nacked 0"), std::string::npos) << w.Log();
}

TEST_F(WorkerTest, DrainNackAndSigquitNackEverythingAtOnce) {
  StartBroker({"--lease-ms", "30000"});
  for (int i = 0; i < 4; ++i) Publish("q-" + std::to_string(i));
  Process& a = StartWorker("nack-first", {"--concurrency", "2", "--restart-ms", "60000:60000",
                                          "--drain", "nack"});
  Process& b = StartWorker("quit", {"--concurrency", "2", "--restart-ms", "60000:60000"});
  // Held by each worker's loop (not merely sent by the broker; see the first test).
  ASSERT_TRUE(a.WaitForLog("; 2 messages in flight", 15s)) << a.Log();
  ASSERT_TRUE(b.WaitForLog("; 2 messages in flight", 15s)) << b.Log();
  const auto t0 = std::chrono::steady_clock::now();
  a.Signal(SIGTERM);
  b.Signal(SIGQUIT);
  EXPECT_EQ(a.Wait(10s), 0) << a.Log();
  EXPECT_EQ(b.Wait(10s), 0) << b.Log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "the 30 s grace was not skipped";
  EXPECT_EQ(Queue().nacked, 4u);
}

TEST_F(WorkerTest, SecondSigtermCutsTheGraceShort) {
  StartBroker({"--lease-ms", "30000"});
  Publish("s-1");
  Process& w = StartWorker("twice", {"--restart-ms", "60000:60000", "--grace", "60s"});
  ASSERT_TRUE(w.WaitForLog("message s-1 (attempt 1) held by the loop", 15s)) << w.Log();
  w.Signal(SIGTERM);
  ASSERT_TRUE(w.WaitForLog("draining", 5s)) << w.Log();
  w.Signal(SIGTERM);
  EXPECT_EQ(w.Wait(10s), 0) << w.Log();
  EXPECT_EQ(Queue().nacked, 1u);
}

}  // namespace
}  // namespace mandrill::testing
