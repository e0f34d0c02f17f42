#pragma once
// ZeroMQ framing for Mandrill messages and the socket options every role uses (the reasons are
// in docs/protocol.md, "Socket options"). Sockets are not thread-safe: call these only from the
// thread that owns the socket.
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>
#include <zmq.hpp>

#include "shared/core/result.h"
#include "shared/protocol/limits.h"
#include "shared/protocol/messages.h"

namespace mandrill::protocol {

struct RouterOptions {
  int heartbeat_ms = 1000;
  std::size_t max_frame_bytes = 64u << 20;
  int linger_ms = 1000;
};
// The broker's ROUTER: ROUTER_MANDATORY (no silent drops to unknown/full peers), bounded linger,
// large HWMs (credit, not the HWM, is the flow control), MAXMSGSIZE, ZMTP heartbeats to cut dead
// TCP connections. No ROUTER_HANDOVER: libzmq 4.3.4 aborts when a connection whose routing id
// was handed over sends and then closes (issue 10), so a peer that claims a routing id already
// in use is ignored instead; our clients let the ROUTER assign ids and name their process in
// READY (Ready::instance).
void ConfigureRouter(zmq::socket_t& socket, const RouterOptions& options);

struct DealerOptions {
  std::string identity;  // empty (our clients): let the ROUTER assign one
  int heartbeat_ms = 1000;
  int linger_ms = 2000;
  int reconnect_ms = 100;
  int reconnect_max_ms = 5000;
};
// A client DEALER: IMMEDIATE (never queue to a peer that is not connected), reconnect with
// exponential backoff capped at reconnect_max_ms, bounded linger, ZMTP heartbeats.
void ConfigureDealer(zmq::socket_t& socket, const DealerOptions& options);

enum class SendResult {
  kSent,
  kWouldBlock,   // HWM reached or (DEALER with IMMEDIATE) no connection yet: nothing was sent
  kUnreachable,  // ROUTER_MANDATORY: no such peer (it disconnected): nothing was sent
  kFailed,       // context terminated or another error: logged by the caller
};

// Sends [routing_id?][version][command][body] without blocking. All-or-nothing: the first frame
// either fails (nothing queued) or the whole message is queued.
SendResult Send(zmq::socket_t& socket, const Message& message,
                std::string_view routing_id = {});
// Same, handing an encoded body to ZeroMQ without copying it.
SendResult SendBody(zmq::socket_t& socket, Command command, msgpack::sbuffer&& body,
                    std::string_view routing_id = {});
// Same, with a body already encoded (for broadcasts and retries).
SendResult SendEncoded(zmq::socket_t& socket, Command command, std::string_view body,
                       std::string_view routing_id = {});

// One received multipart message. `frames` holds at most kMaxFrames parts; `extra_frames` counts
// any beyond (their contents are discarded), so a flood of parts cannot exhaust memory.
struct Received {
  static constexpr std::size_t kMaxFrames = 5;
  std::vector<zmq::message_t> frames;
  std::size_t extra_frames = 0;
  int source_fd = -1;  // ZMQ_SRCFD (first frame that has one): ties it to a TCP connection
  // Set by the owner: read the connection's ZAP User-Id (a CURVE socket's authenticated name)
  // into user_id; empty when the connection has none.
  bool read_user_id = false;
  std::string user_id;
};
// Receives one whole multipart message without blocking; false if none is waiting.
bool Receive(zmq::socket_t& socket, Received& out);

// Decodes a received message whose first `skip` frames are routing ids (1 for a ROUTER).
core::Result<Message> DecodeReceived(const Received& in, std::size_t skip, const Limits& limits);

inline std::string_view View(const zmq::message_t& m) {
  return std::string_view(static_cast<const char*>(m.data()), m.size());
}

// Hex rendering of a binary routing id, for logs and stats.
std::string PrintableId(std::string_view id);

}  // namespace mandrill::protocol
