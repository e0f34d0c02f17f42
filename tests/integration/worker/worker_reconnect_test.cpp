// The broker is SIGKILLed and restarted on the same port while the worker runs: the worker
// reconnects, announces itself again, drops the old broker's leases and carries on.
#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

TEST_F(WorkerTest, WorkerReconnectsToARestartedBrokerAndCarriesOn) {
  StartBroker({"--heartbeat-ms", "200"});
  const std::string ledger = dir_ + "/ledger.db";
  Process& w = StartWorker("survivor", {"--restart-ms", "4000:4000", "--ledger", ledger,
                                        "--reconnect-max", "500ms"});
  for (int i = 0; i < 3; ++i) Publish("before-" + std::to_string(i));
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 3; }, 15s)) << w.Log();
  // In flight when the broker dies: its lease dies with the broker, so the worker must cancel
  // the handler, not ack it to the new broker.
  Publish("in-flight", "restart cattle-slow");
  ASSERT_TRUE(w.WaitForLog("message in-flight (attempt 1) held by the loop", 10s)) << w.Log();

  broker_->Kill();
  publisher_ = nullptr;
  clients_.clear();
  StartBroker({"--heartbeat-ms", "200"});
  ASSERT_TRUE(Eventually([&] { return WorkerNamed("survivor").has_value(); }, 20s)) << w.Log();
  for (int i = 0; i < 3; ++i) Publish("after-" + std::to_string(i));
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 3; }, 15s)) << w.Log();
  EXPECT_TRUE(w.running());
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_EQ(LedgerRows(ledger, "message_id LIKE 'after-%'"), 3);
  const std::string log = w.Log();
  EXPECT_NE(log.find("broker restarted"), std::string::npos) << log;
  EXPECT_NE(log.find("acked 6, nacked 0 (error 0, timeout 0, shutdown 0), lease lost 1"),
            std::string::npos)
      << log;
}

TEST_F(WorkerTest, WorkerStartedBeforeTheBrokerConnectsWhenItComes) {
  port_ = FreePort();
  endpoint_ = LoopbackEndpoint(port_);
  Process& w = StartWorker("early", {"--handler", "noop", "--reconnect-max", "300ms"});
  StartBroker();
  ASSERT_TRUE(Eventually([&] { return WorkerNamed("early").has_value(); }, 15s)) << w.Log();
  Publish("late-1");
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 1; }, 15s)) << w.Log();
  w.Signal(SIGINT);
  EXPECT_EQ(w.Wait(15s), 0) << w.Log();
}

}  // namespace
}  // namespace mandrill::testing
