#pragma once
// Command bytes on the wire (frame 2 of every message). See docs/protocol.md.
// To change: never renumber or reuse a byte; add new commands with new bytes and bump
// kProtocolVersion only for changes an old peer would misread.
#include <cstdint>
#include <string_view>

namespace mandrill::protocol {

inline constexpr std::uint8_t kProtocolVersion = 1;

enum class Command : std::uint8_t {
  // Publisher <-> broker
  kPublish = 0x01,
  kConfirm = 0x02,
  kError = 0x03,
  // Worker <-> broker
  kReady = 0x10,
  kWelcome = 0x11,
  kCredit = 0x12,
  kDeliver = 0x13,
  kAck = 0x14,
  kExtend = 0x15,
  kExtended = 0x16,
  kNack = 0x17,
  // Either direction
  kHeartbeat = 0x20,
  kDisconnect = 0x21,
  // Admin (mandrill-ctl) <-> broker
  kStats = 0x30,
  kStatsReply = 0x31,
  kQueues = 0x32,
  kQueuesReply = 0x33,
  kDlqList = 0x34,
  kDlqListReply = 0x35,
  kDlqRequeue = 0x36,
  kDlqPurge = 0x37,
  kAdminOk = 0x38,
};

// The byte on the wire (ERROR's `answers` field names a command by it).
constexpr std::uint8_t CommandByte(Command c) { return static_cast<std::uint8_t>(c); }

// "PUBLISH", "DELIVER", ... or "UNKNOWN".
std::string_view CommandName(Command c);
bool IsKnownCommand(std::uint8_t byte);

}  // namespace mandrill::protocol
