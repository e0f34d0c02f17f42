#pragma once
// Outbox: where the loop side puts what must go to the broker (ACK, NACK, EXTEND, CREDIT).
// Loop thread only. The production outbox batches per loop iteration and hands the batch to the
// network thread (SettlementsOutbox); unit tests record the calls with the loop's virtual time.
#include <cstdint>
#include <string>

namespace mandrill::worker {

class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void Ack(std::uint64_t lease_id) = 0;
  virtual void Nack(std::uint64_t lease_id, std::uint32_t delay_ms, std::string reason) = 0;
  // Asks for the lease's deadline to become now + duration_ms (capped by the broker's max lease).
  virtual void Extend(std::uint64_t lease_id, std::uint32_t duration_ms) = 0;
  // The most messages the broker may have out to this worker (0: none, e.g. draining).
  virtual void SetCredit(std::uint32_t credit) = 0;
  // Hands over whatever is batched now (shutdown: before the network thread is told to close).
  virtual void Flush() {}
};

}  // namespace mandrill::worker
