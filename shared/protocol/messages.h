#pragma once
// One struct per command. Each body is a msgpack array whose elements are the struct's fields
// in declaration order (docs/protocol.md lists them). To change a body: append fields at the
// end only; decoders ignore trailing elements they do not know, so old peers keep working.
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "shared/protocol/command.h"
#include "shared/protocol/error_code.h"

namespace mandrill::protocol {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct PublishItem {
  std::string queue;
  std::string id;  // publisher-chosen; retries reuse it and the broker deduplicates
  std::string payload;
  Headers headers;
  bool operator==(const PublishItem&) const = default;
};
struct Publish {  // publisher -> broker; answered by CONFIRM and/or ERROR per item
  std::vector<PublishItem> items;
  bool operator==(const Publish&) const = default;
};
struct Confirm {  // broker -> publisher: these ids are safe on disk (or were already)
  std::string queue;
  std::vector<std::string> ids;
  bool operator==(const Confirm&) const = default;
};
struct Error {  // broker -> anyone
  ErrorCode code = ErrorCode::kNone;
  std::string reason;
  std::uint8_t answers = 0;        // command byte of the request it answers (0: none)
  std::string queue;               // for PUBLISH/admin errors
  std::vector<std::string> ids;    // message ids affected
  std::vector<std::uint64_t> leases;  // lease ids affected (ACK/EXTEND/NACK)
  std::uint64_t request_id = 0;    // for admin requests
  bool operator==(const Error&) const = default;
};

struct Ready {  // worker -> broker: subscribe and set credit; re-sent after every reconnect
  std::string worker;               // human name, shown in stats
  std::vector<std::string> queues;  // consume from these
  std::uint32_t credit = 0;         // most messages it may hold at once
  // Random per worker process, kept across its reconnects and never shown: a READY from a new
  // connection with the same instance is the same worker, which keeps its leases. Empty: a new
  // worker on every READY from a new connection.
  std::string instance{};
  bool operator==(const Ready&) const = default;
};
struct Welcome {  // broker -> worker, answers READY
  std::string broker_id;  // changes at every broker start: leases of an older id are gone
  std::uint32_t heartbeat_ms = 0;
  std::uint32_t lease_ms = 0;
  std::uint32_t max_lease_ms = 0;
  // The broker's limits, so the worker's decoder accepts every DELIVER the broker may send
  // (0: not sent by an older broker; use the defaults in limits.h).
  std::uint32_t max_payload_bytes = 0;
  std::uint64_t max_body_bytes = 0;
  std::uint32_t max_batch = 0;
  // The broker's fencing epoch (docs/broker.md "Fencing"): +1 at every start on a data dir, so
  // it only grows across restarts and takeovers; every lease id carries it (lease_ids.h).
  // 0: an older broker that does not send it.
  std::uint64_t epoch = 0;
  bool operator==(const Welcome&) const = default;
};
struct Credit {  // worker -> broker: new credit (0 = send nothing more, e.g. draining)
  std::uint32_t credit = 0;
  bool operator==(const Credit&) const = default;
};
struct DeliverItem {
  std::uint64_t lease_id = 0;  // fresh per delivery; only the latest can settle the message
  std::string id;
  std::string queue;
  std::string payload;
  std::uint32_t attempt = 0;             // 1 on first delivery
  std::uint32_t lease_ms = 0;            // lease time left when sent
  std::int64_t deadline_unix_ms = 0;     // same deadline on the broker's wall clock (display)
  Headers headers;
  bool operator==(const DeliverItem&) const = default;
};
struct Deliver {  // broker -> worker
  std::vector<DeliverItem> items;
  bool operator==(const Deliver&) const = default;
};
struct Ack {  // worker -> broker: done; unknown/expired leases answered kLeaseLost
  std::vector<std::uint64_t> leases;
  bool operator==(const Ack&) const = default;
};
struct Extend {  // worker -> broker: push deadlines to now + duration (capped by max lease)
  std::uint32_t duration_ms = 0;
  std::vector<std::uint64_t> leases;
  bool operator==(const Extend&) const = default;
};
struct ExtendedItem {
  std::uint64_t lease_id = 0;
  std::uint32_t lease_ms = 0;  // time left after the extension (may be less than asked: cap)
  bool operator==(const ExtendedItem&) const = default;
};
struct Extended {  // broker -> worker, answers EXTEND for the leases it still holds
  std::vector<ExtendedItem> items;
  bool operator==(const Extended&) const = default;
};
struct NackItem {
  std::uint64_t lease_id = 0;
  std::uint32_t delay_ms = 0;  // not redelivered before this
  std::string reason;          // kept as the message's last error (shown in the DLQ)
  bool operator==(const NackItem&) const = default;
};
struct Nack {  // worker -> broker
  std::vector<NackItem> items;
  bool operator==(const Nack&) const = default;
};

// A worker's handler running on a lease: how long it has run (what `mandrill-ctl top` shows).
struct TaskReport {
  std::uint64_t lease_id = 0;
  std::int64_t running_ms = 0;
  bool operator==(const TaskReport&) const = default;
};
struct Heartbeat {  // either way; any frame also proves liveness
  // Worker -> broker, once per heartbeat interval: its handlers running now, longest first
  // (at most kMaxTaskReports). Empty from the broker and from older workers.
  std::vector<TaskReport> tasks{};
  // Broker -> worker: messages ready now in the worker's queues, so a worker connected to
  // several cells can split its credit by depth (0 from workers and from older brokers).
  std::uint64_t ready = 0;
  bool operator==(const Heartbeat&) const = default;
};
inline constexpr std::size_t kMaxTaskReports = 64;
struct Disconnect {  // either way: the sender is going away (or, from the broker: re-READY)
  std::string reason;
  bool operator==(const Disconnect&) const = default;
};

// ---- admin ----
struct StatsRequest {
  std::uint64_t request_id = 0;
  // Paging: queues named after `after` (in name order), at most `limit` of them (0: the
  // broker's page size). Workers are listed on the first page (empty `after`) only.
  std::string after{};
  std::uint32_t limit = 0;
  bool operator==(const StatsRequest&) const = default;
};
struct QueueStats {
  std::string name;
  std::uint64_t ready = 0, in_flight = 0, deferred = 0, dead = 0;
  std::uint64_t published = 0, acked = 0, nacked = 0, redelivered = 0, expired = 0,
                dead_lettered = 0, deduplicated = 0, refused_full = 0;
  std::int64_t oldest_ready_ms = 0;  // age of the message at the head of the ready list
  std::uint32_t consumers = 0;       // workers subscribed
  bool operator==(const QueueStats&) const = default;
};
struct WorkerStats {
  std::string name;
  std::string peer;  // routing id, printable
  std::vector<std::string> queues;
  std::uint32_t credit = 0;
  std::uint32_t in_flight = 0;
  std::uint64_t delivered = 0, acked = 0, nacked = 0;
  std::int64_t idle_ms = 0;  // since its last frame
  // Its leases, oldest first (at most kMaxTaskReports): what it is working on.
  struct Task {
    std::string id;
    std::string queue;
    std::uint32_t attempt = 0;
    std::int64_t leased_ms = 0;   // since the delivery
    std::int64_t running_ms = -1;  // the handler's run time as the worker last reported; -1: none
    bool operator==(const Task&) const = default;
  };
  std::vector<Task> tasks{};
  bool operator==(const WorkerStats&) const = default;
};
// Broker-wide figures as name -> value, so new counters (journal, errors) need no schema change.
using Counters = std::vector<std::pair<std::string, std::int64_t>>;
struct StatsReply {
  std::uint64_t request_id = 0;
  std::string broker_id;
  std::int64_t uptime_ms = 0;
  std::vector<QueueStats> queues;
  std::vector<WorkerStats> workers;
  Counters counters;
  std::string next{};  // non-empty: more queues follow; ask again with after = next
  std::uint64_t queues_total = 0;
  std::uint64_t workers_total = 0;  // may exceed workers.size(): the list is capped
  bool operator==(const StatsReply&) const = default;
};
struct QueuesRequest {
  std::uint64_t request_id = 0;
  std::string after{};      // names after this one, in name order
  std::uint32_t limit = 0;  // at most this many (0: the broker's page size)
  bool operator==(const QueuesRequest&) const = default;
};
struct QueuesReply {
  std::uint64_t request_id = 0;
  std::vector<std::string> names;
  std::string next{};  // non-empty: more names follow; ask again with after = next
  bool operator==(const QueuesReply&) const = default;
};
struct DlqListRequest {
  std::uint64_t request_id = 0;
  std::string queue;
  std::uint32_t limit = 100;
  bool operator==(const DlqListRequest&) const = default;
};
struct DeadLetter {
  std::string id;
  std::uint32_t attempts = 0;
  std::string last_error;
  std::int64_t dead_at_unix_ms = 0;
  std::string payload;  // first bytes only (a preview)
  bool operator==(const DeadLetter&) const = default;
};
struct DlqListReply {
  std::uint64_t request_id = 0;
  std::string queue;
  std::uint64_t total = 0;
  std::vector<DeadLetter> items;
  bool operator==(const DlqListReply&) const = default;
};
struct DlqRequeueRequest {  // empty ids: all
  std::uint64_t request_id = 0;
  std::string queue;
  std::vector<std::string> ids;
  bool operator==(const DlqRequeueRequest&) const = default;
};
struct DlqPurgeRequest {  // empty ids: all
  std::uint64_t request_id = 0;
  std::string queue;
  std::vector<std::string> ids;
  bool operator==(const DlqPurgeRequest&) const = default;
};
struct AdminOk {
  std::uint64_t request_id = 0;
  std::uint64_t count = 0;  // messages affected
  std::string message;
  bool operator==(const AdminOk&) const = default;
};

using Message = std::variant<Publish, Confirm, Error, Ready, Welcome, Credit, Deliver, Ack,
                             Extend, Extended, Nack, Heartbeat, Disconnect, StatsRequest,
                             StatsReply, QueuesRequest, QueuesReply, DlqListRequest, DlqListReply,
                             DlqRequeueRequest, DlqPurgeRequest, AdminOk>;

// The command byte a message is sent with.
Command CommandOf(const Message& m);

}  // namespace mandrill::protocol
