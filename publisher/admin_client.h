#pragma once
// One admin request to the broker and its reply, for mandrill-ctl: a DEALER connects, sends
// the request once the connection is up, and waits for the reply carrying the same request
// id, all within one deadline. Replies to other (older) requests are skipped.
//
// Errors are values whose code is mandrill-ctl's exit code:
//   kCtlBrokerError (1): the broker answered ERROR, or with something undecodable/unexpected;
//   kCtlNoAnswer (2): no connection or no reply before the deadline, or the broker went away;
//   kCtlUsage (64): the endpoint is not a valid ZeroMQ endpoint.
// The message is the one line mandrill-ctl prints after "mandrill-ctl: ".
#include <chrono>
#include <cstdint>
#include <string>
#include <zmq.hpp>

#include "shared/core/result.h"
#include "shared/protocol/messages.h"

namespace mandrill::publisher {

inline constexpr int kCtlOk = 0;
inline constexpr int kCtlBrokerError = 1;
inline constexpr int kCtlNoAnswer = 2;
inline constexpr int kCtlUsage = 64;

class AdminClient {
 public:
  // `context` must outlive the client.
  AdminClient(zmq::context_t& context, std::string endpoint, std::chrono::milliseconds timeout);

  // Sends `request` (an admin request whose request id is `request_id`) and returns the reply.
  core::Result<protocol::Message> Call(const protocol::Message& request, std::uint64_t request_id);

 private:
  zmq::context_t& context_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
};

// The request id an admin reply or ERROR carries (0 when it has none).
std::uint64_t ReplyRequestId(const protocol::Message& m);

}  // namespace mandrill::publisher
