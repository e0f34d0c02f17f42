// A worker frozen (SIGSTOP) until the broker drops it, then resumed (SIGCONT), must rejoin the
// fleet every time. It used to stay out for good on about 6% of resumes: its reconnect closed
// the socket monitor's reader before the DEALER, a disconnect event emitted in between blocked
// libzmq's only I/O thread, and the worker never dialled again (issue 11, item 4).
#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "tests/integration/worker/worker_fixture.h"

namespace mandrill::testing {
namespace {

std::size_t Occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// True while process `pid` holds an ESTABLISHED TCP connection to 127.0.0.1:`port` (matched by
// socket inode in /proc/net/tcp). A frozen process cannot close its end, so once the broker
// closed the connection it stays in CLOSE_WAIT until the process resumes.
bool HasEstablishedConnection(pid_t pid, int port) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = ::opendir(fd_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      char target[128] = {};
      const std::string link = fd_dir + "/" + e->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      const std::string t(target, n > 0 ? static_cast<std::size_t>(n) : 0);
      if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
    }
    ::closedir(d);
  }
  char remote[32];
  std::snprintf(remote, sizeof remote, "0100007F:%04X", port);
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    std::istringstream f(line);
    std::string slot, local, rem, state, queues, timer, retr, uid, timeout, inode;
    f >> slot >> local >> rem >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (rem == remote && state == "01" && inodes.count(inode) > 0) return true;
  }
  return false;
}

int Cycles() {
  // MANDRILL_FREEZE_CYCLES shortens or lengthens the run by hand; the suite runs 100.
  const char* env = std::getenv("MANDRILL_FREEZE_CYCLES");
  const int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : 100;
}

TEST_F(WorkerTest, FrozenWorkerRejoinsAfterEveryResume) {
  // Short heartbeats so a freeze is noticed quickly by both sides: the broker drops the worker
  // (and its TCP connection) and the resumed worker finds the broker silent and re-creates its
  // socket while ZeroMQ reports the disconnect: the race that used to hang.
  StartBroker({"--heartbeat-ms", "100"});
  Process& w = StartWorker("frozen", {"--handler", "noop", "--reconnect-max", "200ms"});
  ASSERT_TRUE(Eventually([&] { return WorkerNamed("frozen").has_value(); }, 15s)) << w.Log();

  const int cycles = Cycles();
  int rejoined = 0;
  for (int i = 0; i < cycles; ++i) {
    w.Signal(SIGSTOP);
    // Frozen until the broker has dropped the session and closed the TCP connection (its ZMTP
    // heartbeat timeout): on resume the disconnect event and the worker's own re-creation of its
    // socket then happen together, every cycle.
    const bool dropped = Eventually(
        [&] {
          return !WorkerNamed("frozen").has_value() && !HasEstablishedConnection(w.pid(), port_);
        },
        10s);
    const std::size_t welcomes = Occurrences(w.Log(), "welcomed by broker");
    w.Signal(SIGCONT);
    ASSERT_TRUE(dropped) << "cycle " << i << ": the broker kept a frozen worker's session or "
                         << "connection";
    const bool back = Eventually(
        [&] {
          return Occurrences(w.Log(), "welcomed by broker") > welcomes &&
                 WorkerNamed("frozen").has_value();
        },
        15s);
    ASSERT_TRUE(back) << "cycle " << i << ": the resumed worker never rejoined (" << rejoined
                      << " of " << i << " before did)\n"
                      << w.Log().substr(w.Log().size() > 4000 ? w.Log().size() - 4000 : 0);
    ++rejoined;
  }
  std::cout << "freeze cycles: " << rejoined << " of " << cycles << " resumes rejoined\n";

  // Still a working member of the fleet, and it stops cleanly.
  Publish("after-freezes");
  ASSERT_TRUE(Eventually([&] { return Queue().acked == 1; }, 15s)) << w.Log();
  w.Signal(SIGTERM);
  EXPECT_EQ(w.Wait(15s), 0) << w.Log();
}

}  // namespace
}  // namespace mandrill::testing
