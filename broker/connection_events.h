#pragma once
// What one drain of the ROUTER's socket monitor says about closed TCP connections.
//
// The broker ties a worker to the connection it last spoke on by file descriptor (ZMQ_SRCFD).
// A closed connection's fd can be reused by the very next accept, and frames from that new
// connection can be read (and tied to their worker by the same fd) before the broker drains the
// old connection's close event. Such a close must not drop the new connection's worker. The
// monitor's events come from libzmq's one I/O thread in order: a close is reported before its fd
// is released, and an accept before its connection's first frame. So a frame read before this
// drain came from a reused fd only if the drain holds, after the close, an accept of that fd.
#include <vector>

namespace mandrill::broker {

struct ConnectionEvent {
  enum Kind { kAccepted, kClosed } kind;
  int fd;
};

struct ConnectionClose {
  int fd;
  // The same drain accepted `fd` again after this close: the worker now tied to it may be the
  // new connection's, so the close alone does not prove that worker gone.
  bool fd_reused;
  bool operator==(const ConnectionClose&) const = default;
};

// The closes among `events` (one drain, in order), each with whether its fd was accepted again
// later in the same drain.
std::vector<ConnectionClose> ClosesOf(const std::vector<ConnectionEvent>& events);

}  // namespace mandrill::broker
