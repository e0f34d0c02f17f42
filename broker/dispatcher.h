#pragma once
// Hands ready messages to worker sessions under their credit.
//
// Cost follows what happened, not the size of the broker: a queue is looked at only in the
// pass after it gained a ready message or a subscriber gained credit (Store::MarkDirty), and a
// session's subscriptions sit on their queues' hungry lists only while it has free credit, so
// finding a consumer never scans sessions. Within a queue, hungry sessions take turns message
// by message; a message that a session let go (expiry, nack, disconnect) goes to another hungry
// session first (issue 10: a stuck worker must not get its own expired work back while others
// are idle). Reactor thread only.
#include <string>
#include <vector>

#include "broker/context.h"
#include "broker/lease_table.h"
#include "broker/queue.h"
#include "broker/session.h"

namespace mandrill::broker {

class Dispatcher {
 public:
  Dispatcher(Context& ctx, LeaseTable& leases) : ctx_(ctx), leases_(leases) {}

  // Replaces `s`'s subscriptions with `queues` (duplicates ignored).
  void Subscribe(Session* s, const std::vector<Queue*>& queues);
  void Unsubscribe(Session* s);
  // `s`'s credit, state or number of leases changed.
  void SessionChanged(Session* s);
  // `q` gained ready messages.
  void MessageReady(Queue* q) { ctx_.store.MarkDirty(q); }
  // Delivers what the dirty queues can give their hungry subscribers (nothing while the
  // broker shuts down).
  void Dispatch();

 private:
  void Deliver(Session* s, Queue* q, Message* m);

  Context& ctx_;
  LeaseTable& leases_;
};

}  // namespace mandrill::broker
