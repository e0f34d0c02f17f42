#pragma once
// Record bodies: each is one msgpack array of the record's fields in this order (the format
// is documented in docs/journal.md; format.h has the framing around it):
//
//   1 publish      [seq, queue, id, payload (bin), headers (map str->str), published_unix_ms]
//   2 deliver      [seq, attempt]
//   3 ack          [seq, settled_unix_ms]
//   4 nack         [seq, attempt, not_before_unix_ms, reason]
//   5 dead-letter  [seq, attempts, reason, dead_at_unix_ms]
//   6 requeue      [seq]
//   7 purge        [seq, settled_unix_ms]
//   8 state        [seq, state (0 ready, 1 deferred, 2 dead), attempts, not_before_unix_ms,
//                   last_error, dead_at_unix_ms]
//   9 settled-id   [seq, queue, id, published_unix_ms, settled_unix_ms]
//
// settled_unix_ms came later (older brokers wrote ack and purge as [seq] and settled-id with
// four fields): decoded as 0 when absent, which means "count the dedup window from publish".
//
// To change a body: append fields at the end only. Decoders accept arrays longer than they
// know and ignore the extra elements, so an older broker still reads a newer journal's bodies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "broker/journal/byte_buffer.h"
#include "broker/journal/format.h"
#include "broker/storage.h"

namespace mandrill::broker::journal {

// Written by compaction: the complete state of a live message, which replaces whatever its
// earlier records said ("latest record wins").
struct StateRecord {
  std::uint64_t seq = 0;
  RecoveredMessage::State state = RecoveredMessage::State::kReady;
  std::uint32_t attempts = 0;
  std::int64_t not_before_unix_ms = 0;
  std::string last_error;
  std::int64_t dead_at_unix_ms = 0;
  bool operator==(const StateRecord&) const = default;
};
// Written by compaction: a settled message's id, carried forward while it is inside the
// dedup window so the segment that held its publish can be deleted.
struct SettledIdRecord {
  std::uint64_t seq = 0;
  std::string queue;
  std::string id;
  std::int64_t published_unix_ms = 0;
  // When the dedup window starts; never earlier than the settle (see compactor.h), 0: unknown.
  std::int64_t settled_unix_ms = 0;
  bool operator==(const SettledIdRecord&) const = default;
};

// Everything that can be on disk. Alternative i has RecordType i + 1.
using DiskRecord =
    std::variant<PublishRecord, DeliverRecord, AckRecord, NackRecord, DeadLetterRecord,
                 RequeueRecord, PurgeRecord, StateRecord, SettledIdRecord>;

inline RecordType TypeOf(const Record& r) { return static_cast<RecordType>(r.index() + 1); }
inline RecordType TypeOf(const DiskRecord& r) { return static_cast<RecordType>(r.index() + 1); }

// Appends one framed record (header + body) to *out. Its checksums are left for SealRecord
// (the writer thread computes them, keeping the reactor's Append cheap). Returns the number of
// bytes appended.
std::size_t AppendFramed(const Record& r, ByteBuffer* out);
std::size_t AppendFramed(const PublishRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const DeliverRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const AckRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const NackRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const DeadLetterRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const RequeueRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const PurgeRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const StateRecord& r, ByteBuffer* out);
std::size_t AppendFramed(const SettledIdRecord& r, ByteBuffer* out);

// The seq every record body starts with.
inline std::uint64_t SeqOf(const DiskRecord& r) {
  return std::visit([](const auto& x) { return x.seq; }, r);
}

// Decodes a body of the given type into *out. False when the body is not a valid encoding of
// that type (or the type is unknown); *out is then unspecified.
bool DecodeBody(std::uint8_t type, std::string_view body, DiskRecord* out);

// The fields of a publish that compaction needs, without copying the payload.
struct PublishView {
  std::uint64_t seq = 0;
  std::string_view queue;
  std::string_view id;
  std::int64_t published_unix_ms = 0;
};
bool DecodePublishView(std::string_view body, PublishView* out);
// The reason carried by a nack or dead-letter body (empty view if there is none).
bool DecodeReason(std::uint8_t type, std::string_view body, std::string_view* reason);

// Size in bytes of the framed settled-id record for this queue and id (used for the
// liveness accounting before the record exists).
std::uint32_t SettledIdRecordBytes(std::size_t queue_len, std::size_t id_len);
// Upper bound of a framed ack or purge record: the space reserved per live message so that
// settling never fails on a full disk.
inline constexpr std::uint32_t kMaxSettleRecordBytes = kRecordHeaderBytes + 1 + 9 + 9;

}  // namespace mandrill::broker::journal
