// mandrill-ctl top against the fake broker: --once as plain text, the stats --json additions,
// and the full-screen mode in a real terminal (a private tmux server): drawn within 80x24,
// left with q, nothing left running.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <optional>
#include <thread>

#include "tests/integration/publisher/fake_broker.h"
#include "tests/integration/publisher/publisher_test_util.h"

namespace mandrill::publisher::testing {
namespace {

FakeBrokerScript TopScript() {
  FakeBrokerScript s;
  s.stats.broker_id = "b-top";
  s.stats.uptime_ms = 65'000;
  protocol::QueueStats q;
  q.name = "restarts";
  q.ready = 7;
  q.in_flight = 1;
  q.published = 500;
  q.acked = 492;
  q.oldest_ready_ms = 185'000;
  q.consumers = 1;
  s.stats.queues.push_back(q);
  protocol::WorkerStats w;
  w.name = "worker-a";
  w.peer = "0a1b";
  w.queues = {"restarts"};
  w.credit = 4;
  w.in_flight = 1;
  w.tasks = {{"task-42", "restarts", 3, 4200, -1}};
  s.stats.workers.push_back(w);
  s.stats.queues_total = 1;
  s.stats.workers_total = 1;
  return s;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

std::size_t Widest(const std::vector<std::string>& lines) {
  std::size_t w = 0;
  for (const auto& l : lines) w = std::max(w, l.size());
  return w;
}

class CtlTopTest : public PublisherProcessTest {
 protected:
  Process StartCtl(std::vector<std::string> args, const std::string& timeout = "5s") {
    std::vector<std::string> argv = {Binary("mandrill-ctl"), "--broker", endpoint_, "--timeout",
                                     timeout};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv, Path("ctl.log"));
  }
};

TEST_F(CtlTopTest, OnceShowsQueueWorkerAndTaskWithinEightyByTwentyFour) {
  FakeBroker broker(endpoint_, TopScript());
  auto p = StartCtl({"top", "--once", "--interval", "200ms"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const std::string out = p.Log();
  const auto lines = Lines(out);
  EXPECT_LE(lines.size(), 24u) << out;
  EXPECT_LE(Widest(lines), 80u) << out;
  EXPECT_NE(out.find("broker b-top  up 1m05s  queues 1  workers 1"), std::string::npos) << out;
  // Same counters in both samples: rates are 0, not "-".
  EXPECT_NE(out.find("restarts      7        1      0     0    0.0    0.0   3m05s     1"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("worker-a       4         1    0.0"), std::string::npos) << out;
  EXPECT_NE(out.find("worker-a  task-42  restarts        3  4.2s    -"), std::string::npos) << out;
  // Two samples, --interval apart.
  const auto requests = broker.admin_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<protocol::StatsRequest>(requests[1]));
}

TEST_F(CtlTopTest, OnceAgainstSilentBrokerExitsTwo) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  auto p = StartCtl({"top", "--once"}, "300ms");
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  EXPECT_EQ(p.Log(), "mandrill-ctl: no answer from " + endpoint_ +
                         " within 300ms: is mandrill-broker running?\n");
}

TEST_F(CtlTopTest, OnceErrorReplyExitsOne) {
  auto script = TopScript();
  protocol::Error e;
  e.code = protocol::ErrorCode::kInvalidArgument;
  e.reason = "not today";
  script.admin_error = e;
  FakeBroker broker(endpoint_, script);
  auto p = StartCtl({"top", "--once"});
  ASSERT_EQ(ExitCode(p), 1) << p.Log();
  EXPECT_EQ(p.Log(), "mandrill-ctl: not today (code 104 invalid argument)\n");
}

TEST_F(CtlTopTest, InteractiveWithoutTerminalExitsTwoSuggestingOnce) {
  FakeBroker broker(endpoint_, TopScript());
  auto p = StartCtl({"top"});  // stdout is the log file
  ASSERT_EQ(ExitCode(p), 2) << p.Log();
  EXPECT_EQ(p.Log(),
            "mandrill-ctl: top needs a terminal on stdout; use 'top --once' for plain text\n");
  EXPECT_TRUE(broker.admin_requests().empty());
}

TEST_F(CtlTopTest, BadIntervalIsAUsageError) {
  auto p = StartCtl({"top", "--once", "--interval", "soon"});
  ASSERT_EQ(ExitCode(p, 10s), 64) << p.Log();
  EXPECT_EQ(p.Log().rfind("mandrill-ctl: ", 0), 0u) << p.Log();
}

TEST_F(CtlTopTest, StatsJsonCarriesQueueAgeConsumersAndTasks) {
  auto script = TopScript();
  script.stats.workers[0].tasks.push_back({"task-43", "restarts", 1, 900, 850});
  FakeBroker broker(endpoint_, script);
  auto p = StartCtl({"stats", "--json"});
  ASSERT_EQ(ExitCode(p), 0) << p.Log();
  const std::string out = p.Log();
  EXPECT_NE(out.find("\"oldest_ready_ms\":185000,\"consumers\":1}"), std::string::npos) << out;
  EXPECT_NE(out.find("\"tasks\":[{\"id\":\"task-42\",\"queue\":\"restarts\",\"attempt\":3,"
                     "\"leased_ms\":4200,\"running_ms\":null},{\"id\":\"task-43\",\"queue\":"
                     "\"restarts\",\"attempt\":1,\"leased_ms\":900,\"running_ms\":850}]"),
            std::string::npos)
      << out;
}

// A tmux server of our own (-L NAME), so the test neither sees nor touches anyone else's.
class Tmux {
 public:
  Tmux(std::string binary, std::string dir)
      : binary_(std::move(binary)),
        dir_(std::move(dir)),
        socket_("mandrill-top-" + std::to_string(::getpid()) + "-" + std::to_string(servers_++)) {}
  ~Tmux() { Run({"kill-server"}); }  // also hangs up whatever still runs in its panes

  // Runs `tmux -L socket args...` to completion; its exit code (-1: it hung) and output.
  int Run(const std::vector<std::string>& args, std::string* output = nullptr) {
    const std::string log = dir_ + "/tmux-" + std::to_string(runs_++) + ".out";
    // env -u TMUX: a test run from inside tmux must not talk to that server.
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "TMUX", binary_, "-L", socket_,
                                     "-f", "/dev/null"};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv, log);
    const auto code = p.Wait(10s);
    if (output != nullptr) *output = p.Log();
    std::remove(log.c_str());
    return code.value_or(-1);
  }

 private:
  std::string binary_;
  std::string dir_;
  std::string socket_;
  int runs_ = 0;
  static inline int servers_ = 0;  // distinct names within this process
};

// Nothing tells us when tmux has drawn the screen or closed the session: ask every 50 ms
// (each ask runs a tmux client), for 10 s at most.
bool WithinTenSeconds(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

std::string FindTmux() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/tmux";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

// Top in an 80x24 terminal of a private tmux server; skipped without tmux (failed under CI).
class CtlTopScreenTest : public CtlTopTest {
 protected:
  void SetUp() override {
    CtlTopTest::SetUp();
    const std::string binary = FindTmux();
    if (binary.empty()) {
      if (std::getenv("CI") != nullptr) FAIL() << "tmux is required in CI";
      GTEST_SKIP() << "tmux is not installed";
    }
    tmux_.emplace(binary, dir_);
  }

  // Starts `mandrill-ctl --broker EP --timeout T top ARGS` (or `targets` instead of --broker
  // EP) in a new session; the shell around it writes top's exit code to rc_file() once top has
  // exited, and the session ends with it.
  void StartTop(const std::string& timeout, const std::string& args,
                const std::string& targets = "") {
    const std::string command = "'" + Binary("mandrill-ctl") + "' " +
                                (targets.empty() ? "--broker " + endpoint_ : targets) +
                                " --timeout " + timeout + " top " + args + "; echo $? > '" +
                                rc_file() + "'";
    // More than one argument: tmux runs them as is, not through the user's $SHELL.
    ASSERT_EQ(tmux_->Run({"new-session", "-d", "-x", "80", "-y", "24", "/bin/sh", "-c", command}),
              0);
  }

  // The screen once it shows every one of `needles` (or after 10 s, for the failure message).
  bool WaitForScreen(const std::vector<std::string>& needles, std::string& screen) {
    return WithinTenSeconds([&] {
      if (tmux_->Run({"capture-pane", "-p"}, &screen) != 0) return false;
      return std::all_of(needles.begin(), needles.end(),
                         [&](const auto& n) { return screen.find(n) != std::string::npos; });
    });
  }

  // Sends `key`; expects the session to end and top to have exited 0.
  void ExpectKeyQuits(const std::string& key) {
    ASSERT_EQ(tmux_->Run({"send-keys", key}), 0);
    EXPECT_TRUE(WithinTenSeconds([&] { return tmux_->Run({"has-session"}) != 0; }))
        << "the session outlived " << key;
    const auto rc = ReadLines(rc_file());
    ASSERT_EQ(rc.size(), 1u) << "top did not exit";
    EXPECT_EQ(rc[0], "0");
  }

  std::string rc_file() const { return Path("top.rc"); }

  std::optional<Tmux> tmux_;
};

TEST_F(CtlTopScreenTest, ShowsTasksWithinTheTerminalAndQuitsOnQ) {
  FakeBroker broker(endpoint_, TopScript());
  StartTop("5s", "--interval 200ms");
  std::string screen;
  ASSERT_TRUE(WaitForScreen({"restarts", "task-42  restarts        3  4.2s", "q quits"}, screen))
      << "screen after 10 s:\n" << screen;
  const auto lines = Lines(screen);
  EXPECT_LE(lines.size(), 24u) << screen;
  EXPECT_LE(Widest(lines), 80u) << screen;
  EXPECT_NE(screen.find("worker-a"), std::string::npos) << screen;
  std::string modes;
  ASSERT_EQ(tmux_->Run({"display-message", "-p", "#{alternate_on} #{cursor_flag}"}, &modes), 0);
  EXPECT_EQ(modes, "1 0\n") << "want the alternate screen with the cursor hidden";
  ExpectKeyQuits("q");
}

TEST_F(CtlTopScreenTest, SigtermRestoresTheTerminal) {
  FakeBroker broker(endpoint_, TopScript());
  const std::string pid_file = Path("ctl.pid"), stty_file = Path("stty.txt");
  // The inner shell writes its pid and becomes top; after top the outer shell records the
  // terminal's modes and waits for a line, so the test can look at the screen top left.
  const std::string command = "/bin/sh -c \"echo \\$\\$ > " + pid_file + "; exec " +
                              Binary("mandrill-ctl") + " --broker " + endpoint_ +
                              " top --interval 200ms\"; echo $? > " + rc_file() +
                              "; stty -a > " + stty_file + ".new; mv " + stty_file + ".new " +
                              stty_file + "; read line";
  ASSERT_EQ(tmux_->Run({"new-session", "-d", "-x", "80", "-y", "24", "/bin/sh", "-c", command}),
            0);
  std::string screen;
  ASSERT_TRUE(WaitForScreen({"task-42"}, screen)) << screen;
  const auto pid = ReadLines(pid_file);
  ASSERT_EQ(pid.size(), 1u);
  ASSERT_EQ(::kill(std::stoi(pid[0]), SIGTERM), 0);

  ASSERT_TRUE(WithinTenSeconds([&] { return ::access(stty_file.c_str(), F_OK) == 0; }))
      << "top did not exit on SIGTERM";
  EXPECT_EQ(ReadLines(rc_file()), std::vector<std::string>{"0"});
  std::string stty;
  for (const auto& l : ReadLines(stty_file)) stty += " " + l + " ";
  for (const char* raw : {" -icanon ", " -echo ", " -isig "}) {
    EXPECT_EQ(stty.find(raw), std::string::npos) << raw << " left set:" << stty;
  }
  std::string modes;
  ASSERT_EQ(tmux_->Run({"display-message", "-p", "#{alternate_on} #{cursor_flag}"}, &modes), 0);
  EXPECT_EQ(modes, "0 1\n") << "want the normal screen with the cursor shown";
  ASSERT_EQ(tmux_->Run({"send-keys", "Enter"}), 0);
  EXPECT_TRUE(WithinTenSeconds([&] { return tmux_->Run({"has-session"}) != 0; }));
}

TEST_F(CtlTopScreenTest, SilentBrokerIsShownAndCtrlCStillQuits) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  // A long --timeout: Ctrl-C must not wait for the request in progress.
  StartTop("60s", "--interval 200ms");
  std::string screen;
  ASSERT_TRUE(WaitForScreen({"waiting for the broker"}, screen)) << screen;
  ASSERT_TRUE(broker.WaitForAdminRequests(1, 10s));
  ExpectKeyQuits("C-c");
}

TEST_F(CtlTopScreenTest, BrokerNotAnsweringIsShownAndRetried) {
  FakeBrokerScript script;
  script.silent = true;
  FakeBroker broker(endpoint_, script);
  StartTop("300ms", "--interval 200ms");
  std::string screen;
  ASSERT_TRUE(WaitForScreen({"broker not answering: no answer from"}, screen)) << screen;
  EXPECT_TRUE(broker.WaitForAdminRequests(3, 10s)) << "top stopped asking";
  ExpectKeyQuits("Q");
}

TEST_F(CtlTopScreenTest, CellsShowTheOthersBesideASilentCellAndQuitAtOnce) {
  FakeBrokerScript silent;
  silent.silent = true;
  FakeBroker quiet(endpoint_, silent);
  const std::string other = mandrill::testing::LoopbackEndpoint(mandrill::testing::FreePort());
  FakeBroker answering(other, TopScript());
  WriteFile(Path("cells"), "cell-1 " + other + "\ncell-2 " + endpoint_ + "\n");
  // Each sample waits one --timeout for the silent cell, so a request is nearly always in
  // progress when q comes: it must not wait for it.
  StartTop("1s", "--interval 200ms", "--cells '" + Path("cells") + "'");
  std::string screen;
  ASSERT_TRUE(
      WaitForScreen({"cells 1/2 answering", "cell-1  worker-a", "cell-2: no answer"}, screen))
      << screen;
  ASSERT_TRUE(quiet.WaitForAdminRequests(1, 10s));
  ExpectKeyQuits("q");
}

}  // namespace
}  // namespace mandrill::publisher::testing
