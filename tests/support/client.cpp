#include "tests/support/client.h"

#include <gtest/gtest.h>

#include <thread>

#include "shared/protocol/codec.h"
#include "shared/protocol/transport.h"

namespace mandrill::testing {

Client::Client(zmq::context_t& context, const std::string& endpoint, std::string identity)
    : socket_(context, zmq::socket_type::dealer) {
  protocol::DealerOptions o;
  o.identity = std::move(identity);
  o.linger_ms = 0;
  protocol::ConfigureDealer(socket_, o);
  socket_.connect(endpoint);
}

Client::Client(zmq::context_t& context, const std::string& endpoint,
               const security::ClientKeys& keys)
    : socket_(context, zmq::socket_type::dealer) {
  protocol::DealerOptions o;
  o.linger_ms = 0;
  protocol::ConfigureDealer(socket_, o);
  security::MakeCurveClient(socket_, keys.own, keys.broker_public_z85);
  socket_.connect(endpoint);
}

bool Client::TrySend(const protocol::Message& m, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (protocol::Send(socket_, m) != protocol::SendResult::kSent) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // IMMEDIATE: no event to await
  }
  return true;
}

void Client::Send(const protocol::Message& m) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (protocol::Send(socket_, m) != protocol::SendResult::kSent) {
    // IMMEDIATE: nothing can be queued until the connection is up.
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "broker not reachable";
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void Client::SendRaw(const std::vector<std::string>& frames) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const int flags = ZMQ_DONTWAIT | (i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
    while (zmq_send(socket_.handle(), frames[i].data(), frames[i].size(), flags) < 0) {
      ASSERT_EQ(zmq_errno(), EAGAIN);
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "broker not reachable";
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

std::optional<protocol::Message> Client::Receive(std::chrono::milliseconds timeout) {
  zmq_pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&item, 1, timeout.count()) <= 0) return std::nullopt;
  protocol::Received in;
  if (!protocol::Receive(socket_, in)) return std::nullopt;
  auto decoded = protocol::DecodeReceived(in, 0, protocol::Limits{});
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message);
  if (!decoded.ok()) return std::nullopt;
  return std::move(decoded).value();
}

bool Client::Quiet(std::chrono::milliseconds window) {
  const auto deadline = std::chrono::steady_clock::now() + window;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    auto m = Receive(left);
    if (!m) return true;
    if (!std::holds_alternative<protocol::Heartbeat>(*m)) {
      skipped.push_back(std::move(*m));
      return false;
    }
  }
}

protocol::Welcome Client::Ready(const std::string& queue, std::uint32_t credit,
                                const std::string& name) {
  Send(protocol::Ready{name, {queue}, credit});
  auto welcome = Expect<protocol::Welcome>(std::chrono::seconds(5));
  EXPECT_TRUE(welcome.has_value()) << "no WELCOME for READY";
  return welcome.value_or(protocol::Welcome{});
}

std::vector<protocol::DeliverItem> Client::Deliveries(std::size_t count,
                                                      std::chrono::milliseconds timeout) {
  std::vector<protocol::DeliverItem> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto d = Expect<protocol::Deliver>(left);
    if (!d) break;
    for (auto& it : d->items) out.push_back(std::move(it));
  }
  return out;
}

void Client::PublishConfirmed(const std::string& queue, const std::string& id,
                              const std::string& payload) {
  Send(protocol::Publish{{protocol::PublishItem{queue, id, payload, {}}}});
  auto c = Expect<protocol::Confirm>(std::chrono::seconds(5));
  ASSERT_TRUE(c.has_value()) << "no CONFIRM for " << id;
  ASSERT_EQ(c->ids, std::vector<std::string>{id});
}

}  // namespace mandrill::testing
