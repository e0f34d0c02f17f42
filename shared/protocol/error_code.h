#pragma once
// Stable error codes carried by ERROR replies. Never renumber; add at the end of a range.
#include <cstdint>
#include <string_view>
#include <system_error>

namespace mandrill::protocol {

enum class ErrorCode : std::uint16_t {
  kNone = 0,
  // 1xx: the frame itself was bad. The broker answers and keeps the session.
  kMalformed = 100,           // not decodable: bad frame count, bad msgpack, wrong field types
  kUnsupportedVersion = 101,  // version frame names a version this broker does not speak
  kUnknownCommand = 102,      // command byte not in the table
  kTooLarge = 103,            // body, payload, batch or string over a limit
  kInvalidArgument = 104,     // well-formed but meaningless: bad queue name, empty id, ...
  kUnexpectedCommand = 105,   // valid command sent by the wrong role (e.g. a worker sends CONFIRM)
  // 2xx: the request was understood and refused.
  kQueueFull = 200,      // depth limit reached: back off and retry
  kUnknownQueue = 201,   // admin command on a queue that does not exist
  kLeaseLost = 202,      // ACK/EXTEND/NACK for an expired, stale or unknown lease
  kNotReady = 203,       // worker command from a peer that has not sent READY (send READY)
  kStorageFailed = 204,  // the journal could not write/sync: the publish was NOT confirmed
  kShuttingDown = 205,   // the broker is stopping: retry elsewhere or later
  kBrokerFull = 206,     // the broker's memory budget (--max-memory) is spent: back off and retry
  kLimitReached = 207,   // a broker-wide bound (queues, peers, dead letters) refuses this request
  kPermissionDenied = 208,  // the peer's key (role, queue patterns) does not allow this request
  kInternal = 299,       // a bug: reported and counted by the broker
};

std::string_view ErrorCodeName(ErrorCode code);

// ErrorCode as a std::error_code (category "mandrill.protocol"), for core::Error.
const std::error_category& ProtocolCategory();
inline std::error_code make_error_code(ErrorCode e) {  // NOLINT: found by ADL, std's spelling
  return {static_cast<int>(e), ProtocolCategory()};
}

}  // namespace mandrill::protocol

template <>
struct std::is_error_code_enum<mandrill::protocol::ErrorCode> : std::true_type {};
