// The exec handler with real child processes (real clock, no sockets): payload and environment
// in, exit status and stderr out, and no process left behind on timeout, cancellation or exit.
#include "worker/handlers/exec_handler.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/unit/worker/worker_test_util.h"
#include "worker/loop/consumer.h"

namespace mandrill::worker::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

pid_t ReadPid(const std::string& path) {
  const std::string text = ReadFile(path);
  return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
}

// Dead or a zombie nobody reaps (an orphan whose new parent does not wait).
bool Gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

// Observed from outside (another process): polled, bounded.
bool GoneWithin(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!Gone(pid)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class ExecHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // as mandrill-worker does
    dir_ = std::filesystem::temp_directory_path() /
           ("mandrill-exec-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  struct Result {
    std::vector<RecordingOutbox::Sent> sent;
    long long took_ms = 0;
  };
  // Runs `command` on one message (payload, attempt 2) with the given handler timeout; if
  // `lose_after` > 0, reports the lease lost that long after the start and waits for the task.
  Result Run(const std::string& command, std::string payload, runtime::Duration timeout,
             std::chrono::milliseconds kill_grace = std::chrono::milliseconds(5000),
             runtime::Duration lose_after = runtime::Duration::zero()) {
    Result r;
    ExecHandler handler(command, kill_grace);
    runtime::Loop loop;
    loop.Run(Drive(&handler, std::move(payload), timeout, lose_after, &r));
    return r;
  }

 private:
  static runtime::Task<void> Drive(ExecHandler* handler, std::string payload,
                                   runtime::Duration timeout, runtime::Duration lose_after,
                                   Result* r) {
    const auto start = runtime::Loop::Current()->Now();
    RecordingOutbox out(start);
    ConsumerOptions o;
    o.handler_timeout = timeout;
    o.stats_interval = runtime::Duration::zero();
    Consumer consumer(o, *handler, out, nullptr);
    runtime::Supervisor sup("test");
    sup.Spawn("consumer", consumer.Run());
    consumer.OnWelcome(WelcomeFrom("b", 60'000));
    consumer.OnDeliveries(Items({Item(1, std::move(payload), 2, 60'000, "msg-1")}));
    if (lose_after > runtime::Duration::zero()) {
      co_await runtime::Sleep(lose_after);
      consumer.OnLeasesLost({1});
      consumer.Stop(60s);  // returns once the cancelled task has really ended
    } else {
      co_await out.WaitSettled(1);
      consumer.Stop(runtime::Duration::zero());
    }
    co_await sup.Join();
    for (const auto& s : out.sent) {
      if (s.kind == RecordingOutbox::Sent::kAck || s.kind == RecordingOutbox::Sent::kNack) {
        r->sent.push_back(s);  // the settlements (not the drain's CREDIT 0)
      }
    }
    r->took_ms = MsSince(start);
  }

  std::filesystem::path dir_;
};

TEST_F(ExecHandlerTest, PayloadOnStdinAndMessageInTheEnvironment) {
  const auto r = Run("cat > " + Path("payload") + "; echo \"$MANDRILL_MESSAGE_ID $MANDRILL_ATTEMPT "
                     "$MANDRILL_QUEUE\" > " + Path("env"),
                     "restart cattle-x7q2", 10s);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].kind, RecordingOutbox::Sent::kAck);
  EXPECT_EQ(ReadFile(Path("payload")), "restart cattle-x7q2");
  EXPECT_EQ(ReadFile(Path("env")), "msg-1 2 restarts\n");
}

TEST_F(ExecHandlerTest, LargePayloadIsWrittenWithoutBlockingTheLoop) {
  const std::string big(3 << 20, 'x');  // far more than a pipe holds
  const auto r = Run("wc -c > " + Path("count"), big, 30s);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].kind, RecordingOutbox::Sent::kAck);
  EXPECT_EQ(std::stol(ReadFile(Path("count"))), static_cast<long>(big.size()));
}

TEST_F(ExecHandlerTest, CommandIgnoringStdinIsFine) {
  const std::string big(1 << 20, 'x');
  const auto r = Run("exit 0", big, 10s);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].kind, RecordingOutbox::Sent::kAck);
}

TEST_F(ExecHandlerTest, NonZeroExitIsNackedWithTheTailOfStderr) {
  const auto r = Run("echo 'disk full' >&2; echo 'giving up' >&2; exit 3", "x", 10s);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].kind, RecordingOutbox::Sent::kNack);
  EXPECT_EQ(r.sent[0].reason, "exit status 3: disk full\ngiving up");
  EXPECT_EQ(r.sent[0].value, 1000u);  // attempt 2: 500 ms * 2
}

TEST_F(ExecHandlerTest, KilledCommandIsReportedWithItsSignal) {
  const auto r = Run("kill -9 $$", "x", 10s);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].reason.rfind("killed by signal 9", 0), 0u) << r.sent[0].reason;
}

TEST_F(ExecHandlerTest, TimeoutTerminatesTheWholeProcessGroup) {
  const auto r = Run("echo $$ > " + Path("sh.pid") + "; sleep 60 & echo $! > " +
                         Path("sleep.pid") + "; wait",
                     "x", 500ms);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].reason, "timeout");
  EXPECT_LT(r.took_ms, 4000) << "SIGTERM should have been enough";
  const pid_t sh = ReadPid(Path("sh.pid")), sleeper = ReadPid(Path("sleep.pid"));
  ASSERT_GT(sh, 0);
  ASSERT_GT(sleeper, 0);
  EXPECT_TRUE(Gone(sh)) << "the command was reaped before the nack";
  EXPECT_TRUE(GoneWithin(sleeper, std::chrono::seconds(5))) << "its child was left behind";
}

TEST_F(ExecHandlerTest, CommandIgnoringSigtermIsKilledAfterTheKillGrace) {
  const auto r = Run("trap '' TERM; echo $$ > " + Path("sh.pid") + "; sleep 60 & echo $! > " +
                         Path("sleep.pid") + "; wait; wait; wait",
                     "x", 300ms, std::chrono::milliseconds(400));
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].reason, "timeout");
  EXPECT_GE(r.took_ms, 300 + 400);
  EXPECT_TRUE(Gone(ReadPid(Path("sh.pid"))));
  EXPECT_TRUE(GoneWithin(ReadPid(Path("sleep.pid")), std::chrono::seconds(5)));
}

TEST_F(ExecHandlerTest, LostLeaseCancelsTheCommandAndSendsNothing) {
  const auto r = Run("echo $$ > " + Path("sh.pid") + "; exec sleep 60", "x", 60s,
                     std::chrono::milliseconds(5000), 500ms);
  EXPECT_TRUE(r.sent.empty());
  EXPECT_LT(r.took_ms, 4000);
  EXPECT_TRUE(Gone(ReadPid(Path("sh.pid"))));
}

TEST_F(ExecHandlerTest, BackgroundProcessLeftByASuccessfulCommandIsKilled) {
  const auto r = Run("sleep 60 & echo $! > " + Path("sleep.pid") + "; exit 0", "x", 10s);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].kind, RecordingOutbox::Sent::kAck);
  EXPECT_TRUE(GoneWithin(ReadPid(Path("sleep.pid")), std::chrono::seconds(5)));
}

TEST(ExecHandlerFactoryTest, ExecNeedsACommand) {
  HandlerConfig config;
  auto h = ExecHandler::Create(config);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("--exec"), std::string::npos);
}

}  // namespace
}  // namespace mandrill::worker::testing
