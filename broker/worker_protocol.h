#pragma once
// The worker side of the protocol, as session state (session.h): READY opens (or, from the same
// worker process on a new connection, resumes) a session and is answered WELCOME; CREDIT moves
// it between working and draining; DISCONNECT, a closed connection, missed heartbeats or an
// unreachable peer end it, and its leases return at once. Lease commands go to Leasing.
// Reactor thread only.
#include <string>
#include <vector>

#include "broker/context.h"
#include "broker/dispatcher.h"
#include "broker/leasing.h"
#include "broker/peer_table.h"
#include "broker/session_table.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class WorkerProtocol {
 public:
  WorkerProtocol(Context& ctx, SessionTable& sessions, Leasing& leasing, Dispatcher& dispatcher,
                 PeerTable& peers, const std::string& broker_id)
      : ctx_(ctx),
        sessions_(sessions),
        leasing_(leasing),
        dispatcher_(dispatcher),
        peers_(peers),
        broker_id_(broker_id) {}

  // Any frame from `peer` over connection `fd`: the session it belongs to (heard now), or
  // nullptr if `peer` has no session.
  Session* Heard(const std::string& peer, int fd);
  void Ready(const std::string& peer, int fd, Session* s, protocol::Ready&& ready);
  void Credit(Session* s, const protocol::Credit& credit);
  void Disconnect(Session* s);
  // A worker command from a peer without a session: NOT_READY makes a worker that the broker
  // forgot (restart, timeout) announce itself again.
  void NotReady(const std::string& peer, protocol::Command command,
                std::vector<std::uint64_t> leases);

  // The socket monitor saw connection `fd` close. With `fd_reused` (connection_events.h), a
  // session whose last frame was read since the previous monitor drain may be on the
  // connection that reused `fd`: it is kept, untied, until it speaks again or misses its
  // heartbeats.
  void ConnectionClosed(int fd, bool fd_reused);
  // Timers: ends sessions silent for `liveness` heartbeats; heartbeats quiet ones.
  void CheckLiveness(core::SteadyTime now);
  // A frame went to / could not reach `peer`.
  void Sent(const std::string& peer);
  void Unreachable(const std::string& peer);

  // Ends `s`: its leases return now, its subscriptions go, the session is forgotten.
  void End(Session* s, const char* why);

 private:
  Context& ctx_;
  SessionTable& sessions_;
  Leasing& leasing_;
  Dispatcher& dispatcher_;
  PeerTable& peers_;
  const std::string& broker_id_;
  core::SteadyTime next_depth_report_{};  // CheckLiveness heartbeats every session then
};

}  // namespace mandrill::broker
