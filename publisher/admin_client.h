#pragma once
// One admin request to the broker and its reply, for mandrill-ctl: a DEALER connects, sends
// the request once the connection is up, and waits for the reply carrying the same request
// id, all within one deadline. Replies to other (older) requests are skipped.
//
// Errors are values whose code is a CtlErrc, each of which is one of mandrill-ctl's exit codes:
//   kBrokerError (1): the broker answered with something undecodable/unexpected;
//   a protocol::ErrorCode (also exit code 1): the broker answered ERROR with that code, so a
//     caller can tell "no such queue" from other refusals (mandrill-ctl --cells does);
//   kNoAnswer (2): no connection or no reply before the deadline, or the broker went away;
//   kUsage (64): the endpoint is not a valid ZeroMQ endpoint.
// The message is the one line mandrill-ctl prints after "mandrill-ctl: ".
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "shared/core/result.h"
#include "shared/protocol/messages.h"
#include "shared/security/curve_keys.h"

namespace mandrill::publisher {
enum class CtlErrc { kBrokerError = 1, kNoAnswer = 2, kUsage = 64 };
}
template <>
struct std::is_error_code_enum<mandrill::publisher::CtlErrc> : std::true_type {};

namespace mandrill::publisher {

const std::error_category& CtlCategory();
inline std::error_code make_error_code(CtlErrc e) {  // NOLINT: found by ADL, std's spelling
  return {static_cast<int>(e), CtlCategory()};
}

// mandrill-ctl's exit codes.
inline constexpr int kCtlOk = 0;
inline constexpr int kCtlBrokerError = static_cast<int>(CtlErrc::kBrokerError);
inline constexpr int kCtlNoAnswer = static_cast<int>(CtlErrc::kNoAnswer);
inline constexpr int kCtlUsage = static_cast<int>(CtlErrc::kUsage);
// The exit code for a failed Call (kCtlBrokerError for an error of another layer).
int CtlExitCode(const core::Error& error);

class AdminClient {
 public:
  // `context` must outlive the client.
  AdminClient(zmq::context_t& context, std::string endpoint, std::chrono::milliseconds timeout,
              std::optional<security::ClientKeys> curve = std::nullopt);

  // Sends `request` (an admin request whose request id is `request_id`) and returns the reply.
  core::Result<protocol::Message> Call(const protocol::Message& request, std::uint64_t request_id);

 private:
  zmq::context_t& context_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::optional<security::ClientKeys> curve_;
};

// The request id an admin reply or ERROR carries (0 when it has none).
std::uint64_t ReplyRequestId(const protocol::Message& m);

}  // namespace mandrill::publisher
