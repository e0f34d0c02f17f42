// A broker whose --max-payload-bytes is above the worker's 1 MiB default: the worker decodes
// with the limits the WELCOME carries, so the large message is handled and acked. The worker
// used to drop such DELIVERs whole, without a nack, until their leases expired (issue 11 item 7).
#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

TEST_F(WorkerTest, PayloadAboveTheDefaultLimitIsHandledWhenTheBrokerAllowsIt) {
  StartBroker({"--max-payload-bytes", std::to_string(3u << 20), "--max-deliveries", "1"});
  Process& w = StartWorker("big", {"--handler", "noop"});
  Publish("big-1", std::string(2u << 20, 'p'));
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 1; }, 15s)) << w.Log();
  EXPECT_EQ(Queue().dead, 0u);
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_EQ(w.Log().find("undecodable"), std::string::npos) << w.Log();
}

}  // namespace
}  // namespace mandrill::testing
