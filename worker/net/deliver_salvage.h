#pragma once
// What can still be read from a DELIVER body the strict decoder refused (an item over the limits
// the broker announced, a field of the wrong type): the lease id of every item whose first field
// is one. The network thread nacks those leases, so an undecodable delivery goes back to the
// broker at once (and to its dead-letter queue after --max-deliveries) instead of being dropped
// here and kept leased until its lease expires.
//
// Pure function, any thread. Never throws; an unreadable body yields no leases.
#include <cstdint>
#include <string_view>
#include <vector>

namespace mandrill::worker {

struct SalvagedDeliver {
  std::vector<std::uint64_t> leases;  // in item order
  std::size_t items = 0;              // items the body holds, with or without a readable lease
};

SalvagedDeliver SalvageDeliverLeases(std::string_view body);

}  // namespace mandrill::worker
