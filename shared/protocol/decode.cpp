// Strict decoding. msgpack-c parses into an object tree bounded by unpack_limit (so a declared
// size can never make it allocate more than a small multiple of the body), then each command's
// fields are checked for type, range and length before anything is copied out.
#include <algorithm>
#include <limits>

#include "shared/protocol/codec.h"

namespace mandrill::protocol {
namespace {

using Obj = msgpack::object;

class Reader {
 public:
  explicit Reader(const Limits& limits) : limits_(limits) {}

  bool Fail(ErrorCode code, std::string what) {
    if (reason_.empty()) {
      code_ = code;
      reason_ = std::move(what);
    }
    return false;
  }
  ErrorCode code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const Limits& limits() const { return limits_; }

  // An array of at least `min` elements. Extra trailing elements are allowed (forward compat).
  bool Array(const Obj& o, std::size_t min, const char* what, const Obj** items,
             std::size_t* size) {
    if (o.type != msgpack::type::ARRAY) return Fail(ErrorCode::kMalformed, std::string(what) + ": expected an array");
    if (o.via.array.size < min) {
      return Fail(ErrorCode::kMalformed, std::string(what) + ": expected at least " +
                                              std::to_string(min) + " fields, got " +
                                              std::to_string(o.via.array.size));
    }
    *items = o.via.array.ptr;
    *size = o.via.array.size;
    return true;
  }
  bool Batch(const Obj& o, const char* what, const Obj** items, std::size_t* size) {
    if (!Array(o, 0, what, items, size)) return false;
    if (*size > limits_.max_batch) {
      return Fail(ErrorCode::kTooLarge, std::string(what) + ": batch of " + std::to_string(*size) +
                                            " exceeds " + std::to_string(limits_.max_batch));
    }
    return true;
  }
  bool Str(const Obj& o, const char* what, std::string* out, std::size_t max = 0) {
    if (max == 0) max = limits_.max_string_bytes;
    if (o.type != msgpack::type::STR) return Fail(ErrorCode::kMalformed, std::string(what) + ": expected a string");
    if (o.via.str.size > max) {
      return Fail(ErrorCode::kTooLarge, std::string(what) + ": " + std::to_string(o.via.str.size) +
                                            " bytes exceeds " + std::to_string(max));
    }
    out->assign(o.via.str.ptr, o.via.str.size);
    return true;
  }
  bool Bin(const Obj& o, const char* what, std::string* out, std::size_t max) {
    if (o.type != msgpack::type::BIN) return Fail(ErrorCode::kMalformed, std::string(what) + ": expected binary");
    if (o.via.bin.size > max) {
      return Fail(ErrorCode::kTooLarge, std::string(what) + ": " + std::to_string(o.via.bin.size) +
                                            " bytes exceeds " + std::to_string(max));
    }
    out->assign(o.via.bin.ptr, o.via.bin.size);
    return true;
  }
  template <typename U>
  bool Uint(const Obj& o, const char* what, U* out) {
    static_assert(std::is_unsigned_v<U>);
    if (o.type != msgpack::type::POSITIVE_INTEGER) {
      return Fail(ErrorCode::kMalformed, std::string(what) + ": expected a non-negative integer");
    }
    if (o.via.u64 > std::numeric_limits<U>::max()) {
      return Fail(ErrorCode::kMalformed, std::string(what) + ": " + std::to_string(o.via.u64) + " out of range");
    }
    *out = static_cast<U>(o.via.u64);
    return true;
  }
  bool Int(const Obj& o, const char* what, std::int64_t* out) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      if (o.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Fail(ErrorCode::kMalformed, std::string(what) + ": out of range");
      }
      *out = static_cast<std::int64_t>(o.via.u64);
      return true;
    }
    if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      *out = o.via.i64;
      return true;
    }
    return Fail(ErrorCode::kMalformed, std::string(what) + ": expected an integer");
  }
  bool Strings(const Obj& o, const char* what, std::vector<std::string>* out, std::size_t max = 0) {
    const Obj* items;
    std::size_t n;
    if (!Batch(o, what, &items, &n)) return false;
    out->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!Str(items[i], what, &(*out)[i], max)) return false;
    }
    return true;
  }
  bool Uints(const Obj& o, const char* what, std::vector<std::uint64_t>* out) {
    const Obj* items;
    std::size_t n;
    if (!Batch(o, what, &items, &n)) return false;
    out->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!Uint(items[i], what, &(*out)[i])) return false;
    }
    return true;
  }
  bool HeaderMap(const Obj& o, Headers* out) {
    if (o.type == msgpack::type::NIL) return true;
    if (o.type != msgpack::type::MAP) return Fail(ErrorCode::kMalformed, "headers: expected a map");
    if (o.via.map.size > limits_.max_headers) {
      return Fail(ErrorCode::kTooLarge, "headers: more than " + std::to_string(limits_.max_headers));
    }
    out->resize(o.via.map.size);
    for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
      if (!Str(o.via.map.ptr[i].key, "header name", &(*out)[i].first) ||
          !Str(o.via.map.ptr[i].val, "header value", &(*out)[i].second)) {
        return false;
      }
    }
    return true;
  }

 private:
  const Limits& limits_;
  ErrorCode code_ = ErrorCode::kNone;
  std::string reason_;
};

// Each Parse fills `m` from the body array `f[0..n)`; returns false with the reader's error set.
bool Parse(Reader& r, const Obj* f, std::size_t n, Publish& m) {
  if (n < 1) return r.Fail(ErrorCode::kMalformed, "PUBLISH: missing items");
  const Obj* items;
  std::size_t count;
  if (!r.Batch(f[0], "PUBLISH items", &items, &count)) return false;
  if (count == 0) return r.Fail(ErrorCode::kInvalidArgument, "PUBLISH: no items");
  m.items.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    auto& it = m.items[i];
    if (!r.Array(items[i], 4, "PUBLISH item", &g, &gn) ||
        !r.Str(g[0], "queue", &it.queue, kMaxQueueNameBytes) ||
        !r.Str(g[1], "message id", &it.id, kMaxMessageIdBytes) ||
        !r.Bin(g[2], "payload", &it.payload, r.limits().max_payload_bytes) ||
        !r.HeaderMap(g[3], &it.headers)) {
      return false;
    }
  }
  return true;
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Confirm& m) {
  return n >= 2 && r.Str(f[0], "queue", &m.queue, kMaxQueueNameBytes) &&
         r.Strings(f[1], "confirmed ids", &m.ids, kMaxMessageIdBytes);
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Error& m) {
  if (n < 7) return r.Fail(ErrorCode::kMalformed, "ERROR: expected 7 fields");
  std::uint16_t code;
  if (!r.Uint(f[0], "error code", &code)) return false;
  m.code = static_cast<ErrorCode>(code);
  return r.Str(f[1], "reason", &m.reason) && r.Uint(f[2], "answers", &m.answers) &&
         r.Str(f[3], "queue", &m.queue) && r.Strings(f[4], "ids", &m.ids) &&
         r.Uints(f[5], "leases", &m.leases) && r.Uint(f[6], "request id", &m.request_id);
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Ready& m) {
  if (n < 3) return r.Fail(ErrorCode::kMalformed, "READY: expected 3 fields");
  if (!r.Str(f[0], "worker name", &m.worker) || !r.Strings(f[1], "queues", &m.queues, kMaxQueueNameBytes) ||
      !r.Uint(f[2], "credit", &m.credit) ||
      (n > 3 && !r.Str(f[3], "instance", &m.instance, kMaxMessageIdBytes))) {
    return false;
  }
  if (m.queues.empty()) return r.Fail(ErrorCode::kInvalidArgument, "READY: no queues");
  return true;
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Welcome& m) {
  if (n < 4) return r.Fail(ErrorCode::kMalformed, "WELCOME: expected 4 fields");
  return r.Str(f[0], "broker id", &m.broker_id) &&
         r.Uint(f[1], "heartbeat_ms", &m.heartbeat_ms) && r.Uint(f[2], "lease_ms", &m.lease_ms) &&
         r.Uint(f[3], "max_lease_ms", &m.max_lease_ms) &&
         (n < 7 || (r.Uint(f[4], "max_payload_bytes", &m.max_payload_bytes) &&
                    r.Uint(f[5], "max_body_bytes", &m.max_body_bytes) &&
                    r.Uint(f[6], "max_batch", &m.max_batch)));
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Credit& m) {
  return n >= 1 ? r.Uint(f[0], "credit", &m.credit)
                : r.Fail(ErrorCode::kMalformed, "CREDIT: expected 1 field");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Deliver& m) {
  if (n < 1) return r.Fail(ErrorCode::kMalformed, "DELIVER: missing items");
  const Obj* items;
  std::size_t count;
  if (!r.Batch(f[0], "DELIVER items", &items, &count)) return false;
  m.items.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    auto& it = m.items[i];
    if (!r.Array(items[i], 8, "DELIVER item", &g, &gn) || !r.Uint(g[0], "lease id", &it.lease_id) ||
        !r.Str(g[1], "message id", &it.id, kMaxMessageIdBytes) ||
        !r.Str(g[2], "queue", &it.queue, kMaxQueueNameBytes) ||
        !r.Bin(g[3], "payload", &it.payload, r.limits().max_payload_bytes) ||
        !r.Uint(g[4], "attempt", &it.attempt) || !r.Uint(g[5], "lease_ms", &it.lease_ms) ||
        !r.Int(g[6], "deadline", &it.deadline_unix_ms) || !r.HeaderMap(g[7], &it.headers)) {
      return false;
    }
  }
  return true;
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Ack& m) {
  return n >= 1 ? r.Uints(f[0], "ACK leases", &m.leases)
                : r.Fail(ErrorCode::kMalformed, "ACK: expected 1 field");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Extend& m) {
  return n >= 2 ? r.Uint(f[0], "duration_ms", &m.duration_ms) &&
                      r.Uints(f[1], "EXTEND leases", &m.leases)
                : r.Fail(ErrorCode::kMalformed, "EXTEND: expected 2 fields");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Extended& m) {
  if (n < 1) return r.Fail(ErrorCode::kMalformed, "EXTENDED: missing items");
  const Obj* items;
  std::size_t count;
  if (!r.Batch(f[0], "EXTENDED items", &items, &count)) return false;
  m.items.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    if (!r.Array(items[i], 2, "EXTENDED item", &g, &gn) ||
        !r.Uint(g[0], "lease id", &m.items[i].lease_id) ||
        !r.Uint(g[1], "lease_ms", &m.items[i].lease_ms)) {
      return false;
    }
  }
  return true;
}
bool Parse(Reader& r, const Obj* f, std::size_t n, Nack& m) {
  if (n < 1) return r.Fail(ErrorCode::kMalformed, "NACK: missing items");
  const Obj* items;
  std::size_t count;
  if (!r.Batch(f[0], "NACK items", &items, &count)) return false;
  m.items.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    auto& it = m.items[i];
    if (!r.Array(items[i], 3, "NACK item", &g, &gn) || !r.Uint(g[0], "lease id", &it.lease_id) ||
        !r.Uint(g[1], "delay_ms", &it.delay_ms) || !r.Str(g[2], "reason", &it.reason)) {
      return false;
    }
  }
  return true;
}
bool Parse(Reader&, const Obj*, std::size_t, Heartbeat&) { return true; }
bool Parse(Reader& r, const Obj* f, std::size_t n, Disconnect& m) {
  return n >= 1 ? r.Str(f[0], "reason", &m.reason)
                : r.Fail(ErrorCode::kMalformed, "DISCONNECT: expected 1 field");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, StatsRequest& m) {
  if (n < 1) return r.Fail(ErrorCode::kMalformed, "STATS: expected 1 field");
  return r.Uint(f[0], "request id", &m.request_id) &&
         (n < 3 || (r.Str(f[1], "after", &m.after, kMaxQueueNameBytes) &&
                    r.Uint(f[2], "limit", &m.limit)));
}
bool ParseQueueStats(Reader& r, const Obj& o, QueueStats& q) {
  const Obj* g;
  std::size_t n;
  if (!r.Array(o, 13, "queue stats", &g, &n) || !r.Str(g[0], "queue", &q.name)) return false;
  std::uint64_t* fields[] = {&q.ready,       &q.in_flight, &q.deferred, &q.dead,
                             &q.published,   &q.acked,     &q.nacked,   &q.redelivered,
                             &q.expired,     &q.dead_lettered, &q.deduplicated, &q.refused_full};
  for (std::size_t i = 0; i < std::size(fields); ++i) {
    if (!r.Uint(g[i + 1], "queue counter", fields[i])) return false;
  }
  return true;
}
bool ParseWorkerStats(Reader& r, const Obj& o, WorkerStats& w) {
  const Obj* g;
  std::size_t n;
  return r.Array(o, 9, "worker stats", &g, &n) && r.Str(g[0], "worker", &w.name) &&
         r.Str(g[1], "peer", &w.peer) && r.Strings(g[2], "queues", &w.queues) &&
         r.Uint(g[3], "credit", &w.credit) && r.Uint(g[4], "in flight", &w.in_flight) &&
         r.Uint(g[5], "delivered", &w.delivered) && r.Uint(g[6], "acked", &w.acked) &&
         r.Uint(g[7], "nacked", &w.nacked) && r.Int(g[8], "idle_ms", &w.idle_ms);
}
bool Parse(Reader& r, const Obj* f, std::size_t n, StatsReply& m) {
  if (n < 6) return r.Fail(ErrorCode::kMalformed, "STATS_REPLY: expected 6 fields");
  if (!r.Uint(f[0], "request id", &m.request_id) || !r.Str(f[1], "broker id", &m.broker_id) ||
      !r.Int(f[2], "uptime", &m.uptime_ms)) {
    return false;
  }
  const Obj* items;
  std::size_t count;
  if (!r.Batch(f[3], "queues", &items, &count)) return false;
  m.queues.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!ParseQueueStats(r, items[i], m.queues[i])) return false;
  }
  if (!r.Batch(f[4], "workers", &items, &count)) return false;
  m.workers.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!ParseWorkerStats(r, items[i], m.workers[i])) return false;
  }
  if (!r.Batch(f[5], "counters", &items, &count)) return false;
  m.counters.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    if (!r.Array(items[i], 2, "counter", &g, &gn) ||
        !r.Str(g[0], "counter name", &m.counters[i].first) ||
        !r.Int(g[1], "counter value", &m.counters[i].second)) {
      return false;
    }
  }
  return n < 9 || (r.Str(f[6], "next", &m.next, kMaxQueueNameBytes) &&
                   r.Uint(f[7], "queues_total", &m.queues_total) &&
                   r.Uint(f[8], "workers_total", &m.workers_total));
}
bool Parse(Reader& r, const Obj* f, std::size_t n, QueuesRequest& m) {
  if (n < 1) return r.Fail(ErrorCode::kMalformed, "QUEUES: expected 1 field");
  return r.Uint(f[0], "request id", &m.request_id) &&
         (n < 3 || (r.Str(f[1], "after", &m.after, kMaxQueueNameBytes) &&
                    r.Uint(f[2], "limit", &m.limit)));
}
bool Parse(Reader& r, const Obj* f, std::size_t n, QueuesReply& m) {
  if (n < 2) return r.Fail(ErrorCode::kMalformed, "QUEUES_REPLY: expected 2 fields");
  return r.Uint(f[0], "request id", &m.request_id) && r.Strings(f[1], "queues", &m.names) &&
         (n < 3 || r.Str(f[2], "next", &m.next, kMaxQueueNameBytes));
}
bool Parse(Reader& r, const Obj* f, std::size_t n, DlqListRequest& m) {
  return n >= 3 ? r.Uint(f[0], "request id", &m.request_id) &&
                      r.Str(f[1], "queue", &m.queue, kMaxQueueNameBytes) &&
                      r.Uint(f[2], "limit", &m.limit)
                : r.Fail(ErrorCode::kMalformed, "DLQ_LIST: expected 3 fields");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, DlqListReply& m) {
  if (n < 4) return r.Fail(ErrorCode::kMalformed, "DLQ_LIST_REPLY: expected 4 fields");
  if (!r.Uint(f[0], "request id", &m.request_id) || !r.Str(f[1], "queue", &m.queue) ||
      !r.Uint(f[2], "total", &m.total)) {
    return false;
  }
  const Obj* items;
  std::size_t count;
  if (!r.Batch(f[3], "dead letters", &items, &count)) return false;
  m.items.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    auto& d = m.items[i];
    if (!r.Array(items[i], 5, "dead letter", &g, &gn) || !r.Str(g[0], "id", &d.id) ||
        !r.Uint(g[1], "attempts", &d.attempts) || !r.Str(g[2], "last error", &d.last_error) ||
        !r.Int(g[3], "dead at", &d.dead_at_unix_ms) ||
        !r.Bin(g[4], "payload", &d.payload, r.limits().max_payload_bytes)) {
      return false;
    }
  }
  return true;
}
template <typename T>
bool ParseQueueIds(Reader& r, const Obj* f, std::size_t n, T& m, const char* what) {
  return n >= 3 ? r.Uint(f[0], "request id", &m.request_id) &&
                      r.Str(f[1], "queue", &m.queue, kMaxQueueNameBytes) &&
                      r.Strings(f[2], "ids", &m.ids, kMaxMessageIdBytes)
                : r.Fail(ErrorCode::kMalformed, std::string(what) + ": expected 3 fields");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, DlqRequeueRequest& m) {
  return ParseQueueIds(r, f, n, m, "DLQ_REQUEUE");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, DlqPurgeRequest& m) {
  return ParseQueueIds(r, f, n, m, "DLQ_PURGE");
}
bool Parse(Reader& r, const Obj* f, std::size_t n, AdminOk& m) {
  return n >= 3 ? r.Uint(f[0], "request id", &m.request_id) && r.Uint(f[1], "count", &m.count) &&
                      r.Str(f[2], "message", &m.message)
                : r.Fail(ErrorCode::kMalformed, "ADMIN_OK: expected 3 fields");
}

template <typename T>
core::Result<Message> ParseAs(Reader& r, const Obj& body, std::string_view name) {
  T m{};
  const Obj* fields;
  std::size_t n;
  if (!r.Array(body, 0, "body", &fields, &n) || !Parse(r, fields, n, m)) {
    if (r.reason().empty()) r.Fail(ErrorCode::kMalformed, "missing fields");
    return core::Error{r.code(), std::string(name) + ": " + r.reason()};
  }
  return Message(std::move(m));
}

core::Error Err(ErrorCode code, std::string reason) {
  return core::Error{code, std::move(reason)};
}

// Counts the elements a body declares, building nothing, so a body of millions of tiny elements
// is refused before msgpack-c allocates a 24-byte object for each (and before it spends seconds
// doing so). Stops at the first container past either bound.
class Census : public msgpack::null_visitor {
 public:
  Census(std::size_t max_elements, std::size_t max_depth)
      : max_elements_(max_elements), max_depth_(max_depth) {}
  bool start_array(std::uint32_t n) { return Enter(n); }
  bool start_map(std::uint32_t n) { return Enter(2 * std::size_t{n}); }
  bool end_array() { return Leave(); }
  bool end_map() { return Leave(); }
  bool too_deep() const { return too_deep_; }
  bool too_many() const { return too_many_; }

 private:
  bool Enter(std::size_t n) {
    elements_ += n;
    too_deep_ = ++depth_ > max_depth_;
    too_many_ = elements_ > max_elements_;
    return !too_deep_ && !too_many_;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  std::size_t max_elements_, max_depth_;
  std::size_t elements_ = 0, depth_ = 0;
  bool too_deep_ = false, too_many_ = false;
};

}  // namespace

core::Result<Message> Decode(std::string_view version, std::string_view command,
                             std::string_view body, const Limits& limits) {
  if (version.size() != 4 || version.substr(0, 3) != kVersionMagic) {
    return Err(ErrorCode::kMalformed, "first frame is not a Mandrill version frame (\"MDL\" + version byte)");
  }
  if (static_cast<std::uint8_t>(version[3]) != kProtocolVersion) {
    return Err(ErrorCode::kUnsupportedVersion,
               "protocol version " + std::to_string(static_cast<std::uint8_t>(version[3])) +
                   " is not supported; this peer speaks version " + std::to_string(kProtocolVersion));
  }
  if (command.size() != 1) return Err(ErrorCode::kMalformed, "command frame must be exactly 1 byte");
  const auto byte = static_cast<std::uint8_t>(command[0]);
  if (!IsKnownCommand(byte)) {
    return Err(ErrorCode::kUnknownCommand, "unknown command byte " + std::to_string(byte));
  }
  if (body.size() > limits.max_body_bytes) {
    return Err(ErrorCode::kTooLarge, "body of " + std::to_string(body.size()) + " bytes exceeds " +
                                         std::to_string(limits.max_body_bytes));
  }
  constexpr std::size_t kMaxDepth = 8;
  {
    Census census(limits.max_elements, kMaxDepth);
    std::size_t offset = 0;
    msgpack::parse(body.data(), body.size(), offset, census);
    if (census.too_deep()) {
      return Err(ErrorCode::kTooLarge, "body nesting depth exceeds " + std::to_string(kMaxDepth));
    }
    if (census.too_many()) {
      return Err(ErrorCode::kTooLarge, "body declares more than " +
                                           std::to_string(limits.max_elements) + " elements");
    }
  }
  // Arrays and maps may not declare more elements than the body has bytes (each element takes
  // at least one): past that bound the body is cut short, past the limits it is too large.
  const std::size_t cap = std::max<std::size_t>(1, body.size());
  msgpack::object_handle handle;
  try {
    const auto array_limit = static_cast<std::size_t>(std::min(cap, limits.max_batch + 16));
    const auto map_limit = static_cast<std::size_t>(std::min(cap, limits.max_headers));
    const msgpack::unpack_limit unpack_limits(array_limit, map_limit, limits.max_string_bytes,
                                              limits.max_payload_bytes, 0, kMaxDepth);
    std::size_t offset = 0;
    handle = msgpack::unpack(
        body.data(), body.size(), offset,
        [](msgpack::type::object_type, std::size_t, void*) { return true; }, nullptr,
        unpack_limits);
    if (offset != body.size()) {
      return Err(ErrorCode::kMalformed, std::to_string(body.size() - offset) +
                                            " bytes of garbage after the msgpack body");
    }
  } catch (const msgpack::array_size_overflow&) {
    if (cap < limits.max_batch + 16) {
      return Err(ErrorCode::kMalformed,
                 "msgpack body is truncated: an array declares more elements than it has bytes");
    }
    return Err(ErrorCode::kTooLarge, "an array in the body has more than " +
                                         std::to_string(limits.max_batch + 16) + " elements");
  } catch (const msgpack::map_size_overflow&) {
    if (cap < limits.max_headers) {
      return Err(ErrorCode::kMalformed,
                 "msgpack body is truncated: a map declares more entries than it has bytes");
    }
    return Err(ErrorCode::kTooLarge, "a map in the body has more than " +
                                         std::to_string(limits.max_headers) + " entries");
  } catch (const msgpack::ext_size_overflow&) {
    return Err(ErrorCode::kMalformed, "msgpack extension types are not part of the protocol");
  } catch (const msgpack::size_overflow& e) {
    return Err(ErrorCode::kTooLarge, std::string("body declares a size over a limit: ") + e.what());
  } catch (const msgpack::insufficient_bytes&) {
    return Err(ErrorCode::kMalformed, "msgpack body is truncated");
  } catch (const std::exception& e) {
    // Parse errors and allocation failure are both answers about this input, not crashes.
    return Err(ErrorCode::kMalformed, std::string("body is not valid msgpack: ") + e.what());
  }
  Reader reader(limits);
  const Obj& obj = handle.get();
  const auto c = static_cast<Command>(byte);
  const auto name = CommandName(c);
  switch (c) {
    case Command::kPublish: return ParseAs<Publish>(reader, obj, name);
    case Command::kConfirm: return ParseAs<Confirm>(reader, obj, name);
    case Command::kError: return ParseAs<Error>(reader, obj, name);
    case Command::kReady: return ParseAs<Ready>(reader, obj, name);
    case Command::kWelcome: return ParseAs<Welcome>(reader, obj, name);
    case Command::kCredit: return ParseAs<Credit>(reader, obj, name);
    case Command::kDeliver: return ParseAs<Deliver>(reader, obj, name);
    case Command::kAck: return ParseAs<Ack>(reader, obj, name);
    case Command::kExtend: return ParseAs<Extend>(reader, obj, name);
    case Command::kExtended: return ParseAs<Extended>(reader, obj, name);
    case Command::kNack: return ParseAs<Nack>(reader, obj, name);
    case Command::kHeartbeat: return ParseAs<Heartbeat>(reader, obj, name);
    case Command::kDisconnect: return ParseAs<Disconnect>(reader, obj, name);
    case Command::kStats: return ParseAs<StatsRequest>(reader, obj, name);
    case Command::kStatsReply: return ParseAs<StatsReply>(reader, obj, name);
    case Command::kQueues: return ParseAs<QueuesRequest>(reader, obj, name);
    case Command::kQueuesReply: return ParseAs<QueuesReply>(reader, obj, name);
    case Command::kDlqList: return ParseAs<DlqListRequest>(reader, obj, name);
    case Command::kDlqListReply: return ParseAs<DlqListReply>(reader, obj, name);
    case Command::kDlqRequeue: return ParseAs<DlqRequeueRequest>(reader, obj, name);
    case Command::kDlqPurge: return ParseAs<DlqPurgeRequest>(reader, obj, name);
    case Command::kAdminOk: return ParseAs<AdminOk>(reader, obj, name);
  }
  return Err(ErrorCode::kUnknownCommand, "unknown command byte " + std::to_string(byte));
}

std::string CheckQueueName(std::string_view name) {
  if (name.empty()) return "queue name is empty";
  if (name.size() > kMaxQueueNameBytes) return "queue name longer than 128 bytes";
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == ':';
    if (!ok) return "queue name '" + std::string(name) + "' may only hold A-Z a-z 0-9 . _ - :";
  }
  return {};
}

std::string CheckMessageId(std::string_view id) {
  if (id.empty()) return "message id is empty";
  if (id.size() > kMaxMessageIdBytes) return "message id longer than 256 bytes";
  for (char ch : id) {
    if (ch <= ' ' || ch > '~') return "message id must be printable ASCII without spaces";
  }
  return {};
}

}  // namespace mandrill::protocol
