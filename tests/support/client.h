#pragma once
// A scripted protocol peer for integration tests: a DEALER that plays publisher, worker or admin
// against a real broker process. Every receive is bounded by a timeout.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "shared/protocol/messages.h"
#include "shared/security/curve_keys.h"

namespace mandrill::testing {

class Client {
 public:
  Client(zmq::context_t& context, const std::string& endpoint, std::string identity = {});
  // A CURVE client (security::MakeCurveClient) authenticating with `keys`.
  Client(zmq::context_t& context, const std::string& endpoint, const security::ClientKeys& keys);

  // Sends if the connection comes up within `within` (a CURVE handshake the broker refuses
  // never does); false otherwise.
  bool TrySend(const protocol::Message& m, std::chrono::milliseconds within);

  // Sends or fails the test (the broker must be reachable: waits up to 5 s for the connection).
  void Send(const protocol::Message& m);
  // Sends raw frames (for malformed-input tests).
  void SendRaw(const std::vector<std::string>& frames);
  // The next decoded message within `timeout`, or nullopt.
  std::optional<protocol::Message> Receive(std::chrono::milliseconds timeout);
  // The oldest message of type T already skipped, else the next within `timeout`; other types
  // received meanwhile are kept in `skipped`.
  template <typename T>
  std::optional<T> Expect(std::chrono::milliseconds timeout) {
    for (auto it = skipped.begin(); it != skipped.end(); ++it) {
      if (auto* t = std::get_if<T>(&*it)) {
        T out = std::move(*t);
        skipped.erase(it);
        return out;
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = Receive(left);
      if (!m) return std::nullopt;
      if (auto* t = std::get_if<T>(&*m)) return std::move(*t);
      skipped.push_back(std::move(*m));
    }
  }
  // True if nothing but heartbeats arrives within `window`.
  bool Quiet(std::chrono::milliseconds window);

  // Worker helpers.
  protocol::Welcome Ready(const std::string& queue, std::uint32_t credit,
                          const std::string& name = "test-worker");
  // Collects deliveries until `count` items arrived or `timeout` passed.
  std::vector<protocol::DeliverItem> Deliveries(std::size_t count,
                                                std::chrono::milliseconds timeout);
  // Publishes one message and waits for its CONFIRM; fails the test otherwise.
  void PublishConfirmed(const std::string& queue, const std::string& id,
                        const std::string& payload = "restart cattle-test");

  zmq::socket_t& socket() { return socket_; }
  std::vector<protocol::Message> skipped;

 private:
  zmq::socket_t socket_;
};

}  // namespace mandrill::testing
