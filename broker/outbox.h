#pragma once
// What the broker sends in one reactor pass, batched and sent at its end (Flush): replies
// first (so a WELCOME precedes the first DELIVER it makes possible), then one or more DELIVER
// frames per worker session (each within the batch and body limits its decoder enforces), then
// one CONFIRM per publisher and queue. Reactor thread only.
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/message.h"
#include "broker/session.h"
#include "shared/protocol/deliver_writer.h"
#include "shared/protocol/limits.h"
#include "shared/protocol/messages.h"
#include "shared/protocol/transport.h"

namespace mandrill::broker {

// Where the broker's outgoing messages go. The Reactor implements it over the ROUTER socket;
// tests record.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual protocol::SendResult Send(const std::string& peer, const protocol::Message& m) = 0;
  virtual protocol::SendResult SendBody(const std::string& peer, protocol::Command command,
                                        msgpack::sbuffer&& body) = 0;
};

// What Flush reports back, as it happens.
class FlushEvents {
 public:
  virtual ~FlushEvents() = default;
  // A frame went to `peer`.
  virtual void Sent(const std::string& peer) = 0;
  // `peer` is not connected any more (ROUTER_MANDATORY said so).
  virtual void Unreachable(const std::string& peer) = 0;
  // DELIVER frames holding `leases` (in delivery order) to `s` could not be sent; when
  // `unreachable`, the session's connection is gone as well.
  virtual void NotDelivered(Session* s, std::vector<std::uint64_t> leases, bool unreachable) = 0;
};

class Outbox {
 public:
  Outbox(Transport& transport, const protocol::Limits& limits)
      : transport_(transport), limits_(limits) {}

  void Reply(const std::string& peer, protocol::Message&& m) {
    replies_.emplace_back(peer, std::move(m));
  }
  void Error(const std::string& peer, protocol::ErrorCode code, std::string reason,
             std::uint8_t answers, std::uint64_t request_id = 0);
  void Confirm(const std::string& peer, const std::string& queue, std::string_view id);
  void Deliver(Session* s, const Message& m, std::uint64_t lease_id, std::uint32_t lease_ms,
               std::int64_t deadline_unix_ms);
  // Drops the deliveries queued for `s` (its session ended).
  void Forget(Session* s) { deliveries_.erase(s); }

  void Flush(FlushEvents& events);
  std::int64_t send_failures() const { return send_failures_; }

 private:
  struct DeliverFrame {
    protocol::DeliverWriter writer;
    std::vector<std::uint64_t> leases;
  };
  struct ConfirmBatch {
    std::string peer;
    std::string queue;
    std::vector<std::string> ids;
  };

  Transport& transport_;
  const protocol::Limits& limits_;
  std::vector<std::pair<std::string, protocol::Message>> replies_;
  std::unordered_map<Session*, std::vector<DeliverFrame>> deliveries_;
  // A pass's confirms grouped by (publisher, queue): a deque so the index's views into each
  // batch's strings stay valid; the index keeps a frame of ids in 10,000 queues linear.
  std::deque<ConfirmBatch> confirms_;
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, ConfirmBatch*> confirm_index_;
  std::int64_t send_failures_ = 0;
};

}  // namespace mandrill::broker
