#pragma once
// Allocation-free decoding of record bodies for replay: every string is a view into the body,
// so recovery can walk millions of records in the mapped segment bytes without copying any of
// them. Accepts exactly what DecodeBody (record_codec.h) accepts: the same minimum fields, any
// extra trailing fields skipped, nothing after the array.
#include <cstdint>
#include <string_view>

#include "broker/storage.h"

namespace mandrill::broker::journal {

// The fields of any record type; which ones are set depends on the type.
struct RecordView {
  std::uint64_t seq = 0;
  std::uint32_t attempts = 0;   // deliver, nack, dead-letter, state
  std::uint8_t state = 0;       // state: 0 ready, 1 deferred, 2 dead
  std::int64_t time = 0;        // publish / settled-id: published; nack: not_before;
                                // dead-letter, state: dead_at
  std::int64_t not_before = 0;  // state
  std::int64_t settled = 0;     // ack, purge, settled-id: settled_unix_ms (0 if not recorded)
  std::string_view text;        // nack / dead-letter reason, state last error
  std::string_view queue, id;   // publish, settled-id
};

// False when the body is not a valid encoding of that type (or the type is unknown).
bool DecodeView(std::uint8_t type, std::string_view body, RecordView* out);

// A publish body with its payload and headers, for handing a recovered message over. Headers
// are decoded into *headers (cleared first; its capacity is reused).
struct PublishBodyView {
  std::uint64_t seq = 0;
  std::string_view queue, id, payload;
  std::int64_t published_unix_ms = 0;
};
bool DecodePublishBody(std::string_view body, PublishBodyView* out, Headers* headers);

}  // namespace mandrill::broker::journal
