// msgpack bodies: every body is an array of the struct's fields in declaration order.
#include <type_traits>

#include "shared/protocol/codec.h"

namespace mandrill::protocol {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

void Str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
void Bin(Packer& p, std::string_view s) {
  p.pack_bin(static_cast<std::uint32_t>(s.size()));
  p.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
void Arr(Packer& p, std::size_t n) { p.pack_array(static_cast<std::uint32_t>(n)); }

void Pack(Packer& p, const Headers& h) {
  p.pack_map(static_cast<std::uint32_t>(h.size()));
  for (const auto& [k, v] : h) {
    Str(p, k);
    Str(p, v);
  }
}
void Pack(Packer& p, const std::vector<std::string>& v) {
  Arr(p, v.size());
  for (const auto& s : v) Str(p, s);
}
void Pack(Packer& p, const std::vector<std::uint64_t>& v) {
  Arr(p, v.size());
  for (auto x : v) p.pack_uint64(x);
}

void Pack(Packer& p, const Publish& m) {
  Arr(p, 1);
  Arr(p, m.items.size());
  for (const auto& it : m.items) {
    Arr(p, 4);
    Str(p, it.queue);
    Str(p, it.id);
    Bin(p, it.payload);
    Pack(p, it.headers);
  }
}
void Pack(Packer& p, const Confirm& m) {
  Arr(p, 2);
  Str(p, m.queue);
  Pack(p, m.ids);
}
void Pack(Packer& p, const Error& m) {
  Arr(p, 7);
  p.pack_uint16(static_cast<std::uint16_t>(m.code));
  Str(p, m.reason);
  p.pack_uint8(m.answers);
  Str(p, m.queue);
  Pack(p, m.ids);
  Pack(p, m.leases);
  p.pack_uint64(m.request_id);
}
void Pack(Packer& p, const Ready& m) {
  Arr(p, 4);
  Str(p, m.worker);
  Pack(p, m.queues);
  p.pack_uint32(m.credit);
  Str(p, m.instance);
}
void Pack(Packer& p, const Welcome& m) {
  Arr(p, 8);
  Str(p, m.broker_id);
  p.pack_uint32(m.heartbeat_ms);
  p.pack_uint32(m.lease_ms);
  p.pack_uint32(m.max_lease_ms);
  p.pack_uint32(m.max_payload_bytes);
  p.pack_uint64(m.max_body_bytes);
  p.pack_uint32(m.max_batch);
  p.pack_uint64(m.epoch);
}
void Pack(Packer& p, const Credit& m) {
  Arr(p, 1);
  p.pack_uint32(m.credit);
}
void Pack(Packer& p, const Deliver& m) {
  Arr(p, 1);
  Arr(p, m.items.size());
  for (const auto& it : m.items) {
    Arr(p, 8);
    p.pack_uint64(it.lease_id);
    Str(p, it.id);
    Str(p, it.queue);
    Bin(p, it.payload);
    p.pack_uint32(it.attempt);
    p.pack_uint32(it.lease_ms);
    p.pack_int64(it.deadline_unix_ms);
    Pack(p, it.headers);
  }
}
void Pack(Packer& p, const Ack& m) {
  Arr(p, 1);
  Pack(p, m.leases);
}
void Pack(Packer& p, const Extend& m) {
  Arr(p, 2);
  p.pack_uint32(m.duration_ms);
  Pack(p, m.leases);
}
void Pack(Packer& p, const Extended& m) {
  Arr(p, 1);
  Arr(p, m.items.size());
  for (const auto& it : m.items) {
    Arr(p, 2);
    p.pack_uint64(it.lease_id);
    p.pack_uint32(it.lease_ms);
  }
}
void Pack(Packer& p, const Nack& m) {
  Arr(p, 1);
  Arr(p, m.items.size());
  for (const auto& it : m.items) {
    Arr(p, 3);
    p.pack_uint64(it.lease_id);
    p.pack_uint32(it.delay_ms);
    Str(p, it.reason);
  }
}
void Pack(Packer& p, const Heartbeat& m) {
  Arr(p, 2);
  Arr(p, m.tasks.size());
  for (const auto& t : m.tasks) {
    Arr(p, 2);
    p.pack_uint64(t.lease_id);
    p.pack_int64(t.running_ms);
  }
  p.pack_uint64(m.ready);
}
void Pack(Packer& p, const Disconnect& m) {
  Arr(p, 1);
  Str(p, m.reason);
}
void Pack(Packer& p, const StatsRequest& m) {
  Arr(p, 3);
  p.pack_uint64(m.request_id);
  Str(p, m.after);
  p.pack_uint32(m.limit);
}
void Pack(Packer& p, const QueueStats& q) {
  Arr(p, 15);
  Str(p, q.name);
  for (auto v : {q.ready, q.in_flight, q.deferred, q.dead, q.published, q.acked, q.nacked,
                 q.redelivered, q.expired, q.dead_lettered, q.deduplicated, q.refused_full}) {
    p.pack_uint64(v);
  }
  p.pack_int64(q.oldest_ready_ms);
  p.pack_uint32(q.consumers);
}
void Pack(Packer& p, const WorkerStats& w) {
  Arr(p, 10);
  Str(p, w.name);
  Str(p, w.peer);
  Pack(p, w.queues);
  p.pack_uint32(w.credit);
  p.pack_uint32(w.in_flight);
  p.pack_uint64(w.delivered);
  p.pack_uint64(w.acked);
  p.pack_uint64(w.nacked);
  p.pack_int64(w.idle_ms);
  Arr(p, w.tasks.size());
  for (const auto& t : w.tasks) {
    Arr(p, 5);
    Str(p, t.id);
    Str(p, t.queue);
    p.pack_uint32(t.attempt);
    p.pack_int64(t.leased_ms);
    p.pack_int64(t.running_ms);
  }
}
void Pack(Packer& p, const StatsReply& m) {
  Arr(p, 9);
  p.pack_uint64(m.request_id);
  Str(p, m.broker_id);
  p.pack_int64(m.uptime_ms);
  Arr(p, m.queues.size());
  for (const auto& q : m.queues) Pack(p, q);
  Arr(p, m.workers.size());
  for (const auto& w : m.workers) Pack(p, w);
  Arr(p, m.counters.size());
  for (const auto& [k, v] : m.counters) {
    Arr(p, 2);
    Str(p, k);
    p.pack_int64(v);
  }
  Str(p, m.next);
  p.pack_uint64(m.queues_total);
  p.pack_uint64(m.workers_total);
}
void Pack(Packer& p, const QueuesRequest& m) {
  Arr(p, 3);
  p.pack_uint64(m.request_id);
  Str(p, m.after);
  p.pack_uint32(m.limit);
}
void Pack(Packer& p, const QueuesReply& m) {
  Arr(p, 3);
  p.pack_uint64(m.request_id);
  Pack(p, m.names);
  Str(p, m.next);
}
void Pack(Packer& p, const DlqListRequest& m) {
  Arr(p, 3);
  p.pack_uint64(m.request_id);
  Str(p, m.queue);
  p.pack_uint32(m.limit);
}
void Pack(Packer& p, const DlqListReply& m) {
  Arr(p, 4);
  p.pack_uint64(m.request_id);
  Str(p, m.queue);
  p.pack_uint64(m.total);
  Arr(p, m.items.size());
  for (const auto& d : m.items) {
    Arr(p, 5);
    Str(p, d.id);
    p.pack_uint32(d.attempts);
    Str(p, d.last_error);
    p.pack_int64(d.dead_at_unix_ms);
    Bin(p, d.payload);
  }
}
template <typename T>
void PackQueueIds(Packer& p, const T& m) {
  Arr(p, 3);
  p.pack_uint64(m.request_id);
  Str(p, m.queue);
  Pack(p, m.ids);
}
void Pack(Packer& p, const DlqRequeueRequest& m) { PackQueueIds(p, m); }
void Pack(Packer& p, const DlqPurgeRequest& m) { PackQueueIds(p, m); }
void Pack(Packer& p, const AdminOk& m) {
  Arr(p, 3);
  p.pack_uint64(m.request_id);
  p.pack_uint64(m.count);
  Str(p, m.message);
}

}  // namespace

std::string_view VersionFrame() {
  static const char kFrame[] = {'M', 'D', 'L', static_cast<char>(kProtocolVersion)};
  return std::string_view(kFrame, sizeof kFrame);
}

void EncodeBody(const Message& m, msgpack::sbuffer& out) {
  Packer p(out);
  std::visit([&](const auto& body) { Pack(p, body); }, m);
}

}  // namespace mandrill::protocol
