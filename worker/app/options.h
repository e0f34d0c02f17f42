#pragma once
// Every mandrill-worker tunable with its default, in one place (flags.cpp maps the command line
// onto it; docs/handlers.md lists the flags).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/cells/broker_targets.h"
#include "shared/security/curve_keys.h"
#include "worker/handlers/registry.h"

namespace mandrill::worker {

enum class DrainMode {
  kWait,  // first SIGTERM/SIGINT: finish in-flight work within --grace, then nack the rest
  kNack,  // first SIGTERM/SIGINT: nack everything held at once
};

struct WorkerOptions {
  // Broker connection.
  std::string broker = "tcp://127.0.0.1:5555";
  std::vector<std::string> queues = {"restarts"};
  std::string name;                 // shown in `mandrill-ctl stats`; default host-pid
  std::uint32_t concurrency = 16;   // the credit: messages held (and handled) at once
  std::chrono::milliseconds heartbeat{1000};  // until the broker's WELCOME sets it
  std::chrono::milliseconds reconnect_max{5000};
  // --key/--broker-key; none: plaintext.
  std::optional<security::ClientKeys> curve;
  // --cells FILE: every cell of the map (with its key), instead of `broker`/`curve`; empty:
  // the one broker above.
  std::vector<cells::BrokerTarget> cells;

  // Handlers.
  std::string handler = "mandrill";
  HandlerConfig handler_config;
  std::chrono::milliseconds handler_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds retry_initial{500};  // NACK delay after a failed first attempt
  std::chrono::milliseconds retry_max{60'000};   // ... doubling per attempt up to this
  std::size_t executor_threads = 4;              // exec-N: RunInExecutor, ledger commits

  // Shutdown.
  std::chrono::milliseconds grace{30'000};
  DrainMode drain = DrainMode::kWait;

  // Logging.
  std::string log_level = "info";
  std::string log_file;  // empty: stderr
  std::chrono::milliseconds stats_interval{10'000};  // totals at debug level; 0: off

  // Observability: HOST:PORT of /metrics, /healthz, /readyz; empty: off.
  std::string metrics_bind;
};

}  // namespace mandrill::worker
