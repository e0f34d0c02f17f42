// Handler outcomes end to end: an exception is nacked with its text, redelivered and counted; a
// hung handler times out and is nacked "timeout".
#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

TEST_F(WorkerTest, HandlerExceptionIsNackedRedeliveredAndCounted) {
  StartBroker({"--max-deliveries", "5"});
  // Fails on the first attempt (non-zero exit: the exec handler throws), succeeds on the second.
  Process& w = StartWorker(
      "flaky", {"--handler", "exec", "--retry-initial", "50ms", "--exec",
                "test \"$MANDRILL_ATTEMPT\" -ge 2 || { echo \"boom on attempt $MANDRILL_ATTEMPT\" "
                ">&2; exit 3; }"});
  Publish("flaky-1");
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 1; }, 20s)) << w.Log();
  const auto q = Queue();
  EXPECT_EQ(q.nacked, 1u);
  EXPECT_EQ(q.redelivered, 1u);
  EXPECT_EQ(q.dead, 0u);
  const auto ws = WorkerNamed("flaky");
  ASSERT_TRUE(ws.has_value());
  EXPECT_EQ(ws->acked, 1u);
  EXPECT_EQ(ws->nacked, 1u);
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  const std::string log = w.Log();
  EXPECT_NE(log.find("exit status 3: boom on attempt 1"), std::string::npos) << log;
  EXPECT_NE(log.find("acked 1, nacked 1 (error 1, timeout 0, shutdown 0)"), std::string::npos)
      << log;
}

TEST_F(WorkerTest, FailingRestartIsNackedWithItsReasonUntilDeadLettered) {
  StartBroker({"--max-deliveries", "2"});
  Process& w = StartWorker("failing", {"--fail-rate", "1", "--restart-ms", "5:5",
                                       "--retry-initial", "10ms"});
  Publish("doomed-1", "restart cattle-doomed");
  ASSERT_TRUE(Eventually([&] { return Queue().dead == 1; }, 20s)) << w.Log();
  const auto dead = DeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, "doomed-1");
  EXPECT_EQ(dead[0].attempts, 2u);
  EXPECT_EQ(dead[0].last_error, "restart of cattle-doomed failed (simulated)");
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_NE(w.Log().find("nacked 2 (error 2"), std::string::npos) << w.Log();
}

// The ledger says what each attempt did: a failed restart is a 'failed' row (written before its
// nack), never a row that reads as processed; only a completed restart is 'restarted'. Rows
// used to be written concurrently with the restart, so failed attempts left "processed" rows.
TEST_F(WorkerTest, LedgerRecordsFailedAttemptsAsFailedAndOnlyCompletedRestartsAsRestarted) {
  StartBroker({"--max-deliveries", "2"});
  const std::string ledger = dir_ + "/ledger.db";
  Process& w = StartWorker("failing", {"--fail-rate", "1", "--restart-ms", "5:5",
                                       "--retry-initial", "10ms", "--ledger", ledger});
  Publish("doomed-1", "restart cattle-doomed");
  ASSERT_TRUE(Eventually([&] { return Queue().dead == 1; }, 20s)) << w.Log();
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_EQ(LedgerRows(ledger, "message_id = 'doomed-1' AND outcome = 'failed' AND error = "
                               "'restart of cattle-doomed failed (simulated)'"),
            2);
  EXPECT_EQ(LedgerRows(ledger, "outcome IS NOT 'failed'"), 0);

  Process& ok = StartWorker("fine", {"--restart-ms", "5:5", "--ledger", ledger});
  Publish("fine-1", "restart cattle-fine");
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 1; }, 20s)) << ok.Log();
  ok.Signal(SIGTERM);
  ASSERT_EQ(ok.Wait(15s), 0) << ok.Log();
  EXPECT_EQ(LedgerRows(ledger, "message_id = 'fine-1' AND outcome = 'restarted' AND error IS "
                               "NULL AND worker = 'fine'"),
            1);
}

TEST_F(WorkerTest, HungHandlerTimesOutAndIsNacked) {
  StartBroker({"--max-deliveries", "1"});
  Process& w = StartWorker("hung", {"--handler", "exec", "--exec", "exec sleep 60",
                                    "--handler-timeout", "500ms"});
  Publish("hung-1");
  ASSERT_TRUE(Eventually([&] { return Queue().dead == 1; }, 20s)) << w.Log();
  const auto dead = DeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].last_error, "timeout");
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  EXPECT_NE(w.Log().find("nacked 1 (error 0, timeout 1, shutdown 0)"), std::string::npos)
      << w.Log();
}

}  // namespace
}  // namespace mandrill::testing
