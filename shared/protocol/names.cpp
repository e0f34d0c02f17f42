#include "shared/protocol/command.h"
#include "shared/protocol/error_code.h"
#include "shared/protocol/messages.h"

namespace mandrill::protocol {

std::string_view CommandName(Command c) {
  switch (c) {
    case Command::kPublish: return "PUBLISH";
    case Command::kConfirm: return "CONFIRM";
    case Command::kError: return "ERROR";
    case Command::kReady: return "READY";
    case Command::kWelcome: return "WELCOME";
    case Command::kCredit: return "CREDIT";
    case Command::kDeliver: return "DELIVER";
    case Command::kAck: return "ACK";
    case Command::kExtend: return "EXTEND";
    case Command::kExtended: return "EXTENDED";
    case Command::kNack: return "NACK";
    case Command::kHeartbeat: return "HEARTBEAT";
    case Command::kDisconnect: return "DISCONNECT";
    case Command::kStats: return "STATS";
    case Command::kStatsReply: return "STATS_REPLY";
    case Command::kQueues: return "QUEUES";
    case Command::kQueuesReply: return "QUEUES_REPLY";
    case Command::kDlqList: return "DLQ_LIST";
    case Command::kDlqListReply: return "DLQ_LIST_REPLY";
    case Command::kDlqRequeue: return "DLQ_REQUEUE";
    case Command::kDlqPurge: return "DLQ_PURGE";
    case Command::kAdminOk: return "ADMIN_OK";
  }
  return "UNKNOWN";
}

bool IsKnownCommand(std::uint8_t byte) {
  return CommandName(static_cast<Command>(byte)) != "UNKNOWN";
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone: return "none";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kUnsupportedVersion: return "unsupported version";
    case ErrorCode::kUnknownCommand: return "unknown command";
    case ErrorCode::kTooLarge: return "too large";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kUnexpectedCommand: return "unexpected command";
    case ErrorCode::kQueueFull: return "queue full";
    case ErrorCode::kUnknownQueue: return "unknown queue";
    case ErrorCode::kLeaseLost: return "lease lost";
    case ErrorCode::kNotReady: return "not ready";
    case ErrorCode::kStorageFailed: return "storage failed";
    case ErrorCode::kShuttingDown: return "shutting down";
    case ErrorCode::kBrokerFull: return "broker full";
    case ErrorCode::kLimitReached: return "limit reached";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

namespace {
class ProtocolErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mandrill.protocol"; }
  std::string message(int value) const override {
    return std::string(ErrorCodeName(static_cast<ErrorCode>(value)));
  }
};
}  // namespace

const std::error_category& ProtocolCategory() {
  static const ProtocolErrorCategory category;
  return category;
}

Command CommandOf(const Message& m) {
  static constexpr Command kByIndex[] = {
      Command::kPublish,    Command::kConfirm,     Command::kError,       Command::kReady,
      Command::kWelcome,    Command::kCredit,      Command::kDeliver,     Command::kAck,
      Command::kExtend,     Command::kExtended,    Command::kNack,        Command::kHeartbeat,
      Command::kDisconnect, Command::kStats,       Command::kStatsReply,  Command::kQueues,
      Command::kQueuesReply, Command::kDlqList,    Command::kDlqListReply, Command::kDlqRequeue,
      Command::kDlqPurge,   Command::kAdminOk};
  static_assert(std::size(kByIndex) == std::variant_size_v<Message>);
  return kByIndex[m.index()];
}

}  // namespace mandrill::protocol
