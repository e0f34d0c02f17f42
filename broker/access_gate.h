#pragma once
// Authorization (issue 12): before the broker acts on a frame from an authenticated connection,
// the gate checks it against the connection's Principal (principal.h) and answers what is not
// allowed with PERMISSION_DENIED, counted, the session going on:
//   PUBLISH     each item whose queue the principal may not publish to is refused alone
//   READY       every queue named must be one it may consume; a READY that would take over a
//               worker instance (and its leases) another key announced is refused
//   STATS, QUEUES, DLQ *   admins only (DLQ commands: on the admin's queues)
//   ACK, EXTEND, NACK, CREDIT, HEARTBEAT, DISCONNECT   pass: leases belong to the session, and
//               a session to the key that announced it
// Without authentication configured there is no principal and the gate is not asked.
// Reactor thread only.
#include <string>

#include "broker/context.h"
#include "broker/principal.h"
#include "broker/session_table.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class AccessGate {
 public:
  AccessGate(Context& ctx, const SessionTable& sessions) : ctx_(ctx), sessions_(sessions) {}

  // True when (what is left of) `m` may be handled; refusals have been answered.
  bool Admit(const std::string& peer, const Principal& who, protocol::Message& m);

 private:
  bool FilterPublish(const std::string& peer, const Principal& who, protocol::Publish& m);
  bool AdmitReady(const std::string& peer, const Principal& who, const protocol::Ready& m);
  bool AdmitAdmin(const std::string& peer, const Principal& who, protocol::Command command,
                  const std::string* queue, std::uint64_t request_id);
  void Deny(const std::string& peer, protocol::Command command, std::string reason,
            std::uint64_t request_id = 0, std::string queue = {});

  Context& ctx_;
  const SessionTable& sessions_;
};

}  // namespace mandrill::broker
