#pragma once
// mandrill-ctl's commands: build the admin request, call the broker, render the reply.
// Exit codes: 0 success; 1 the broker answered ERROR (or nonsense); 2 no answer within
// --timeout; 64 usage.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace mandrill::publisher {

enum class CtlCommand { kStats, kQueues, kDlqList, kDlqRequeue, kDlqPurge };

struct CtlOptions {
  std::string broker;
  std::chrono::milliseconds timeout{5000};
  CtlCommand command = CtlCommand::kStats;
  bool json = false;
  std::string queue;             // dlq commands
  std::vector<std::string> ids;  // dlq requeue/purge: empty = all
  std::uint32_t limit = 100;     // dlq list
};

// Runs one command. The rendered reply goes to `out`; an error is one line on `err`
// ("mandrill-ctl: <reason>"). Returns the exit code.
int RunCtl(const CtlOptions& options, zmq::context_t& context, std::ostream& out,
           std::ostream& err);

}  // namespace mandrill::publisher
