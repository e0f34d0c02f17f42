// PublishClient: a send list, a table of unsettled messages by (queue, id), and a poll loop
// that resends on silence or backoff until every message is settled or the call times out.
#include "publisher/publish_client.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <unordered_map>

#include <zmq.hpp>

#include "shared/protocol/codec.h"
#include "shared/protocol/transport.h"
#include "shared/security/curve_keys.h"

namespace mandrill::client {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::ErrorCode;

bool RetryLater(ErrorCode code) {
  return code == ErrorCode::kQueueFull || code == ErrorCode::kBrokerFull ||
         code == ErrorCode::kStorageFailed || code == ErrorCode::kShuttingDown;
}

std::string IdPrefix() {
  std::random_device rd;
  const auto bits = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx-", static_cast<unsigned long long>(bits));
  return buf;
}

struct LocalRefusal {
  ErrorCode code = ErrorCode::kNone;
  std::string reason;
};

// What the broker would refuse by the protocol's limits (shared/protocol/limits.h); a broker
// started with a lower --max-payload-bytes refuses more, as a frame-level error.
LocalRefusal Refusal(const OutgoingMessage& m) {
  if (auto why = protocol::CheckQueueName(m.queue); !why.empty()) {
    return {ErrorCode::kInvalidArgument, "queue: " + why};
  }
  if (auto why = protocol::CheckMessageId(m.id); !why.empty()) {
    return {ErrorCode::kInvalidArgument, "id: " + why};
  }
  const protocol::Limits limits;
  if (m.headers.size() > limits.max_headers) {
    return {ErrorCode::kTooLarge, "more than " + std::to_string(limits.max_headers) + " headers"};
  }
  std::size_t bytes = m.payload.size();
  for (const auto& [name, value] : m.headers) {
    if (name.size() > limits.max_string_bytes || value.size() > limits.max_string_bytes) {
      return {ErrorCode::kTooLarge, "header '" + name.substr(0, 64) + "' over " +
                                        std::to_string(limits.max_string_bytes) + " bytes"};
    }
    bytes += name.size() + value.size();
  }
  if (bytes > limits.max_payload_bytes) {
    return {ErrorCode::kTooLarge, "payload and headers " + std::to_string(bytes) +
                                      " bytes, over " + std::to_string(limits.max_payload_bytes)};
  }
  return {};
}

}  // namespace

class PublishClient::Impl {
 public:
  Impl(PublishClientOptions options, zmq::context_t context, zmq::socket_t socket)
      : options_(std::move(options)),
        context_(std::move(context)),
        socket_(std::move(socket)),
        id_prefix_(IdPrefix()) {}

  core::Result<std::vector<PublishOutcome>> Publish(std::vector<OutgoingMessage> messages,
                                                    std::chrono::milliseconds timeout);

 private:
  struct Pending {
    std::size_t index;  // into the call's messages and outcomes
    Clock::time_point due;  // when to (re)send
    std::chrono::milliseconds backoff{0};
    bool sent = false;
    // Was unanswered when a whole PUBLISH frame was refused (a frame-level error names no ids):
    // sent alone from then on, so one bad message cannot keep refusing the frames of others.
    bool solo = false;
  };
  static std::string Key(std::string_view queue, std::string_view id) {
    std::string key(queue);
    key.push_back('\0');
    key.append(id);
    return key;
  }
  core::Status SendDue(const std::vector<OutgoingMessage>& messages, Clock::time_point now);
  void Handle(const protocol::Message& message, std::vector<PublishOutcome>& outcomes,
              Clock::time_point now);

  PublishClientOptions options_;
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string id_prefix_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::string, Pending> pending_;
};

core::Status PublishClient::Impl::SendDue(const std::vector<OutgoingMessage>& messages,
                                          Clock::time_point now) {
  protocol::Publish frame;
  std::vector<Pending*> in_frame;
  auto flush = [&]() -> core::Status {
    if (frame.items.empty()) return core::Status::Ok();
    msgpack::sbuffer body;
    protocol::EncodeBody(protocol::Message(std::move(frame)), body);
    frame = {};
    const auto sent = protocol::SendBody(socket_, protocol::Command::kPublish, std::move(body));
    if (sent == protocol::SendResult::kFailed) {
      return core::Error(core::Errc::kIo, "cannot send to " + options_.broker);
    }
    // Not connected yet (IMMEDIATE) or at the HWM: nothing left; try again shortly.
    const bool ok = sent == protocol::SendResult::kSent;
    for (auto* p : in_frame) {
      p->sent = p->sent || ok;
      p->due = now + (ok ? options_.resend_after : std::chrono::milliseconds(50));
    }
    in_frame.clear();
    return core::Status::Ok();
  };
  for (auto& [key, p] : pending_) {
    if (p.due > now) continue;
    if (p.solo) {
      if (auto st = flush(); !st.ok()) return st;
    }
    const auto& m = messages[p.index];
    frame.items.push_back(protocol::PublishItem{m.queue, m.id, m.payload, m.headers});
    in_frame.push_back(&p);
    if (p.solo || frame.items.size() >= options_.max_batch) {
      if (auto st = flush(); !st.ok()) return st;
    }
  }
  return flush();
}

void PublishClient::Impl::Handle(const protocol::Message& message,
                                 std::vector<PublishOutcome>& outcomes, Clock::time_point now) {
  if (const auto* confirm = std::get_if<protocol::Confirm>(&message)) {
    for (const auto& id : confirm->ids) {
      const auto it = pending_.find(Key(confirm->queue, id));
      if (it == pending_.end()) continue;  // an answer to an earlier resend, already settled
      outcomes[it->second.index].code = ErrorCode::kNone;
      outcomes[it->second.index].reason.clear();
      pending_.erase(it);
    }
  } else if (const auto* error = std::get_if<protocol::Error>(&message)) {
    for (const auto& id : error->ids) {
      const auto it = pending_.find(Key(error->queue, id));
      if (it == pending_.end()) continue;
      auto& outcome = outcomes[it->second.index];
      outcome.code = error->code;
      outcome.reason = error->reason;
      if (!RetryLater(error->code)) {
        pending_.erase(it);
        continue;
      }
      auto& p = it->second;
      p.backoff = std::clamp(p.backoff * 2, std::chrono::milliseconds(50),
                             std::chrono::milliseconds(2000));
      p.due = now + p.backoff;
    }
    // A frame-level error names no ids (the broker's decoder refused a whole frame, e.g. a
    // payload over its --max-payload-bytes): which frame, and so which message, is unknown.
    // Every message awaiting an answer keeps the reason and is resent alone when due; the
    // good ones are confirmed, the bad one ends the call timed out with this reason.
    if (error->ids.empty() &&
        error->answers == static_cast<std::uint8_t>(protocol::Command::kPublish)) {
      for (auto& [key, p] : pending_) {
        if (!p.sent) continue;
        p.solo = true;
        outcomes[p.index].code = error->code;
        outcomes[p.index].reason = error->reason;
      }
    }
  }
  // DISCONNECT (the broker stops): unanswered messages are resent when their time comes.
}

core::Result<std::vector<PublishOutcome>> PublishClient::Impl::Publish(
    std::vector<OutgoingMessage> messages, std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  std::vector<PublishOutcome> outcomes(messages.size());
  pending_.clear();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto& m = messages[i];
    if (m.id.empty()) m.id = id_prefix_ + std::to_string(next_id_++);
    outcomes[i].queue = m.queue;
    outcomes[i].id = m.id;
    // Refused here as the broker would refuse it, so it never shares a frame with others.
    if (auto why = Refusal(m); why.code != ErrorCode::kNone) {
      outcomes[i].code = why.code;
      outcomes[i].reason = std::move(why.reason);
      continue;
    }
    // A message listed twice in one call is sent once; the repeat is refused here.
    if (!pending_.emplace(Key(m.queue, m.id), Pending{i, start}).second) {
      outcomes[i].reason = "listed twice in one call";
      outcomes[i].code = ErrorCode::kInvalidArgument;
    }
  }
  protocol::Limits limits;
  while (!pending_.empty()) {
    auto now = Clock::now();
    if (now >= deadline) break;
    if (auto st = SendDue(messages, now); !st.ok()) return st.error();
    auto next = deadline;
    for (const auto& [key, p] : pending_) next = std::min(next, p.due);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now);
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::max(wait, std::chrono::milliseconds(1)));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return core::Error(core::Errc::kIo, std::string("poll: ") + e.what());
    }
    protocol::Received in;
    now = Clock::now();
    while (protocol::Receive(socket_, in)) {
      auto decoded = protocol::DecodeReceived(in, 0, limits);
      // A frame we cannot read is the broker's or the network's fault, not the message's:
      // the unanswered messages are resent when their time comes.
      if (decoded.ok()) Handle(*decoded, outcomes, now);
      in = {};
    }
  }
  for (const auto& [key, p] : pending_) {
    auto& outcome = outcomes[p.index];
    outcome.timed_out = true;
    if (outcome.reason.empty()) outcome.reason = "no confirm within the timeout";
  }
  pending_.clear();
  return outcomes;
}

core::Result<std::unique_ptr<PublishClient>> PublishClient::Connect(PublishClientOptions options) {
  if (auto why = protocol::CheckEndpoint(options.broker); !why.empty()) {
    return core::Error(core::Errc::kInvalidArgument, "broker: " + why);
  }
  if (options.max_batch == 0 || options.max_batch > protocol::Limits{}.max_batch) {
    return core::Error(core::Errc::kInvalidArgument, "max_batch: 1 to the protocol's batch limit");
  }
  auto keys = security::LoadClientKeys(options.key_file, options.broker_key_file);
  if (!keys.ok()) return keys.error();
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  protocol::ConfigureDealer(socket, protocol::DealerOptions{});
  if (*keys) security::MakeCurveClient(socket, (*keys)->own, (*keys)->broker_public_z85);
  try {
    socket.connect(options.broker);
  } catch (const zmq::error_t& e) {
    return core::Error(core::Errc::kInvalidArgument, options.broker + ": " + e.what());
  }
  return std::unique_ptr<PublishClient>(new PublishClient(
      std::make_unique<Impl>(std::move(options), std::move(context), std::move(socket))));
}

PublishClient::PublishClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PublishClient::~PublishClient() = default;

core::Result<std::vector<PublishOutcome>> PublishClient::Publish(
    std::vector<OutgoingMessage> messages, std::chrono::milliseconds timeout) {
  return impl_->Publish(std::move(messages), timeout);
}

core::Status PublishClient::PublishOne(OutgoingMessage message,
                                       std::chrono::milliseconds timeout) {
  std::vector<OutgoingMessage> one;
  one.push_back(std::move(message));
  auto outcomes = Publish(std::move(one), timeout);
  if (!outcomes.ok()) return outcomes.error();
  const auto& o = outcomes->front();
  if (o.confirmed()) return core::Status::Ok();
  if (o.timed_out && o.code == ErrorCode::kNone) {
    return core::Error(core::Errc::kUnavailable, o.reason);
  }
  return core::Error(o.code, o.reason);
}

}  // namespace mandrill::client
