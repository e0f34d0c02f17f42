#pragma once
// A scripted broker for NetThread tests: a ROUTER in this process on loopback, a NetThread
// connected to it, and a recording sink standing in for the loop side. Every wait is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <zmq.hpp>

#include "shared/protocol/transport.h"
#include "tests/support/process.h"
#include "tests/support/socket_wait.h"
#include "worker/net/net_thread.h"

namespace mandrill::testing {

using namespace std::chrono_literals;

// What the loop side would be: takes deliveries until it is full (`refuse`) or closed (`close`,
// as a Bridge is once the loop stops).
class RecordingSink final : public worker::DeliverySink {
 public:
  bool OnDeliveries(std::vector<protocol::DeliverItem>& items) override {
    std::lock_guard lock(mu_);
    if (refuse || close) {
      ++refused_;
      return false;
    }
    for (const auto& i : items) taken_.push_back(i.lease_id);
    items.clear();
    return true;
  }
  bool closed() const override { return close; }
  void OnLeasesLost(std::vector<std::uint64_t>) override {}
  void OnSessionLost(std::string) override {}
  void OnExtended(std::vector<protocol::ExtendedItem>) override {}
  void OnWelcome(const protocol::Welcome&) override {}
  void OnNetStopped(std::string reason, bool failed) override {
    std::lock_guard lock(mu_);
    stopped_ = true;
    failed_ = failed;
    stop_reason_ = std::move(reason);
  }
  // Whether the network thread has stopped, whether it failed, and why.
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  bool failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }
  std::string stop_reason() {
    std::lock_guard lock(mu_);
    return stop_reason_;
  }

  std::vector<std::uint64_t> taken() {
    std::lock_guard lock(mu_);
    return taken_;
  }
  int refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }
  std::atomic<bool> refuse{false}, close{false};

 private:
  std::mutex mu_;
  std::vector<std::uint64_t> taken_;
  int refused_ = 0;
  bool stopped_ = false, failed_ = false;
  std::string stop_reason_;
};

inline protocol::DeliverItem Item(std::uint64_t lease) {
  protocol::DeliverItem d;
  d.lease_id = lease;
  d.id = "m" + std::to_string(lease);
  d.queue = "q";
  d.attempt = 1;
  d.lease_ms = 30000;
  return d;
}

class ScriptedBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = LoopbackEndpoint(FreePort());
    router_.bind(endpoint_);
    worker::NetOptions o;
    o.broker = endpoint_;
    o.name = "closer";
    o.queues = {"q"};
    o.credit = 10;
    o.seed = 7;
    net_ = std::make_unique<worker::NetThread>(o, context_, settlements_, sink_);
    net_->Start();
  }
  void TearDown() override {
    settlements_.RequestClose();
    // Answer the close's STATS round trip (else it waits out its bound) until the goodbye.
    const auto until = In(5s);
    while (!said_goodbye_ && !peer_.empty()) {
      auto m = Next(until);
      if (!m) break;
      if (auto* s = std::get_if<protocol::StatsRequest>(&*m)) {
        protocol::StatsReply reply;
        reply.request_id = s->request_id;
        Send(std::move(reply));
      }
    }
    net_.reset();  // joins
  }

  using Deadline = std::chrono::steady_clock::time_point;
  static Deadline In(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

  // The next frame from the worker other than a heartbeat, before `deadline` (shared by a loop of
  // calls, so a peer that keeps sending other frames cannot stretch the wait).
  std::optional<protocol::Message> Next(Deadline deadline) {
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !WaitReadable(router_, left.count())) return std::nullopt;
      protocol::Received in;
      if (!protocol::Receive(router_, in)) continue;
      peer_ = std::string(protocol::View(in.frames[0]));
      auto decoded = protocol::DecodeReceived(in, 1, protocol::Limits{});
      if (!decoded.ok()) {
        ADD_FAILURE() << "undecodable frame from the worker: " << decoded.error().message;
        return std::nullopt;
      }
      if (std::holds_alternative<protocol::Heartbeat>(decoded.value())) continue;
      said_goodbye_ = said_goodbye_ || std::holds_alternative<protocol::Disconnect>(decoded.value());
      return std::move(decoded).value();
    }
  }
  void Send(protocol::Message&& m) {
    ASSERT_EQ(protocol::Send(router_, m, peer_), protocol::SendResult::kSent);
  }
  // The leases of `n`, each checked for an immediate redelivery (delay 0) whose reason starts
  // with `reason`.
  static std::vector<std::uint64_t> LeasesOf(const protocol::Nack& n,
                                             const std::string& reason = "worker shutting down") {
    std::vector<std::uint64_t> out;
    for (const auto& i : n.items) {
      EXPECT_EQ(i.delay_ms, 0u) << "lease " << i.lease_id;
      EXPECT_EQ(i.reason.rfind(reason, 0), 0u) << "lease " << i.lease_id << ": " << i.reason;
      out.push_back(i.lease_id);
    }
    return out;
  }

  zmq::context_t context_{1};
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_, peer_;
  bool said_goodbye_ = false;
  worker::Settlements settlements_;
  RecordingSink sink_;
  std::unique_ptr<worker::NetThread> net_;
};

}  // namespace mandrill::testing
