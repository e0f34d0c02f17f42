#pragma once
// Where the network thread hands what the broker sent. Every method is called on the network
// thread and must not block it: an implementation queues the event and returns (the worker's is
// the Bridge into the loop thread, worker/loop/bridge.h).
#include <cstdint>
#include <string>
#include <vector>

#include "shared/protocol/messages.h"

namespace mandrill::worker {

class DeliverySink {
 public:
  virtual ~DeliverySink() = default;

  // Takes `items` (moved from) and returns true, or returns false and leaves them untouched when
  // the receiver is full. Then the network thread keeps them, stops granting credit, and offers
  // them again once room_fd() is readable (see NetThread, "Full policy").
  virtual bool OnDeliveries(std::vector<protocol::DeliverItem>& items) = 0;
  // Readable when a refused OnDeliveries may succeed now; -1 if the sink never refuses.
  virtual int room_fd() const { return -1; }
  // True once the receiver takes no more deliveries at all (the loop is stopping): a refusal
  // then is final, not back-pressure.
  virtual bool closed() const { return false; }

  // The broker no longer knows these leases (expired, released, never issued): their messages
  // are or will be delivered again; finishing them is wasted work and settling them is refused.
  virtual void OnLeasesLost(std::vector<std::uint64_t> leases) = 0;
  // The broker forgot this worker entirely (it answered "not ready": it declared us dead and
  // released every lease we held). Every lease held so far is gone.
  virtual void OnSessionLost(std::string reason) = 0;
  // EXTEND answered: time left on each lease.
  virtual void OnExtended(std::vector<protocol::ExtendedItem> items) = 0;
  // The broker's HEARTBEAT said how many messages are ready in our queues (once per heartbeat
  // interval; 0 from older brokers). Only a worker of several cells uses it (cell_fanout.h).
  virtual void OnReadyDepth(std::uint64_t ready) { (void)ready; }
  // A broker (re)accepted us. `broker_id` differs from the previous WELCOME's after a broker
  // restart, in which case every lease held before is gone.
  virtual void OnWelcome(const protocol::Welcome& welcome) = 0;
  // The network thread is about to exit: after a requested close, or because it failed
  // (`reason` says which). Nothing more will be sent or received.
  virtual void OnNetStopped(std::string reason, bool failed) = 0;
};

}  // namespace mandrill::worker
