#include "publisher/admin_client.h"

#include <spdlog/spdlog.h>

#include "shared/core/duration.h"
#include "shared/protocol/transport.h"

namespace mandrill::publisher {
namespace {

using Clock = std::chrono::steady_clock;

long RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<long>(left.count()) : 0;
}

class CtlErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mandrill.ctl"; }
  std::string message(int value) const override {
    switch (static_cast<CtlErrc>(value)) {
      case CtlErrc::kBrokerError: return "the broker refused or answered wrongly";
      case CtlErrc::kNoAnswer: return "no answer from the broker";
      case CtlErrc::kUsage: return "bad command line";
    }
    return "ctl error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& CtlCategory() {
  static const CtlErrorCategory category;
  return category;
}

int CtlExitCode(const core::Error& error) {
  return error.Is<CtlErrc>() ? error.code.value() : kCtlBrokerError;
}

std::uint64_t ReplyRequestId(const protocol::Message& m) {
  return std::visit(
      [](const auto& body) -> std::uint64_t {
        if constexpr (requires { body.request_id; }) {
          return body.request_id;
        } else {
          return 0;
        }
      },
      m);
}

AdminClient::AdminClient(zmq::context_t& context, std::string endpoint,
                         std::chrono::milliseconds timeout,
                         std::optional<security::ClientKeys> curve)
    : context_(context),
      endpoint_(std::move(endpoint)),
      timeout_(timeout),
      curve_(std::move(curve)) {}

core::Result<protocol::Message> AdminClient::Call(const protocol::Message& request,
                                                  std::uint64_t request_id) {
  const auto deadline = Clock::now() + timeout_;
  const auto command = protocol::CommandOf(request);
  const std::string no_answer = "no answer from " + endpoint_ + " within " +
                                core::FormatDuration(timeout_) + ": is mandrill-broker running?";
  zmq::socket_t socket(context_, zmq::socket_type::dealer);
  protocol::ConfigureDealer(socket, protocol::DealerOptions{});
  socket.set(zmq::sockopt::linger, 0);
  if (curve_) security::MakeCurveClient(socket, curve_->own, curve_->broker_public_z85);
  try {
    socket.connect(endpoint_);
  } catch (const zmq::error_t& e) {
    return core::Error{CtlErrc::kUsage, "--broker '" + endpoint_ + "': " + e.what() +
                                      " (use an endpoint like tcp://127.0.0.1:5555)"};
  }

  // ZMQ_IMMEDIATE: the send would block until the connection is up.
  while (true) {
    const auto r = protocol::Send(socket, request);
    if (r == protocol::SendResult::kSent) break;
    if (r != protocol::SendResult::kWouldBlock) {
      return core::Error{CtlErrc::kNoAnswer, std::string("cannot send to ") + endpoint_ + ": " +
                                           zmq_strerror(zmq_errno())};
    }
    zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLOUT, 0};
    const long wait = RemainingMs(deadline);
    if (wait == 0) return core::Error{CtlErrc::kNoAnswer, no_answer};
    if (zmq_poll(&item, 1, wait) < 0 && zmq_errno() != EINTR) {
      return core::Error{CtlErrc::kNoAnswer, std::string("poll failed: ") + zmq_strerror(zmq_errno())};
    }
  }

  protocol::Received received;
  const protocol::Limits limits;
  while (true) {
    zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    const long wait = RemainingMs(deadline);
    if (wait == 0) return core::Error{CtlErrc::kNoAnswer, no_answer};
    if (zmq_poll(&item, 1, wait) < 0) {
      if (zmq_errno() == EINTR) continue;
      return core::Error{CtlErrc::kNoAnswer, std::string("poll failed: ") + zmq_strerror(zmq_errno())};
    }
    while (protocol::Receive(socket, received)) {
      auto reply = protocol::DecodeReceived(received, 0, limits);
      if (!reply.ok()) {
        return core::Error{CtlErrc::kBrokerError,
                           "undecodable reply from " + endpoint_ + ": " + reply.error().message};
      }
      const protocol::Message& m = *reply;
      if (const auto* bye = std::get_if<protocol::Disconnect>(&m)) {
        return core::Error{CtlErrc::kNoAnswer,
                           "broker at " + endpoint_ + " is going away: " + bye->reason};
      }
      if (std::holds_alternative<protocol::Heartbeat>(m)) continue;
      const auto id = ReplyRequestId(m);
      if (const auto* err = std::get_if<protocol::Error>(&m)) {
        // An ERROR about the frame itself may not know our request id; it names the command.
        const bool ours =
            id == request_id || (id == 0 && err->answers == static_cast<std::uint8_t>(command));
        if (!ours) continue;
        return core::Error{err->code, err->reason + " (code " +
                                          std::to_string(static_cast<int>(err->code)) + " " +
                                          std::string(protocol::ErrorCodeName(err->code)) + ")"};
      }
      if (id != request_id) {
        spdlog::debug("skipping a reply to request {}", id);
        continue;
      }
      return std::move(*reply);
    }
  }
}

}  // namespace mandrill::publisher
