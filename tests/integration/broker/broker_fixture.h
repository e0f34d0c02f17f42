#pragma once
// Runs a real mandrill-broker on a free loopback port for each test and gives the test scripted
// protocol clients. The broker is killed by PID at teardown.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "tests/support/client.h"
#include "tests/support/process.h"

namespace mandrill::testing {

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("mandrill-broker-test");
  }
  void TearDown() override {
    clients_.clear();
    broker_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
    else std::cerr << "broker test files kept in " << dir_ << "\n";
  }

  // Starts (or restarts on the same port and data dir) the broker with `flags` added to defaults
  // suited to tests: memory storage unless overridden, fast heartbeats.
  void StartBroker(std::vector<std::string> flags = {}) {
    if (port_ == 0) port_ = FreePort();
    endpoint_ = LoopbackEndpoint(port_);
    // A log per start, so waiting for "listening on" never matches an earlier instance.
    broker_ = std::make_unique<Process>(BrokerArgv(endpoint_, dir_ + "/data", flags),
                                        dir_ + "/broker-" + std::to_string(++starts_) + ".log");
    ASSERT_TRUE(broker_->WaitForLog("listening on", std::chrono::seconds(10)))
        << "broker did not start:\n"
        << broker_->Log();
  }

  Client& NewClient(const std::string& identity = {}) {
    clients_.push_back(std::make_unique<Client>(context_, endpoint_, identity));
    return *clients_.back();
  }

  protocol::StatsReply Stats() {
    Client& admin = NewClient();
    admin.Send(protocol::StatsRequest{7});
    auto reply = admin.Expect<protocol::StatsReply>(std::chrono::seconds(5));
    EXPECT_TRUE(reply.has_value()) << "no STATS_REPLY";
    return reply.value_or(protocol::StatsReply{});
  }
  protocol::QueueStats QueueStatsFor(const std::string& queue) {
    for (auto& q : Stats().queues) {
      if (q.name == queue) return q;
    }
    ADD_FAILURE() << "no queue " << queue << " in stats";
    return {};
  }
  std::int64_t Counter(const protocol::StatsReply& s, const std::string& name) {
    for (const auto& [k, v] : s.counters) {
      if (k == name) return v;
    }
    ADD_FAILURE() << "no counter " << name;
    return -1;
  }

  zmq::context_t context_{1};
  std::string dir_;
  int port_ = 0;
  int starts_ = 0;
  std::string endpoint_;
  std::unique_ptr<Process> broker_;
  std::vector<std::unique_ptr<Client>> clients_;
};

inline protocol::Publish OneMessage(const std::string& queue, const std::string& id,
                                    const std::string& payload = "restart cattle-test") {
  return protocol::Publish{{protocol::PublishItem{queue, id, payload, {}}}};
}

}  // namespace mandrill::testing
