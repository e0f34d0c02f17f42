#pragma once
// PUBLISH: each item is validated, deduplicated against its queue's window, checked against
// the queue's depth limit and the broker's memory budget, appended to storage, and confirmed
// only once storage says it is durable (Durability); a failed write is answered
// STORAGE_FAILED and the id forgotten, so a retry is accepted as new. Refusals are grouped: one
// ERROR per (code, queue) per frame, not one per message. Reactor thread only.
#include <string>
#include <vector>

#include "broker/context.h"
#include "broker/dispatcher.h"
#include "broker/peer_table.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class Publishing {
 public:
  Publishing(Context& ctx, Dispatcher& dispatcher) : ctx_(ctx), dispatcher_(dispatcher) {}

  void Publish(const std::string& peer, protocol::Publish&& publish);
  // Storage decided a publish (Durability).
  void Durable(Message* m, const std::vector<std::string>& waiters);
  void Failed(Message* m, const std::vector<std::string>& waiters, const std::string& error);

  std::uint64_t next_seq() const { return next_seq_; }
  void set_next_seq(std::uint64_t seq) { next_seq_ = seq; }

 private:
  Context& ctx_;
  Dispatcher& dispatcher_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace mandrill::broker
