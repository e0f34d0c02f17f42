#pragma once
// The publish pipeline of mandrill-publish: one thread, one DEALER socket, one poll loop.
//
//   source --admit (window, --rate)--> ConfirmTracker --PUBLISH frames--> broker
//   broker --CONFIRM / ERROR--> ConfirmTracker --first confirms--> ConfirmedLog
//
// Each pass admits what the window and the rate allow, moves timed-out and backed-off
// messages back to the send queue, sends everything sendable in PUBLISH frames of up to
// --batch items (one frame: one send call, no flush per message), then polls the socket,
// the input descriptor and the stop signal until the earliest timer, and handles every frame
// waiting. A send that would block (no connection yet: the DEALER uses ZMQ_IMMEDIATE; or the
// high-water mark) leaves the messages queued and waits for POLLOUT.
//
// The run ends when the source is exhausted and every message is settled, when nothing was
// settled for --give-up while messages were outstanding, or after a stop signal (then the
// grace period, or at once on a second signal). Run() owns the socket for its duration.
#include <zmq.hpp>

#include "publisher/message_source.h"
#include "publisher/publish_options.h"
#include "publisher/publish_summary.h"
#include "publisher/stop_signal.h"
#include "shared/core/clock.h"
#include "shared/core/result.h"

namespace mandrill::publisher {

class Publisher {
 public:
  // All references must outlive the Publisher. `stop` may be null (no signal handling).
  Publisher(const PublishOptions& options, MessageSource& source, zmq::context_t& context,
            StopSignal* stop, const core::Clock& clock);

  // Publishes until the run ends (see above) and reports what happened. An Error (exit code
  // kExitUsage) means the run could not start: bad endpoint, unwritable --confirmed-out.
  core::Result<PublishReport> Run();

 private:
  class Loop;
  const PublishOptions& options_;
  MessageSource& source_;
  zmq::context_t& context_;
  StopSignal* stop_;
  const core::Clock& clock_;
};

}  // namespace mandrill::publisher
