#pragma once
// Every tunable of mandrill-publish with its default, and the command line that fills them.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "shared/cells/broker_targets.h"
#include "shared/protocol/messages.h"

namespace mandrill::publisher {

// Exit codes (documented in --help and docs/operations.md).
inline constexpr int kExitAllConfirmed = 0;
inline constexpr int kExitRefused = 1;      // some messages were refused permanently
inline constexpr int kExitUnconfirmed = 2;  // some were never confirmed (gave up, interrupted)
inline constexpr int kExitUsage = 64;       // bad command line (EX_USAGE)

struct PublishOptions {
  std::string broker;      // --broker: ZeroMQ endpoint of mandrill-broker
  std::string cells_file;  // --cells: the cell map instead
  // Where to publish, resolved from --broker/--cells and the key flags (with CURVE keys).
  cells::BrokerTargets targets;
  // A cell unreachable this long is skipped: its messages go to their next cell.
  std::chrono::milliseconds cell_failover{2000};
  std::string queue;
  std::optional<std::string> id;       // explicit id for a single message
  std::string id_prefix;               // generated ids "<prefix>-<seq>"; random when not given
  std::vector<std::string> payloads;   // from arguments; empty: stdin or --count
  std::optional<std::uint64_t> count;  // generate this many restart requests
  double rate = 0;                     // messages/s; 0 = as fast as the window allows
  std::uint64_t seed = 0;              // host names for --count (random when not given)
  std::size_t payload_bytes = 0;       // pad generated payloads to this size
  protocol::Headers headers;
  std::size_t window = 1000;          // most unconfirmed messages in flight
  std::size_t batch = 1000;           // most items per PUBLISH frame
  std::size_t batch_bytes = 1 << 20;  // frames stop growing past this many payload bytes
  std::chrono::milliseconds confirm_timeout{5000};
  std::chrono::milliseconds give_up{60'000};  // without progress
  std::chrono::milliseconds grace{2000};      // after SIGINT/SIGTERM, for outstanding confirms
  std::chrono::milliseconds progress_interval{1000};
  std::string confirmed_out;  // file of confirmed ids; empty: none
  bool progress = false;
  bool json_summary = false;
  std::string log_level = "warn";
};

struct ParsedCommandLine {
  std::optional<PublishOptions> options;  // set when the program should run
  int exit_code = 0;                      // otherwise: exit with this (help: 0, usage: 64)
};

// Parses mandrill-publish's command line. --help goes to `out`; a usage error is one line on
// `err` ("mandrill-publish: <what was wrong>: <what to do>") and exit code 64.
ParsedCommandLine ParsePublishCommandLine(int argc, const char* const* argv, std::ostream& out,
                                          std::ostream& err);

}  // namespace mandrill::publisher
