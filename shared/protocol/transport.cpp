#include "shared/protocol/transport.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "shared/protocol/codec.h"

#if defined(MANDRILL_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace mandrill::protocol {
namespace {

void SetInt(zmq::socket_t& s, int option, int value) {
  zmq_setsockopt(s.handle(), option, &value, sizeof value);
}

SendResult Classify(int err) {
  if (err == EAGAIN) return SendResult::kWouldBlock;
  if (err == EHOSTUNREACH) return SendResult::kUnreachable;
  return SendResult::kFailed;
}

// Sends one frame; `more` adds ZMQ_SNDMORE.
int SendFrame(zmq::socket_t& s, zmq_msg_t* msg, bool more) {
  return zmq_msg_send(msg, s.handle(), ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
}

SendResult SendParts(zmq::socket_t& socket, Command command, zmq_msg_t* body,
                     std::string_view routing_id) {
  zmq_msg_t frame;
  bool first = true;
  if (!routing_id.empty()) {
    zmq_msg_init_size(&frame, routing_id.size());
    std::memcpy(zmq_msg_data(&frame), routing_id.data(), routing_id.size());
    if (SendFrame(socket, &frame, true) < 0) {
      const int err = zmq_errno();
      zmq_msg_close(&frame);
      zmq_msg_close(body);
      return Classify(err);
    }
    first = false;
  }
  const auto version = VersionFrame();
  zmq_msg_init_size(&frame, version.size());
  std::memcpy(zmq_msg_data(&frame), version.data(), version.size());
  if (SendFrame(socket, &frame, true) < 0) {
    const int err = zmq_errno();
    zmq_msg_close(&frame);
    zmq_msg_close(body);
    // After the first frame is queued, ZeroMQ queues the rest atomically; a failure here means
    // the context is going away.
    return first ? Classify(err) : SendResult::kFailed;
  }
  const auto byte = static_cast<char>(command);
  zmq_msg_init_size(&frame, 1);
  std::memcpy(zmq_msg_data(&frame), &byte, 1);
  if (SendFrame(socket, &frame, true) < 0) {
    zmq_msg_close(&frame);
    zmq_msg_close(body);
    return SendResult::kFailed;
  }
  if (SendFrame(socket, body, false) < 0) {
    zmq_msg_close(body);
    return SendResult::kFailed;
  }
  return SendResult::kSent;
}

// A body buffer handed to ZeroMQ is freed by its IO thread once sent. The handover runs through
// libzmq's lock-free pipes, which TSan cannot see (libzmq is not instrumented), so under TSan the
// sending thread releases the buffer and the freeing thread acquires it: the happens-before
// libzmq really provides, stated instead of suppressed.
void FreeSentBody(void* data, void* /*hint*/) {
#if defined(MANDRILL_TSAN)
  __tsan_acquire(data);
#endif
  std::free(data);
}

}  // namespace

void ConfigureRouter(zmq::socket_t& s, const RouterOptions& o) {
  SetInt(s, ZMQ_ROUTER_MANDATORY, 1);
  SetInt(s, ZMQ_LINGER, o.linger_ms);
  SetInt(s, ZMQ_SNDHWM, 100'000);
  SetInt(s, ZMQ_RCVHWM, 100'000);
  const std::int64_t max_size = static_cast<std::int64_t>(o.max_frame_bytes) + 4096;
  zmq_setsockopt(s.handle(), ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
  SetInt(s, ZMQ_HEARTBEAT_IVL, o.heartbeat_ms);
  SetInt(s, ZMQ_HEARTBEAT_TIMEOUT, o.heartbeat_ms * 3);
  SetInt(s, ZMQ_HEARTBEAT_TTL, o.heartbeat_ms * 3);
  SetInt(s, ZMQ_TCP_KEEPALIVE, 1);
}

void ConfigureDealer(zmq::socket_t& s, const DealerOptions& o) {
  if (!o.identity.empty()) {
    zmq_setsockopt(s.handle(), ZMQ_ROUTING_ID, o.identity.data(), o.identity.size());
  }
  SetInt(s, ZMQ_IMMEDIATE, 1);
  SetInt(s, ZMQ_LINGER, o.linger_ms);
  SetInt(s, ZMQ_RECONNECT_IVL, o.reconnect_ms);
  SetInt(s, ZMQ_RECONNECT_IVL_MAX, o.reconnect_max_ms);
  SetInt(s, ZMQ_SNDHWM, 100'000);
  SetInt(s, ZMQ_RCVHWM, 100'000);
  SetInt(s, ZMQ_HEARTBEAT_IVL, o.heartbeat_ms);
  SetInt(s, ZMQ_HEARTBEAT_TIMEOUT, o.heartbeat_ms * 3);
  SetInt(s, ZMQ_HEARTBEAT_TTL, o.heartbeat_ms * 3);
  SetInt(s, ZMQ_TCP_KEEPALIVE, 1);
}

SendResult Send(zmq::socket_t& socket, const Message& message, std::string_view routing_id) {
  msgpack::sbuffer buffer(256);
  EncodeBody(message, buffer);
  return SendBody(socket, CommandOf(message), std::move(buffer), routing_id);
}

SendResult SendBody(zmq::socket_t& socket, Command command, msgpack::sbuffer&& buffer,
                    std::string_view routing_id) {
  zmq_msg_t body;
  const std::size_t size = buffer.size();
  // ZeroMQ takes the malloc'ed buffer and frees it once sent (FreeSentBody).
  void* data = buffer.release();
#if defined(MANDRILL_TSAN)
  __tsan_release(data);
#endif
  zmq_msg_init_data(&body, data, size, FreeSentBody, nullptr);
  return SendParts(socket, command, &body, routing_id);
}

SendResult SendEncoded(zmq::socket_t& socket, Command command, std::string_view encoded,
                       std::string_view routing_id) {
  zmq_msg_t body;
  zmq_msg_init_size(&body, encoded.size());
  std::memcpy(zmq_msg_data(&body), encoded.data(), encoded.size());
  return SendParts(socket, command, &body, routing_id);
}

bool Receive(zmq::socket_t& socket, Received& out) {
  out.frames.clear();
  out.extra_frames = 0;
  out.source_fd = -1;
  out.user_id.clear();
  while (true) {
    zmq::message_t part;
    const int rc = zmq_msg_recv(part.handle(), socket.handle(), ZMQ_DONTWAIT);
    if (rc < 0) {
      // EAGAIN before the first part: nothing waiting. Parts of one message arrive atomically,
      // so EAGAIN mid-message cannot happen.
      return !out.frames.empty();
    }
    // A ROUTER's routing-id frame may carry no connection metadata; the payload frames do.
    if (out.source_fd < 0) out.source_fd = zmq_msg_get(part.handle(), ZMQ_SRCFD);
    if (out.read_user_id && out.frames.size() == 1) {
      const char* user = zmq_msg_gets(part.handle(), "User-Id");
      if (user != nullptr) out.user_id.assign(user);
    }
    const bool more = part.more();
    if (out.frames.size() < Received::kMaxFrames) {
      out.frames.push_back(std::move(part));
    } else {
      ++out.extra_frames;
    }
    if (!more) return true;
  }
}

core::Result<Message> DecodeReceived(const Received& in, std::size_t skip, const Limits& limits) {
  const std::size_t total = in.frames.size() + in.extra_frames;
  if (total != skip + 3) {
    return core::Error{ErrorCode::kMalformed,
                       "expected 3 frames (version, command, body), got " +
                           std::to_string(total >= skip ? total - skip : 0)};
  }
  if (in.frames.size() != total) {  // Receive kept only the first kMaxFrames parts
    return core::Error{ErrorCode::kMalformed,
                       std::to_string(skip) + " routing ids leave no room for the 3 frames " +
                           "Received keeps (kMaxFrames = " + std::to_string(Received::kMaxFrames) +
                           ")"};
  }
  return Decode(View(in.frames[skip]), View(in.frames[skip + 1]), View(in.frames[skip + 2]),
                limits);
}

std::string PrintableId(std::string_view id) {
  bool printable = !id.empty();
  for (unsigned char c : id) printable = printable && c > ' ' && c < 0x7f;
  if (printable) return std::string(id);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char c : id) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace mandrill::protocol
