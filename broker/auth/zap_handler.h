#pragma once
// ZeroMQ's authentication protocol (ZAP, RFC 27) for the broker's CURVE ROUTER: libzmq asks
// inproc://zeromq.zap.01 about every handshake and this thread answers from the AuthStore. A key
// not in the auth file is refused at the handshake (no frame of it ever reaches the reactor);
// an admitted connection carries the key's NAME as its User-Id, which the reactor reads from
// each frame to find the principal.
//
// Threads: its own thread owns the REP socket; Start/Stop from the thread that owns it (main).
#include <thread>

#include <zmq.hpp>

#include "broker/auth/auth_store.h"

namespace mandrill::broker::auth {

class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, AuthStore& store);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Binds the ZAP endpoint (before any CURVE socket binds) and starts the thread.
  core::Status Start();
  void Stop();

 private:
  void Run();
  void Answer(zmq::socket_t& rep);

  AuthStore& store_;
  zmq::socket_t rep_;
  zmq::socket_t stop_in_, stop_out_;
  std::thread thread_;
};

}  // namespace mandrill::broker::auth
