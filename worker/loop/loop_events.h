#pragma once
// What the loop side receives from the network side, on the loop thread. The Bridge
// (worker/loop/bridge.h) calls these from callbacks it posts to the loop; unit tests call them
// directly on a loop with a virtual clock (no sockets).
#include <cstdint>
#include <string>
#include <vector>

#include "shared/protocol/messages.h"

namespace mandrill::worker {

class LoopEvents {
 public:
  virtual ~LoopEvents() = default;
  // New leases: each message becomes a supervised task.
  virtual void OnDeliveries(std::vector<protocol::DeliverItem>&& items) = 0;
  // These leases are gone at the broker (also answers to ACK/NACK/EXTEND of gone leases).
  virtual void OnLeasesLost(const std::vector<std::uint64_t>& leases) = 0;
  // Every lease held so far is gone (the broker forgot this worker).
  virtual void OnSessionLost(const std::string& reason) = 0;
  virtual void OnExtended(const std::vector<protocol::ExtendedItem>& items) = 0;
  virtual void OnWelcome(const protocol::Welcome& welcome) = 0;
  // The network thread exited; `failed` if it was not asked to.
  virtual void OnNetStopped(const std::string& reason, bool failed) = 0;
};

}  // namespace mandrill::worker
