#pragma once
// Where the network thread hands what the broker sent. Called on the network thread; an
// implementation must not block it (queue the work and return).
#include <cstdint>
#include <string>
#include <vector>

#include "shared/protocol/messages.h"

namespace mandrill::worker {

class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  virtual void OnDeliveries(std::vector<protocol::DeliverItem>&& items) = 0;
  // The broker no longer knows these leases (expired, or the broker restarted): their messages
  // are or will be delivered again; finishing them is wasted work.
  virtual void OnLeasesLost(const std::vector<std::uint64_t>& leases) = 0;
  // EXTEND answered: time left on each lease.
  virtual void OnExtended(const std::vector<protocol::ExtendedItem>& items) = 0;
  // A broker (re)accepted us; `broker_id` differs from the last one after a broker restart, in
  // which case every lease held before is gone.
  virtual void OnWelcome(const protocol::Welcome& welcome) = 0;
};

}  // namespace mandrill::worker
