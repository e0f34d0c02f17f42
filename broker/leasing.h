#pragma once
// How a lease ends: ACK settles the message; NACK, expiry and the worker going away return it
// to its queue (at once or after a delay) or, after max_deliveries attempts, to the queue's
// dead letters; EXTEND moves the deadline (never past start + max_lease). A command naming a
// lease that is not this session's live lease is answered LEASE_LOST and counted, never taken.
// Reactor thread only.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "broker/context.h"
#include "broker/dispatcher.h"
#include "broker/lease_table.h"
#include "broker/session.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class Leasing {
 public:
  Leasing(Context& ctx, LeaseTable& leases, Dispatcher& dispatcher)
      : ctx_(ctx), leases_(leases), dispatcher_(dispatcher) {}

  void Ack(const std::string& peer, Session* s, const protocol::Ack& ack);
  void Extend(const std::string& peer, Session* s, const protocol::Extend& extend);
  void Nack(const std::string& peer, Session* s, protocol::Nack&& nack);
  // Returns the messages whose lease deadline passed by `now`.
  void ExpireDue(core::SteadyTime now);
  // The session is going away: every message it holds returns now, oldest first, at the
  // front of its queue.
  void ReleaseAll(Session* s, const std::string& reason);
  // DELIVER frames holding `leases` (in delivery order) never left: those deliveries are
  // undone (no attempt used, back at the front in their original order).
  void TakeBack(Session* s, const std::vector<std::uint64_t>& leases);
  // Drops a message that no structure holds any more and whose settle record is written:
  // remembers its id for the dedup window and frees it.
  void Forget(Message* m);

 private:
  // Ends lease `l` without settling its message, which is then in no structure; returns the
  // message and sets *session to the session that held it.
  Message* EndLease(Lease* l, Session** session = nullptr);
  // A lease ended without an ack: retry (at once or after `delay`) or dead-letter. A nack
  // (journal_nack) is written to storage; expiry and worker loss are not (the delivery record
  // already counted the attempt). `from` is the session that let it go.
  void Return(Message* m, std::chrono::milliseconds delay, std::string_view reason,
              bool journal_nack, const Session* from);
  void Bury(Message* m, std::string_view reason);
  // Writes the ack (or, for a dead letter, purge) record of `m`, out of every structure, and
  // forgets it; a failed write is retried (Durability).
  void Settle(Message* m, bool purge);
  void LeaseLost(const std::string& peer, protocol::Command command,
                 std::vector<std::uint64_t> lost);
  std::uint32_t MsLeft(const Lease* l) const;

  Context& ctx_;
  LeaseTable& leases_;
  Dispatcher& dispatcher_;
};

}  // namespace mandrill::broker
