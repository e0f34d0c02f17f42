// The body of each command: field count, types, ranges and lengths, checked before anything
// is copied out. To add a field: append it (messages.h says how), parse it here as optional
// when older peers do not send it.
#include "shared/protocol/decode_bodies.h"

#include "shared/protocol/decode_reader.h"

namespace mandrill::protocol::detail {
namespace {


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
    // Queue names and ids are only bounded by the string limit here: the broker refuses an
    // item with a bad one alone (INVALID_ARGUMENT), not the whole frame.
    if (!r.Array(items[i], 4, "PUBLISH item", &g, &gn) || !r.Str(g[0], "queue", &it.queue) ||
        !r.Str(g[1], "message id", &it.id) ||
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
                    r.Uint(f[6], "max_batch", &m.max_batch))) &&
         (n < 8 || r.Uint(f[7], "epoch", &m.epoch));
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
bool Parse(Reader& r, const Obj* f, std::size_t n, Heartbeat& m) {
  if (n < 1) return true;  // from a peer older than task reports
  const Obj* items;
  std::size_t count;
  if (!r.Batch(f[0], "tasks", &items, &count)) return false;
  if (count > kMaxTaskReports) {
    return r.Fail(ErrorCode::kTooLarge, "HEARTBEAT: " + std::to_string(count) +
                                            " task reports, more than " +
                                            std::to_string(kMaxTaskReports));
  }
  m.tasks.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    if (!r.Array(items[i], 2, "task report", &g, &gn) ||
        !r.Uint(g[0], "lease id", &m.tasks[i].lease_id) ||
        !r.Int(g[1], "running_ms", &m.tasks[i].running_ms)) {
      return false;
    }
  }
  return n < 2 || r.Uint(f[1], "ready", &m.ready);  // absent: a worker or an older broker
}
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
  // Brokers before `mandrill-ctl top` send 13 fields.
  return n < 15 || (r.Int(g[13], "oldest ready", &q.oldest_ready_ms) &&
                    r.Uint(g[14], "consumers", &q.consumers));
}
bool ParseWorkerTasks(Reader& r, const Obj& o, WorkerStats& w) {
  const Obj* items;
  std::size_t count;
  if (!r.Batch(o, "worker tasks", &items, &count)) return false;
  w.tasks.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Obj* g;
    std::size_t gn;
    auto& t = w.tasks[i];
    if (!r.Array(items[i], 5, "worker task", &g, &gn) || !r.Str(g[0], "task id", &t.id) ||
        !r.Str(g[1], "task queue", &t.queue) || !r.Uint(g[2], "task attempt", &t.attempt) ||
        !r.Int(g[3], "task leased_ms", &t.leased_ms) ||
        !r.Int(g[4], "task running_ms", &t.running_ms)) {
      return false;
    }
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
         r.Uint(g[7], "nacked", &w.nacked) && r.Int(g[8], "idle_ms", &w.idle_ms) &&
         (n < 10 || ParseWorkerTasks(r, g[9], w));
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

}  // namespace

core::Result<Message> ParseBody(Command c, const Obj& obj, const Limits& limits) {
  Reader reader(limits);
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
  return core::Error{ErrorCode::kUnknownCommand,
                     "unknown command byte " + std::to_string(static_cast<int>(c))};
}

}  // namespace mandrill::protocol::detail
