#pragma once
// exec: runs --exec 'COMMAND' (via /bin/sh -c) once per message, with the payload on its stdin
// and MANDRILL_MESSAGE_ID, MANDRILL_ATTEMPT and MANDRILL_QUEUE in its environment. Exit status 0
// acks; anything else nacks with the exit status and the tail of its stderr.
//
// Cancellation (timeout, lost lease, shutdown): the command's whole process group gets SIGTERM,
// then SIGKILL if it is still there after --exec-kill-grace, and is reaped — shielded cleanup, so
// the cancellation cannot cut it short. When the command exits by itself, anything it left
// running in its process group is killed too. No child outlives its message. Waiting is on a
// pidfd watched by the loop, never a blocking waitpid.
#include <chrono>
#include <memory>
#include <string>

#include "shared/core/result.h"
#include "worker/handlers/child_process.h"
#include "worker/handlers/handler.h"
#include "worker/handlers/registry.h"

namespace mandrill::worker {

class ExecHandler final : public Handler {
 public:
  static core::Result<std::unique_ptr<Handler>> Create(const HandlerConfig& config);
  ExecHandler(std::string command, std::chrono::milliseconds kill_grace)
      : command_(std::move(command)), kill_grace_(kill_grace) {}

  runtime::Task<void> Handle(const Message& msg, Context& ctx) override;

  // Most stderr bytes kept for the NACK reason.
  static constexpr std::size_t kStderrTail = 2048;

 private:
  // Feeds stdin, collects stderr and waits for the exit; returns the wait status.
  static runtime::Task<int> Supervise(ChildProcess* child, std::string payload,
                                      std::string* tail);
  // SIGTERM, up to `grace` for the exit, SIGKILL, reap. Run shielded.
  static runtime::Task<void> Terminate(ChildProcess* child, runtime::Duration grace);

  std::string command_;
  std::chrono::milliseconds kill_grace_;
};

}  // namespace mandrill::worker
