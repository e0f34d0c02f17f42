// The network thread's close against a scripted broker (a ROUTER in this process, on loopback):
// deliveries that the loop will never take (refused by its closed bridge, or arriving after the
// close was requested) are nacked for immediate redelivery before the DISCONNECT, so the broker
// counts them as nacked instead of releasing them with the connection.
#include <gtest/gtest.h>

#include <atomic>
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
namespace {

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
  void OnNetStopped(std::string, bool) override {}

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
};

protocol::DeliverItem Item(std::uint64_t lease) {
  protocol::DeliverItem d;
  d.lease_id = lease;
  d.id = "m" + std::to_string(lease);
  d.queue = "q";
  d.attempt = 1;
  d.lease_ms = 30000;
  return d;
}

class NetThreadCloseTest : public ::testing::Test {
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
  static std::vector<std::uint64_t> LeasesOf(const protocol::Nack& n) {
    std::vector<std::uint64_t> out;
    for (const auto& i : n.items) {
      EXPECT_EQ(i.delay_ms, 0u) << "lease " << i.lease_id;
      EXPECT_EQ(i.reason, "worker shutting down") << "lease " << i.lease_id;
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

TEST_F(NetThreadCloseTest, DeliveriesTheLoopWillNotTakeAreNackedBeforeTheDisconnect) {
  auto ready = Next(In(5s));
  ASSERT_TRUE(ready && std::holds_alternative<protocol::Ready>(*ready));
  Send(protocol::Welcome{"fake-broker", 1000, 30000, 600000});
  Send(protocol::Deliver{{Item(1)}});
  ASSERT_TRUE(Eventually([&] { return sink_.taken().size() == 1; }, 5s));

  // The loop is behind: lease 2 is refused and held by the network thread (back-pressure), and
  // the close comes before the loop has room again.
  sink_.refuse = true;
  Send(protocol::Deliver{{Item(2)}});
  ASSERT_TRUE(Eventually([&] { return sink_.refused() == 1; }, 5s));
  settlements_.Ack(1);
  settlements_.RequestClose();

  // Up to the close's STATS round trip: the loop's ACK and the held delivery's NACK.
  std::vector<std::uint64_t> acked, nacked;
  std::optional<std::uint64_t> sync_id;
  for (const auto until = In(5s); !sync_id;) {
    auto m = Next(until);
    ASSERT_TRUE(m) << "no STATS request: the close never asked the broker to confirm";
    if (auto* a = std::get_if<protocol::Ack>(&*m)) acked.insert(acked.end(), a->leases.begin(), a->leases.end());
    if (auto* n = std::get_if<protocol::Nack>(&*m)) {
      for (auto id : LeasesOf(*n)) nacked.push_back(id);
    }
    if (auto* s = std::get_if<protocol::StatsRequest>(&*m)) sync_id = s->request_id;
    ASSERT_FALSE(std::holds_alternative<protocol::Disconnect>(*m)) << "DISCONNECT before the sync";
  }
  EXPECT_EQ(acked, std::vector<std::uint64_t>{1});
  EXPECT_EQ(nacked, std::vector<std::uint64_t>{2});

  // Sent before the broker saw CREDIT 0, arriving together with the sync's answer.
  Send(protocol::Deliver{{Item(3), Item(4)}});
  protocol::StatsReply reply;
  reply.request_id = *sync_id;
  Send(std::move(reply));
  nacked.clear();
  bool said_goodbye = false;
  for (const auto until = In(5s); !said_goodbye;) {
    auto m = Next(until);
    ASSERT_TRUE(m) << "no DISCONNECT after the sync";
    if (auto* n = std::get_if<protocol::Nack>(&*m)) {
      for (auto id : LeasesOf(*n)) nacked.push_back(id);
    }
    said_goodbye = std::holds_alternative<protocol::Disconnect>(*m);
  }
  EXPECT_EQ(nacked, (std::vector<std::uint64_t>{3, 4})) << "late deliveries must precede DISCONNECT";
  net_->Join();
  EXPECT_EQ(net_->counters().nacked_on_close.load(), 3u);
  EXPECT_EQ(sink_.taken(), std::vector<std::uint64_t>{1}) << "the closed loop side got more";
}

// The loop closed its side a moment before its close request reaches the network thread: a
// delivery refused in between is nacked at once, not mistaken for back-pressure and held.
TEST_F(NetThreadCloseTest, DeliveryRefusedByAClosedLoopIsNackedAtOnce) {
  auto ready = Next(In(5s));
  ASSERT_TRUE(ready && std::holds_alternative<protocol::Ready>(*ready));
  Send(protocol::Welcome{"fake-broker", 1000, 30000, 600000});
  sink_.close = true;
  Send(protocol::Deliver{{Item(5), Item(6)}});
  // CREDIT 0 first, so the broker does not deliver the nacked messages straight back; then the
  // NACK, with no back-pressure hold in between.
  std::vector<std::uint64_t> nacked;
  bool credit_zero_first = false;
  for (const auto until = In(5s); nacked.empty();) {
    auto m = Next(until);
    ASSERT_TRUE(m) << "the refused deliveries were held, not nacked";
    if (auto* c = std::get_if<protocol::Credit>(&*m)) credit_zero_first = c->credit == 0;
    if (auto* n = std::get_if<protocol::Nack>(&*m)) nacked = LeasesOf(*n);
  }
  EXPECT_TRUE(credit_zero_first);
  EXPECT_EQ(nacked, (std::vector<std::uint64_t>{5, 6}));
  EXPECT_EQ(net_->counters().refused_by_sink.load(), 0u);
  EXPECT_EQ(net_->counters().nacked_on_close.load(), 2u);
}

}  // namespace
}  // namespace mandrill::testing
