// A handler running five times the lease keeps its lease: no expiry, no redelivery, exactly one
// ledger row.
#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

TEST_F(WorkerTest, HandlerRunningFiveLeaseDurationsKeepsItsLease) {
  StartBroker({"--lease-ms", "2000", "--heartbeat-ms", "500"});
  const std::string ledger = dir_ + "/ledger.db";
  Process& w = StartWorker("patient", {"--restart-ms", "10000:10000", "--ledger", ledger});
  Publish("slow-1", "restart cattle-slow");
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 1; }, 30s)) << w.Log();
  const auto stats = Stats();
  ASSERT_EQ(stats.queues.size(), 1u);
  const auto& q = stats.queues[0];
  EXPECT_EQ(q.expired, 0u) << "the lease expired while the handler was working";
  EXPECT_EQ(q.redelivered, 0u);
  EXPECT_EQ(q.nacked, 0u);
  EXPECT_EQ(Counter(stats, "broker.lease_lost"), 0);
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_EQ(LedgerRows(ledger), 1);
  EXPECT_EQ(LedgerRows(ledger, "message_id = 'slow-1' AND attempt = 1 AND worker = 'patient'"), 1);
  // Extended about every two thirds of a lease: a handful of times, not once per heartbeat.
  const std::string log = w.Log();
  const auto at = log.find("lease extensions ");
  ASSERT_NE(at, std::string::npos) << log;
  const int extensions = std::stoi(log.substr(at + 17));
  EXPECT_GE(extensions, 6);
  EXPECT_LE(extensions, 9);
}

}  // namespace
}  // namespace mandrill::testing
