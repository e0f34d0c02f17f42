#pragma once
// Runs a real mandrill-broker (memory storage unless told otherwise) on a free loopback port and
// real mandrill-worker processes against it; scripted clients for publishing and admin. Every
// process is killed by PID at teardown; files stay for post-mortem when a test fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "tests/support/client.h"
#include "tests/support/process.h"

namespace mandrill::testing {

using namespace std::chrono_literals;

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("mandrill-worker-test"); }
  void TearDown() override {
    clients_.clear();
    workers_.clear();
    broker_.reset();
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
    } else {
      std::cerr << "worker test files kept in " << dir_ << "\n";
    }
  }

  // Starts (or restarts on the same port) the broker with `flags` after test defaults.
  void StartBroker(std::vector<std::string> flags = {}) {
    if (port_ == 0) port_ = FreePort();
    endpoint_ = LoopbackEndpoint(port_);
    broker_ = std::make_unique<Process>(BrokerArgv(endpoint_, dir_ + "/data", flags),
                                        dir_ + "/broker-" + std::to_string(++brokers_) + ".log");
    ASSERT_TRUE(broker_->WaitForLog("listening on", 10s)) << broker_->Log();
  }

  // Starts a mandrill-worker named `name` consuming "restarts" with `flags` after the defaults.
  Process& StartWorker(const std::string& name, std::vector<std::string> flags) {
    std::vector<std::string> argv = {Binary("mandrill-worker"), "--broker", endpoint_, "--queue",
                                     "restarts", "--name", name, "--log-level", "debug"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    workers_.push_back(std::make_unique<Process>(argv, dir_ + "/" + name + ".log"));
    return *workers_.back();
  }

  Client& NewClient(const std::string& identity = {}) {
    clients_.push_back(std::make_unique<Client>(context_, endpoint_, identity));
    return *clients_.back();
  }

  void Publish(const std::string& id, const std::string& payload = "restart cattle-test") {
    if (publisher_ == nullptr) publisher_ = &NewClient();
    publisher_->PublishConfirmed("restarts", id, payload);
  }

  protocol::StatsReply Stats() {
    Client& admin = NewClient();
    admin.Send(protocol::StatsRequest{7});
    auto reply = admin.Expect<protocol::StatsReply>(5s);
    EXPECT_TRUE(reply.has_value()) << "no STATS_REPLY";
    clients_.pop_back();
    return reply.value_or(protocol::StatsReply{});
  }
  protocol::QueueStats Queue(const std::string& name = "restarts") {
    for (auto& q : Stats().queues) {
      if (q.name == name) return q;
    }
    return {};
  }
  std::optional<protocol::WorkerStats> WorkerNamed(const std::string& name) {
    for (auto& w : Stats().workers) {
      if (w.name == name) return w;
    }
    return std::nullopt;
  }
  std::int64_t Counter(const protocol::StatsReply& s, const std::string& name) {
    for (const auto& [k, v] : s.counters) {
      if (k == name) return v;
    }
    return -1;
  }
  std::vector<protocol::DeadLetter> DeadLetters() {
    Client& admin = NewClient();
    admin.Send(protocol::DlqListRequest{9, "restarts", 100});
    auto reply = admin.Expect<protocol::DlqListReply>(5s);
    EXPECT_TRUE(reply.has_value()) << "no DLQ_LIST_REPLY";
    clients_.pop_back();
    return reply ? reply->items : std::vector<protocol::DeadLetter>{};
  }

  // Rows in a worker's SQLite ledger matching `where`.
  static std::int64_t LedgerRows(const std::string& path, const std::string& where = "1") {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    std::int64_t n = -1;
    const std::string sql = "SELECT COUNT(*) FROM processed WHERE " + where;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // True once `pid` no longer exists (or is a zombie nobody reaps).
  static bool Gone(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
    const auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
  }

  zmq::context_t context_{1};
  std::string dir_;
  int port_ = 0;
  int brokers_ = 0;
  std::string endpoint_;
  std::unique_ptr<Process> broker_;
  std::vector<std::unique_ptr<Process>> workers_;
  std::vector<std::unique_ptr<Client>> clients_;
  Client* publisher_ = nullptr;
};

}  // namespace mandrill::testing
