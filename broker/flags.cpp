#include "broker/flags.h"

#include "shared/metrics/metrics_server.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "shared/core/byte_size.h"
#include "shared/core/duration.h"
#include "shared/protocol/codec.h"

namespace mandrill::broker {
namespace {

constexpr int kExitUsage = 64;

ParsedConfig Fail(const std::string& message) {
  std::cerr << "mandrill-broker: " << message << std::endl;
  return ParsedConfig{std::nullopt, kExitUsage};
}

std::size_t CgroupLimit() {
  std::ifstream f("/sys/fs/cgroup/memory.max");
  std::string v;
  if (!(f >> v) || v == "max") return 0;
  auto n = core::ParseByteSize(v);
  return n.ok() ? static_cast<std::size_t>(*n) : 0;
}

}  // namespace

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  std::string host = endpoint.substr(6);
  // An interface (tcp://eth0;...), a source address or a port follow the host.
  host = host.substr(0, host.rfind(':'));
  if (host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]" || host == "::1") {
    return true;
  }
  return false;
}

std::size_t DefaultMaxMemory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  std::size_t total = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page : 0;
  if (const std::size_t cg = CgroupLimit(); cg > 0 && (total == 0 || cg < total)) total = cg;
  return total == 0 ? std::size_t{1} << 30 : total / 2;
}

ParsedConfig ParseBrokerFlags(int argc, char** argv) {
  BrokerConfig c;
  BrokerOptions& o = c.broker;
  std::int64_t lease_ms = o.lease.count();
  std::int64_t max_lease_ms = o.max_lease.count();
  std::int64_t heartbeat_ms = o.heartbeat.count();
  std::string dedup_window = "10m";
  std::string queue_idle = "5m";
  std::string max_memory = "auto";
  std::uint64_t segment_bytes = 64ull << 20;
  double compaction_threshold = 0.5;

  CLI::App app{"mandrill-broker: durable queues with leases for the Mandrill worker fleet"};
  app.add_option("--bind", o.bind, "ZeroMQ endpoint to bind (loopback unless told otherwise)")
      ->capture_default_str();
  app.add_option("--data-dir", o.data_dir, "directory for the journal")->capture_default_str();
  app.add_option("--storage", o.storage, "journal (durable) or memory (nothing survives a restart)")
      ->check(CLI::IsMember({"journal", "memory"}))
      ->capture_default_str();
  app.add_option("--fsync", o.fsync,
                 "always (confirm after fdatasync, group commit) | interval:MS (confirm after "
                 "write, sync every MS: a power loss can lose MS of confirms) | never (benchmarks "
                 "only: unsafe)")
      ->capture_default_str();
  app.add_option("--segment-bytes", segment_bytes, "journal segment size before rolling")
      ->check(CLI::Range(std::uint64_t{1} << 16, std::uint64_t{1} << 34))
      ->capture_default_str();
  app.add_option("--compaction-threshold", compaction_threshold,
                 "compact the oldest journal segment when its live fraction falls below this "
                 "(0 disables)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--lease-ms", lease_ms, "default lease duration in milliseconds")
      ->check(CLI::Range(1, 86'400'000))
      ->capture_default_str();
  app.add_option("--max-lease-ms", max_lease_ms,
                 "EXTEND never pushes a lease past its start + this")
      ->check(CLI::Range(1, 604'800'000))
      ->capture_default_str();
  app.add_option("--max-deliveries", o.max_deliveries,
                 "attempts before a message goes to its queue's dead-letter queue")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--queue-limit", o.queue_limit,
                 "most messages a queue holds (ready + in flight + deferred); more is refused")
      ->check(CLI::Range(1, 1'000'000'000))
      ->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms,
                 "heartbeat interval; a worker silent for 3 intervals is declared dead")
      ->check(CLI::Range(10, 600'000))
      ->capture_default_str();
  app.add_option("--dedup-window", dedup_window,
                 "how long a settled message id is still deduplicated (e.g. 10m)")
      ->capture_default_str();
  app.add_option("--max-payload-bytes", o.limits.max_payload_bytes,
                 "largest payload accepted, headers included")
      ->check(CLI::Range(1, 32 << 20))
      ->capture_default_str();
  app.add_option("--max-queues", o.max_queues,
                 "most queues the broker holds; a PUBLISH or READY naming one more is refused")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--queue-idle-timeout", queue_idle,
                 "an empty queue nobody consumes or publishes to is removed after this")
      ->capture_default_str();
  app.add_option("--max-dead-letters", o.max_dead_letters,
                 "dead letters kept per queue; past it the oldest is purged (counted)")
      ->check(CLI::Range(1, 100'000'000))
      ->capture_default_str();
  app.add_option("--max-dedup-ids", o.max_dedup_ids,
                 "settled ids remembered for deduplication; past it the oldest are forgotten "
                 "before their window ends (counted)")
      ->check(CLI::Range(0, 1'000'000'000))
      ->capture_default_str();
  app.add_option("--max-peers", o.max_peers,
                 "workers, publishers and admin clients served at once; more are refused")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--max-memory", max_memory,
                 "bytes of messages and ids the broker holds before it refuses publishes "
                 "('broker full'); auto: half the machine's (or cgroup's) memory")
      ->capture_default_str();
  app.add_option("--curve-key", o.curve_key_file,
                 "the broker's CURVE secret key file (mandrill-ctl keygen); with --auth-file: "
                 "encrypt and authenticate every connection")
      ->group("Security");
  app.add_option("--auth-file", o.auth_file,
                 "client keys and rights, one 'ROLE NAME PUBLIC_KEY [QUEUE_PATTERN ...]' per "
                 "line (re-read on SIGHUP)")
      ->group("Security");
  app.add_flag("--insecure", o.insecure,
               "allow binding a non-loopback address without --curve-key/--auth-file")
      ->group("Security");
  app.add_option("--metrics-bind", o.metrics_bind,
                 "serve Prometheus /metrics, /healthz and /readyz over HTTP on HOST:PORT "
                 "(e.g. 127.0.0.1:9464; port 0 picks one); off by default")
      ->group("Observability");
  app.add_option("--metrics-max-queues", o.metrics_max_queues,
                 "queues labelled in /metrics (the first ones by name); bounds a scrape")
      ->check(CLI::Range(0, 10'000'000))
      ->capture_default_str()
      ->group("Observability");
#ifdef MANDRILL_TEST_HOOKS
  app.add_flag("--fault-injection", c.fault_injection,
               "TESTS ONLY: SIGUSR1 toggles failing journal writes (ENOSPC), SIGUSR2 toggles "
               "failing syncs (EIO)")
      ->group("Testing");
#endif
  app.add_option("--log-level", c.log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--log-file", c.log_file, "log to this file instead of stderr (SIGHUP reopens)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return ParsedConfig{std::nullopt, app.exit(e)};
    return Fail(std::string(e.what()) + " (see --help)");
  }
  if (auto why = protocol::CheckEndpoint(o.bind); !why.empty()) return Fail("--bind " + why);
  if (o.curve_key_file.empty() != o.auth_file.empty()) {
    return Fail("--curve-key and --auth-file go together (CURVE needs both)");
  }
  if (o.curve_key_file.empty() && !o.insecure && !IsLoopbackEndpoint(o.bind)) {
    return Fail("refusing to bind " + o.bind +
                " without --curve-key/--auth-file: anyone who can reach it would own the fleet "
                "(docs/security.md); add --insecure to do it anyway");
  }
  if (!o.metrics_bind.empty()) {
    if (auto hp = metrics::ParseHostPort(o.metrics_bind); !hp.ok()) return Fail(hp.error().message);
  }
  const auto window = core::ParseDuration(dedup_window);
  if (!window.ok()) return Fail("--dedup-window: " + window.error().message);
  const auto idle = core::ParseDuration(queue_idle);
  if (!idle.ok()) return Fail("--queue-idle-timeout: " + idle.error().message);
  if (max_lease_ms < lease_ms) return Fail("--max-lease-ms must be at least --lease-ms");
  if (max_memory == "auto") {
    o.max_memory = DefaultMaxMemory();
  } else {
    const auto bytes = core::ParseByteSize(max_memory);
    if (!bytes.ok()) return Fail("--max-memory: " + bytes.error().message);
    o.max_memory = static_cast<std::size_t>(*bytes);
  }
  const auto fsync = journal::ParseFsyncPolicy(o.fsync);
  if (!fsync.ok()) return Fail("--fsync: " + fsync.error().message);
  o.dedup_window = *window;
  o.queue_idle = *idle;
  o.lease = std::chrono::milliseconds(lease_ms);
  o.max_lease = std::chrono::milliseconds(max_lease_ms);
  o.heartbeat = std::chrono::milliseconds(heartbeat_ms);

  c.journal.data_dir = o.data_dir;
  c.journal.fsync = *fsync;
  c.journal.segment_bytes = segment_bytes;
  c.journal.dedup_window = o.dedup_window;
  c.journal.compaction_threshold = compaction_threshold;
  return ParsedConfig{std::move(c), 0};
}

}  // namespace mandrill::broker
