// mandrill-broker: parse flags, open storage, run the reactor.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <functional>
#include <iostream>
#include <memory>

#include "broker/journal/fault_fs.h"
#include "broker/journal/journal.h"
#include "broker/memory_storage.h"
#include "broker/options.h"
#include "broker/reactor.h"
#include "shared/core/duration.h"
#include "shared/core/logging.h"
#include "shared/core/signal_fd.h"
#include "shared/core/thread_name.h"

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitStartFailed = 1;

int Fail(int code, const std::string& message) {
  std::cerr << "mandrill-broker: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mandrill;
  broker::BrokerOptions o;
  std::int64_t lease_ms = o.lease.count();
  std::int64_t max_lease_ms = o.max_lease.count();
  std::int64_t heartbeat_ms = o.heartbeat.count();
  std::string dedup_window = "10m";
  std::uint64_t segment_bytes = 64ull << 20;
  double compaction_threshold = 0.5;
  bool fault_injection = false;
  std::string log_level = "info";
  std::string log_file;

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
  app.add_option("--max-payload-bytes", o.limits.max_payload_bytes, "largest payload accepted")
      ->check(CLI::Range(1, 32 << 20))
      ->capture_default_str();
  app.add_flag("--fault-injection", fault_injection,
               "TESTS ONLY: SIGUSR1 toggles failing journal writes (ENOSPC), SIGUSR2 toggles "
               "failing syncs (EIO)")
      ->group("Testing");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--log-file", log_file, "log to this file instead of stderr (SIGHUP reopens)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return Fail(kExitUsage, std::string(e.what()) + " (see --help)");
  }
  const auto window = core::ParseDuration(dedup_window);
  if (!window.ok()) return Fail(kExitUsage, "--dedup-window: " + window.error().message);
  if (max_lease_ms < lease_ms) {
    return Fail(kExitUsage, "--max-lease-ms must be at least --lease-ms");
  }
  o.dedup_window = *window;
  o.lease = std::chrono::milliseconds(lease_ms);
  o.max_lease = std::chrono::milliseconds(max_lease_ms);
  o.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  const auto fsync = broker::journal::ParseFsyncPolicy(o.fsync);
  if (!fsync.ok()) return Fail(kExitUsage, "--fsync: " + fsync.error().message);
  if (auto st = core::InitLogging("broker", log_level, log_file); !st.ok()) {
    return Fail(kExitUsage, st.message());
  }

  // Before any thread exists, so every thread inherits the blocked mask.
  core::SignalFd signals({SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2});
  core::SetThreadName("reactor");

  // Declared before the storage that uses it, so it is destroyed after.
  std::unique_ptr<broker::journal::FaultInjectingFs> faults;
  std::unique_ptr<broker::Storage> storage;
  std::function<void(int)> on_user_signal;
  if (o.storage == "memory") {
    storage = std::make_unique<broker::MemoryStorage>();
    spdlog::warn("--storage memory: messages are not persisted; a restart loses them");
  } else {
    broker::journal::JournalOptions jo;
    jo.data_dir = o.data_dir;
    jo.fsync = *fsync;
    jo.segment_bytes = segment_bytes;
    jo.dedup_window = o.dedup_window;
    jo.compaction_threshold = compaction_threshold;
    if (fault_injection) {
      faults = std::make_unique<broker::journal::FaultInjectingFs>();
      jo.fs = faults.get();
      on_user_signal = [f = faults.get(), writes = false, syncs = false,
                        changes = 0](int sig) mutable {
        bool& failing = sig == SIGUSR1 ? writes : syncs;
        failing = !failing;
        f->ClearFaults();
        if (writes) f->FailAllWrites(ENOSPC);
        if (syncs) f->FailAllSyncs(EIO);
        spdlog::warn("fault injection #{}: journal writes {}, syncs {}", ++changes,
                     writes ? "FAIL" : "ok", syncs ? "FAIL" : "ok");
      };
      spdlog::warn("fault injection enabled (--fault-injection): for tests only");
    }
    storage = broker::journal::OpenJournal(jo);
  }

  zmq::context_t context(1);
  int rc = 0;
  {
    broker::Reactor reactor(o, *storage, context, &signals, on_user_signal);
    if (auto st = reactor.Start(); !st.ok()) {
      spdlog::critical("{}", st.message());
      return Fail(kExitStartFailed, st.message());
    }
    rc = reactor.Run();
  }
  return rc;
}
