#include "tests/unit/protocol/sample_messages.h"

#include <cstdint>
#include <limits>

#include "shared/protocol/codec.h"
#include "shared/protocol/limits.h"

namespace mandrill::protocol::samples {
namespace {

constexpr auto kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr auto kU32Max = std::numeric_limits<std::uint32_t>::max();
constexpr auto kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr auto kI64Max = std::numeric_limits<std::int64_t>::max();

// The decoder's default string limit (Limits::max_string_bytes).
const std::size_t kMaxString = Limits{}.max_string_bytes;

Headers SomeHeaders() {
  return {{"trace-id", "4bf92f3577b34da6"},
          {"content-type", "application/octet-stream"},
          {"", ""},  // empty name and value are representable
          {"bin", std::string("a\0b\xff", 4)}};
}

QueueStats SomeQueueStats(std::string name, std::uint64_t base) {
  QueueStats q;
  q.name = std::move(name);
  q.ready = base;
  q.in_flight = base + 1;
  q.deferred = base + 2;
  q.dead = base + 3;
  q.published = base + 4;
  q.acked = base + 5;
  q.nacked = base + 6;
  q.redelivered = base + 7;
  q.expired = base + 8;
  q.dead_lettered = base + 9;
  q.deduplicated = base + 10;
  q.refused_full = kU64Max;
  q.oldest_ready_ms = base == 0 ? kI64Max : 12;
  q.consumers = kU32Max;
  return q;
}

}  // namespace

std::string BinaryBytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 255) & 0xff);
  return s;
}

std::string QueueName(std::size_t n) {
  static const char kAlphabet[] = "abcXYZ019._:-";
  std::string s(n, 'q');
  for (std::size_t i = 0; i < n; ++i) s[i] = kAlphabet[i % (sizeof kAlphabet - 1)];
  return s;
}

std::string MessageId(std::size_t n) {
  std::string s(n, 'x');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('!' + i % ('~' - '!' + 1));
  return s;
}

std::vector<Message> OnePerCommand() {
  std::vector<Message> out;

  out.push_back(Publish{{
      PublishItem{"restarts", "cattle-x7q2", std::string("restart\0host\xff", 13), SomeHeaders()},
      PublishItem{QueueName(kMaxQueueNameBytes), MessageId(kMaxMessageIdBytes), BinaryBytes(1000),
                  {}},
      PublishItem{"q", "1", "", {{"k", "v"}}},
  }});
  out.push_back(Confirm{"restarts", {"cattle-x7q2", MessageId(kMaxMessageIdBytes), "a"}});
  out.push_back(Error{ErrorCode::kLeaseLost, "lease 7 expired 120ms ago",
                      static_cast<std::uint8_t>(Command::kAck), "restarts",
                      {"cattle-x7q2", "cattle-x7q3"}, {0, 7, kU64Max}, kU64Max});
  out.push_back(Ready{"worker-1@host-a", {"restarts", "saves", QueueName(kMaxQueueNameBytes)},
                      kU32Max, "9f3a51c2e07b44d8a1c6f0e25b7d3e19"});
  out.push_back(Welcome{std::string("broker-\0\xfe", 9), 2500, 30'000, kU32Max, 1u << 20,
                        kU64Max, kU32Max, kU64Max});
  out.push_back(Credit{kU32Max});

  DeliverItem d1{kU64Max, "cattle-x7q2", "restarts", std::string("\0\0\0", 3),
                 1, 30'000, -1, SomeHeaders()};
  DeliverItem d2{0, MessageId(kMaxMessageIdBytes), QueueName(kMaxQueueNameBytes),
                 BinaryBytes(300), kU32Max, 0, kI64Min, {}};
  DeliverItem d3{1ull << 32, "m", "q", "x", 2, kU32Max, kI64Max, {{"retry", "2"}}};
  out.push_back(Deliver{{d1, d2, d3}});

  out.push_back(Ack{{1, 1ull << 32, kU64Max, 0}});
  out.push_back(Extend{kU32Max, {kU64Max, 3, 1ull << 40}});
  out.push_back(Extended{{{kU64Max, 0}, {1, kU32Max}, {1ull << 63, 29'999}}});
  out.push_back(Nack{{{kU64Max, 0, "handler threw: std::runtime_error: disk full"},
                      {5, kU32Max, std::string(kMaxString, 'r')},
                      {6, 250, ""}}});
  out.push_back(Heartbeat{{{kU64Max, 0}, {1, kI64Max}, {1ull << 40, -1}}});
  out.push_back(Disconnect{"draining before maintenance (SIGTERM)"});
  out.push_back(StatsRequest{kU64Max, QueueName(kMaxQueueNameBytes), kU32Max});

  StatsReply stats;
  stats.request_id = 42;
  stats.broker_id = "b-2026-11-22T10:24:00Z";
  stats.uptime_ms = -5;  // a clock step backwards is representable
  stats.queues = {SomeQueueStats("restarts", 0), SomeQueueStats("saves", kU64Max - 20)};
  WorkerStats w;
  w.name = "worker-1";
  w.peer = "0x00deadbeef";
  w.queues = {"restarts", "saves"};
  w.credit = kU32Max;
  w.in_flight = 3;
  w.delivered = kU64Max;
  w.acked = 10;
  w.nacked = 1;
  w.idle_ms = kI64Min;
  w.tasks = {{"cattle-x7q2", "restarts", kU32Max, kI64Max, -1},
             {MessageId(kMaxMessageIdBytes), QueueName(kMaxQueueNameBytes), 1, 0, kI64Min}};
  stats.workers = {w, WorkerStats{}};
  stats.counters = {{"journal.syncs", 500}, {"errors", -1}, {"", kI64Max}, {"min", kI64Min}};
  stats.next = "saves";
  stats.queues_total = kU64Max;
  stats.workers_total = 2;
  out.push_back(stats);

  out.push_back(QueuesRequest{7, "restarts", 500});
  out.push_back(QueuesReply{kU64Max, {"restarts", "saves", "restarts.dlq"}, "saves"});
  out.push_back(DlqListRequest{9, "restarts", kU32Max});
  out.push_back(DlqListReply{
      9, "restarts", kU64Max,
      {DeadLetter{"cattle-x7q2", 5, "timeout after 30s", 1'795'000'000'000, BinaryBytes(64)},
       DeadLetter{"m2", kU32Max, "", kI64Min, std::string("\0", 1)}}});
  out.push_back(DlqRequeueRequest{10, "restarts", {"cattle-x7q2", "m2"}});
  out.push_back(DlqPurgeRequest{11, "restarts", {MessageId(kMaxMessageIdBytes)}});
  out.push_back(AdminOk{12, kU64Max, "requeued 2 messages"});
  return out;
}

std::vector<Message> EdgeCases() {
  return {
      Publish{{PublishItem{"q", "i", "", {}}}},  // one item, empty payload, no headers
      Confirm{"", {}},
      Error{},  // all defaults: code kNone, empty everything
      Heartbeat{},  // what the broker and an idle worker send
      Error{static_cast<ErrorCode>(0xffff), std::string(kMaxString, 'e'), 0xff, "", {}, {}, 0},
      Ready{"", {"q"}, 0},
      Welcome{},
      Credit{0},
      Deliver{},  // an empty DELIVER is well-formed (nothing to deliver)
      Ack{},
      Extend{0, {}},
      Extended{},
      Nack{},
      Disconnect{""},
      StatsRequest{0},
      StatsReply{},
      QueuesReply{0, {}},
      DlqListRequest{0, "", 0},
      DlqListReply{},
      DlqRequeueRequest{0, "q", {}},  // empty ids: all
      DlqPurgeRequest{0, "q", {}},
      AdminOk{},
  };
}

std::vector<Message> All() {
  auto out = OnePerCommand();
  for (auto& m : EdgeCases()) out.push_back(std::move(m));
  return out;
}

std::string EncodeToString(const Message& m) {
  msgpack::sbuffer buffer;
  EncodeBody(m, buffer);
  return std::string(buffer.data(), buffer.size());
}

}  // namespace mandrill::protocol::samples
