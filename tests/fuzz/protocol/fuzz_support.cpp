#include "tests/fuzz/protocol/fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "shared/protocol/codec.h"
#include "tests/unit/protocol/allocation_probe.h"
#include "tests/unit/protocol/sample_messages.h"

namespace mandrill::fuzz {
namespace {

using namespace protocol;  // NOLINT: a test file that names every message type

void (*g_failure_hook)() = nullptr;

std::string Hex(std::string_view s, std::size_t max = 512) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    out += kHex[static_cast<unsigned char>(s[i]) >> 4];
    out += kHex[static_cast<unsigned char>(s[i]) & 15];
  }
  if (s.size() > max) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

[[noreturn]] void Fail(const std::string& what, std::string_view version, std::string_view command,
                       std::string_view body) {
  std::fprintf(stderr,
               "\n=== protocol decode contract violated: %s\n  version: %s\n  command: %s\n"
               "  body:    %s\n",
               what.c_str(), Hex(version).c_str(), Hex(command).c_str(), Hex(body).c_str());
  if (g_failure_hook != nullptr) g_failure_hook();
  std::abort();
}

// Limits of one check: every string, batch, payload and header count of a decoded message.
class LimitChecker {
 public:
  explicit LimitChecker(const Limits& limits) : limits_(limits) {}
  const std::string& problem() const { return problem_; }

  void Str(const std::string& s, const char* what, std::size_t max = 0) {
    if (max == 0) max = limits_.max_string_bytes;
    if (s.size() > max) Note(std::string(what) + " of " + std::to_string(s.size()) + " bytes");
  }
  void Payload(const std::string& s) {
    if (s.size() > limits_.max_payload_bytes) Note("payload of " + std::to_string(s.size()));
  }
  template <typename V>
  void Batch(const V& v, const char* what) {
    if (v.size() > limits_.max_batch) Note(std::string(what) + " batch of " + std::to_string(v.size()));
  }
  void Ids(const std::vector<std::string>& v, const char* what, std::size_t max = 0) {
    Batch(v, what);
    for (const auto& s : v) Str(s, what, max);
  }
  void Hdrs(const Headers& h) {
    if (h.size() > limits_.max_headers) Note("headers: " + std::to_string(h.size()));
    for (const auto& [k, v] : h) {
      Str(k, "header name");
      Str(v, "header value");
    }
  }

  void Check(const Publish& m) {
    if (m.items.empty()) Note("PUBLISH with no items");
    Batch(m.items, "PUBLISH");
    for (const auto& it : m.items) {
      // Names and ids are checked per item by the broker, so only the string limit holds here.
      Str(it.queue, "queue");
      Str(it.id, "id");
      Payload(it.payload);
      Hdrs(it.headers);
    }
  }
  void Check(const Confirm& m) {
    Str(m.queue, "queue", kMaxQueueNameBytes);
    Ids(m.ids, "ids", kMaxMessageIdBytes);
  }
  void Check(const Error& m) {
    Str(m.reason, "reason");
    Str(m.queue, "queue");
    Ids(m.ids, "ids");
    Batch(m.leases, "leases");
  }
  void Check(const Ready& m) {
    if (m.queues.empty()) Note("READY with no queues");
    Str(m.worker, "worker");
    Ids(m.queues, "queues", kMaxQueueNameBytes);
  }
  void Check(const Welcome& m) { Str(m.broker_id, "broker id"); }
  void Check(const Credit&) {}
  void Check(const Deliver& m) {
    Batch(m.items, "DELIVER");
    for (const auto& it : m.items) {
      Str(it.id, "id", kMaxMessageIdBytes);
      Str(it.queue, "queue", kMaxQueueNameBytes);
      Payload(it.payload);
      Hdrs(it.headers);
    }
  }
  void Check(const Ack& m) { Batch(m.leases, "ACK"); }
  void Check(const Extend& m) { Batch(m.leases, "EXTEND"); }
  void Check(const Extended& m) { Batch(m.items, "EXTENDED"); }
  void Check(const Nack& m) {
    Batch(m.items, "NACK");
    for (const auto& it : m.items) Str(it.reason, "reason");
  }
  void Check(const Heartbeat&) {}
  void Check(const Disconnect& m) { Str(m.reason, "reason"); }
  void Check(const StatsRequest&) {}
  void Check(const StatsReply& m) {
    Str(m.broker_id, "broker id");
    Batch(m.queues, "queue stats");
    for (const auto& q : m.queues) Str(q.name, "queue");
    Batch(m.workers, "worker stats");
    for (const auto& w : m.workers) {
      Str(w.name, "worker");
      Str(w.peer, "peer");
      Ids(w.queues, "worker queues");
    }
    Batch(m.counters, "counters");
    for (const auto& c : m.counters) Str(c.first, "counter");
  }
  void Check(const QueuesRequest&) {}
  void Check(const QueuesReply& m) { Ids(m.names, "names"); }
  void Check(const DlqListRequest& m) { Str(m.queue, "queue", kMaxQueueNameBytes); }
  void Check(const DlqListReply& m) {
    Str(m.queue, "queue");
    Batch(m.items, "dead letters");
    for (const auto& d : m.items) {
      Str(d.id, "id");
      Str(d.last_error, "last error");
      Payload(d.payload);
    }
  }
  void Check(const DlqRequeueRequest& m) {
    Str(m.queue, "queue", kMaxQueueNameBytes);
    Ids(m.ids, "ids", kMaxMessageIdBytes);
  }
  void Check(const DlqPurgeRequest& m) {
    Str(m.queue, "queue", kMaxQueueNameBytes);
    Ids(m.ids, "ids", kMaxMessageIdBytes);
  }
  void Check(const AdminOk& m) { Str(m.message, "message"); }

 private:
  void Note(std::string what) {
    if (problem_.empty()) problem_ = std::move(what);
  }
  const Limits& limits_;
  std::string problem_;
};

// The frame-level answer codec.h promises, or kNone if the frames are fine and the body decides.
ErrorCode ExpectedFrameError(std::string_view version, std::string_view command,
                             std::string_view body, const Limits& limits) {
  if (version.size() != 4 || version.substr(0, 3) != kVersionMagic) return ErrorCode::kMalformed;
  if (static_cast<std::uint8_t>(version[3]) != kProtocolVersion) return ErrorCode::kUnsupportedVersion;
  if (command.size() != 1) return ErrorCode::kMalformed;
  if (!IsKnownCommand(static_cast<std::uint8_t>(command[0]))) return ErrorCode::kUnknownCommand;
  if (body.size() > limits.max_body_bytes) return ErrorCode::kTooLarge;
  return ErrorCode::kNone;
}

Limits Wider(const Limits& l) {
  Limits w = l;
  w.max_payload_bytes = l.max_payload_bytes * 4 + 1024;
  w.max_batch = l.max_batch * 4 + 16;
  w.max_string_bytes = l.max_string_bytes * 4 + 1024;
  w.max_headers = l.max_headers * 4 + 16;
  w.max_body_bytes = l.max_body_bytes * 4 + 1024;
  return w;
}

}  // namespace

protocol::Limits TightLimits() {
  Limits l;
  l.max_payload_bytes = 32;
  l.max_batch = 4;
  l.max_string_bytes = 300;  // above the 256-byte id limit, so both checks are reachable
  l.max_headers = 3;
  l.max_body_bytes = 8192;
  return l;
}

void SetFailureHook(void (*hook)()) { g_failure_hook = hook; }

void CheckDecode(std::string_view version, std::string_view command, std::string_view body,
                 const protocol::Limits& limits) {
  std::size_t largest = 0, total = 0;
  auto r = [&] {
    protocol::testutil::AllocationProbe probe;
    auto result = Decode(version, command, body, limits);
    largest = probe.largest();
    total = probe.total();
    return result;
  }();
  // Generous bounds that still catch allocating for a declared size: a decoded batch costs up
  // to ~150 bytes of struct per input byte (DeliverItem) and msgpack ~24-48 per element.
  const std::size_t n = body.size();
  if (largest > 256 * n + (256 << 10)) {
    Fail("one allocation of " + std::to_string(largest) + " bytes for a " + std::to_string(n) +
             "-byte body", version, command, body);
  }
  if (total > 1024 * n + (1 << 20)) {
    Fail("allocated " + std::to_string(total) + " bytes in all for a " + std::to_string(n) +
             "-byte body", version, command, body);
  }

  const ErrorCode frame_error = ExpectedFrameError(version, command, body, limits);
  if (!r.ok()) {
    const auto& e = r.error();
    if (!e.Is<ErrorCode>()) {
      Fail("error of category " + std::string(e.code.category().name()) +
               " is not one Decode may return: " + e.message,
           version, command, body);
    }
    switch (static_cast<ErrorCode>(e.code.value())) {
      case ErrorCode::kMalformed:
      case ErrorCode::kUnsupportedVersion:
      case ErrorCode::kUnknownCommand:
      case ErrorCode::kTooLarge:
      case ErrorCode::kInvalidArgument:
        break;
      default:
        Fail("error code " + std::to_string(e.code.value()) + " is not one Decode may return: " + e.message,
             version, command, body);
    }
    if (e.message.empty()) Fail("error with an empty reason", version, command, body);
    if (frame_error != ErrorCode::kNone && e.code != frame_error) {
      Fail("frame error should be code " + std::to_string(static_cast<int>(frame_error)) +
               ", got " + std::to_string(e.code.value()) + ": " + e.message,
           version, command, body);
    }
    if (frame_error == ErrorCode::kNone &&
        (e.code == ErrorCode::kUnsupportedVersion ||
         e.code == ErrorCode::kUnknownCommand)) {
      Fail("frames are fine but got " + e.message, version, command, body);
    }
    return;
  }

  if (frame_error != ErrorCode::kNone) Fail("bad frames decoded successfully", version, command, body);
  const Message& m = *r;
  if (static_cast<std::uint8_t>(CommandOf(m)) != static_cast<std::uint8_t>(command[0])) {
    Fail("decoded " + std::string(CommandName(CommandOf(m))) + " from another command byte",
         version, command, body);
  }
  LimitChecker limit_checker(limits);
  std::visit([&](const auto& alternative) { limit_checker.Check(alternative); }, m);
  if (!limit_checker.problem().empty()) {
    Fail("decoded message exceeds the limits: " + limit_checker.problem(), version, command, body);
  }
  const std::string again = protocol::samples::EncodeToString(m);
  const auto r2 = Decode(version, command, again, limits);
  if (!r2.ok()) Fail("re-encoded message does not decode: " + r2.error().message, version, command, body);
  if (!(*r2 == m)) Fail("re-encoded message decodes differently", version, command, body);
  const auto wide = Decode(version, command, body, Wider(limits));
  if (!wide.ok() || !(*wide == m)) Fail("wider limits decode differently", version, command, body);
}

FramesInput SplitFramesInput(std::string_view data) {
  FramesInput in;
  if (data.empty()) return in;
  const auto flags = static_cast<std::uint8_t>(data[0]);
  data.remove_prefix(1);
  const std::size_t vlen = std::min<std::size_t>(flags & 7, data.size());
  in.version = data.substr(0, vlen);
  data.remove_prefix(vlen);
  const std::size_t clen = std::min<std::size_t>((flags >> 3) & 3, data.size());
  in.command = data.substr(0, clen);
  data.remove_prefix(clen);
  in.body = data;
  in.tight = (flags & 0x80) != 0;
  return in;
}

std::string JoinFramesInput(std::string_view version, std::string_view command,
                            std::string_view body, bool tight) {
  const auto flags = static_cast<char>((version.size() & 7) | ((command.size() & 3) << 3) |
                                       (tight ? 0x80 : 0));
  return std::string(1, flags) + std::string(version.substr(0, 7)) +
         std::string(command.substr(0, 3)) + std::string(body);
}

std::vector<std::string> BodySeeds() {
  std::vector<std::string> out;
  for (const auto& m : protocol::samples::All()) out.push_back(protocol::samples::EncodeToString(m));
  return out;
}

std::vector<std::string> FramesSeeds() {
  std::vector<std::string> out;
  const auto all = protocol::samples::All();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string command(1, static_cast<char>(CommandOf(all[i])));
    // The edge cases (second half) also go in under tight limits.
    const bool tight = i >= protocol::samples::OnePerCommand().size();
    out.push_back(JoinFramesInput(VersionFrame(), command, protocol::samples::EncodeToString(all[i]),
                                  tight));
  }
  return out;
}

}  // namespace mandrill::fuzz
