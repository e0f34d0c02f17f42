#pragma once
// What one reactor pass hands to the writer: the framed records (checksums not yet filled in)
// and one small event per record describing its effect, so that the writer can track liveness
// without decoding msgpack. Built on the reactor thread; owned by the writer once submitted;
// recycled (capacity kept) afterwards.
#include <cstdint>
#include <vector>

#include "broker/journal/byte_buffer.h"
#include "broker/storage.h"

namespace mandrill::broker::journal {

struct RecordEvent {
  std::uint64_t seq = 0;
  std::int64_t time = 0;  // publish: published_unix_ms; ack, purge: settled_unix_ms;
                          // nack: not_before; dead-letter: dead_at
  std::uint32_t bytes = 0;     // framed size; 0 for a rejected record (nothing written)
  std::uint32_t attempt = 0;   // deliver / nack / dead-letter
  std::uint16_t id_bytes = 0;  // publish: size its settled-id record would have
  std::uint8_t type = 0;       // RecordType
};

struct Batch {
  ByteBuffer data;                  // the records, back to back, in ticket order
  std::vector<RecordEvent> events;  // one per ticket in [first_ticket, last_ticket]
  Ticket first_ticket = 0;          // 0 when the batch holds no records (a clock tick)
  Ticket last_ticket = 0;
  std::int64_t now_unix_ms = 0;  // the reactor's wall clock at Commit
  // Holds a record someone is answered for only once it is durable: a publish (its confirm)
  // or an operator's requeue/purge (the reply). Deliveries, acks and nacks are not waited on.
  bool awaited = false;

  bool empty() const { return events.empty(); }
  void Clear() {
    data.Clear();
    events.clear();
    first_ticket = last_ticket = 0;
    now_unix_ms = 0;
    awaited = false;
  }
};

}  // namespace mandrill::broker::journal
