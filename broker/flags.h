#pragma once
// mandrill-broker's command line: every flag, its default (options.h, journal/options.h) and
// its check, so main.cpp only runs what this returns. Nothing is logged or opened here: a bad
// command line is one line on stderr and exit code 64, before anything else happens.
#include <optional>
#include <string>

#include "broker/journal/options.h"
#include "broker/options.h"

namespace mandrill::broker {

struct BrokerConfig {
  BrokerOptions broker;
  journal::JournalOptions journal;
  std::string log_level = "info";
  std::string log_file;
  bool fault_injection = false;  // only with MANDRILL_TEST_HOOKS (tests)
};

struct ParsedConfig {
  std::optional<BrokerConfig> config;  // nullopt: exit with `exit_code` (0 after --help)
  int exit_code = 0;
};

// True for endpoints only this host can reach: tcp on 127.0.0.0/8, localhost or ::1, ipc, inproc.
bool IsLoopbackEndpoint(const std::string& endpoint);

// Parses argv; prints --help to stdout and errors to stderr ("mandrill-broker: ...").
ParsedConfig ParseBrokerFlags(int argc, char** argv);

// The default --max-memory: half the machine's memory, or of the cgroup's limit when lower.
std::size_t DefaultMaxMemory();

}  // namespace mandrill::broker
