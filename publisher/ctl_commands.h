#pragma once
// mandrill-ctl's commands: build the admin request, call the broker, render the reply.
// Exit codes: 0 success; 1 the broker answered ERROR (or nonsense); 2 no answer within
// --timeout; 64 usage.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "publisher/admin_client.h"
#include "shared/cells/broker_targets.h"
#include "shared/core/result.h"
#include "shared/protocol/messages.h"
#include "shared/security/curve_keys.h"

namespace mandrill::publisher {

enum class CtlCommand { kStats, kQueues, kDlqList, kDlqRequeue, kDlqPurge };

struct CtlOptions {
  // --broker (one target named "broker") or --cells (every cell of the map), with their keys.
  cells::BrokerTargets targets;
  std::chrono::milliseconds timeout{5000};
  CtlCommand command = CtlCommand::kStats;
  bool json = false;
  std::string queue;             // dlq commands
  std::vector<std::string> ids;  // dlq requeue/purge: empty = all
  std::uint32_t limit = 100;     // dlq list
};

// The CURVE keys for talking to `target` (none: plaintext).
std::optional<security::ClientKeys> CurveFor(const cells::BrokerTargets& targets,
                                             const cells::BrokerTarget& target);

// Runs one command. The rendered reply goes to `out`; an error is one line on `err`
// ("mandrill-ctl: <reason>"). Returns the exit code. With a cell map, every cell is asked
// (fleet_commands.h).
int RunCtl(const CtlOptions& options, zmq::context_t& context, std::ostream& out,
           std::ostream& err);

// The reply to `options.command` from one broker; for STATS and QUEUES every page, asked for
// until the broker says there is no more, folded into one reply: always the reply kind the
// command expects. Errors as AdminClient::Call's; a reply of another kind, or pages that do
// not advance, is CtlErrc::kBrokerError.
core::Result<protocol::Message> CallCommand(AdminClient& client, const CtlOptions& options);

// STATS with every page of queues folded into one reply (what `stats` and `top` show). Errors
// as AdminClient::Call's; a reply of another kind, or pages that do not advance, is
// CtlErrc::kBrokerError.
core::Result<protocol::StatsReply> FetchStats(AdminClient& client);

// mandrill-ctl keygen: writes DIR/NAME.key and DIR/NAME.pub, prints both paths and the public
// key. Returns 0, or 1 with one line on `err`.
int RunKeygen(const std::string& name, const std::string& dir, std::ostream& out,
              std::ostream& err);

}  // namespace mandrill::publisher
