// The exec handler through the whole worker: a command cancelled by a timeout or a shutdown
// leaves no process behind.
#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

TEST_F(WorkerTest, ExecCommandKilledOnTimeoutLeavesNoProcessBehind) {
  StartBroker({"--max-deliveries", "1"});
  Process& w = StartWorker(
      "exec-timeout", {"--handler", "exec", "--handler-timeout", "500ms", "--exec",
                       "echo $$ > " + dir_ + "/$MANDRILL_MESSAGE_ID.pid; sleep 60 & echo $! > " +
                           dir_ + "/$MANDRILL_MESSAGE_ID.child; wait"});
  Publish("x-1");
  ASSERT_TRUE(Eventually([&] { return Queue().dead == 1; }, 20s)) << w.Log();
  const pid_t sh = std::stoi(ReadFile(dir_ + "/x-1.pid"));
  const pid_t child = std::stoi(ReadFile(dir_ + "/x-1.child"));
  EXPECT_TRUE(Eventually([&] { return Gone(sh) && Gone(child); }, 5s));
  w.Signal(SIGTERM);
  EXPECT_EQ(w.Wait(15s), 0) << w.Log();
}

TEST_F(WorkerTest, ExecCommandCancelledByShutdownLeavesNoProcessBehind) {
  StartBroker({"--lease-ms", "30000"});
  Process& w = StartWorker(
      "exec-drain", {"--handler", "exec", "--concurrency", "3", "--grace", "300ms", "--exec",
                     "echo $$ > " + dir_ + "/$MANDRILL_MESSAGE_ID.pid; exec sleep 60"});
  for (int i = 0; i < 3; ++i) Publish("e-" + std::to_string(i));
  ASSERT_TRUE(Eventually(
      [&] {
        for (int i = 0; i < 3; ++i) {
          if (ReadFile(dir_ + "/e-" + std::to_string(i) + ".pid").empty()) return false;
        }
        return true;
      },
      15s))
      << w.Log();
  w.Signal(SIGTERM);
  ASSERT_EQ(w.Wait(15s), 0) << w.Log();
  for (int i = 0; i < 3; ++i) {
    const pid_t pid = std::stoi(ReadFile(dir_ + "/e-" + std::to_string(i) + ".pid"));
    EXPECT_TRUE(Gone(pid)) << "pid " << pid << " outlived the worker";
  }
  EXPECT_EQ(Queue().nacked, 3u);
}

TEST_F(WorkerTest, ExecCommandGetsThePayloadAndAcks) {
  StartBroker();
  Process& w = StartWorker("exec-ok", {"--handler", "exec", "--exec",
                                       "cat > " + dir_ + "/$MANDRILL_MESSAGE_ID.in"});
  Publish("p-1", "restart cattle-x7q2");
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 1; }, 15s)) << w.Log();
  EXPECT_EQ(ReadFile(dir_ + "/p-1.in"), "restart cattle-x7q2");
  w.Signal(SIGTERM);
  EXPECT_EQ(w.Wait(15s), 0) << w.Log();
}

}  // namespace
}  // namespace mandrill::testing
