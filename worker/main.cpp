// mandrill-worker (basic): a network thread that owns the socket and a processing thread that
// simulates host restarts and records them in the ledger.
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <random>
#include <thread>

#include "shared/core/duration.h"
#include "shared/core/logging.h"
#include "shared/core/signal_fd.h"
#include "shared/core/thread_name.h"
#include "worker/basic_processor.h"
#include "worker/ledger.h"
#include "worker/net_thread.h"
#include "worker/settlements.h"

namespace {

constexpr int kExitUsage = 64;

int Fail(int code, const std::string& message) {
  std::cerr << "mandrill-worker: " << message << "\n";
  return code;
}

// "MIN:MAX" in milliseconds (or a single value for both).
bool ParseRange(const std::string& text, std::chrono::milliseconds* lo,
                std::chrono::milliseconds* hi, std::string* error) {
  const auto colon = text.find(':');
  auto a = mandrill::core::ParseDuration(text.substr(0, colon));
  auto b = mandrill::core::ParseDuration(colon == std::string::npos ? text : text.substr(colon + 1));
  if (!a.ok() || !b.ok()) {
    *error = "--restart-ms '" + text + "': expected MIN:MAX in milliseconds, e.g. 50:200";
    return false;
  }
  if (*b < *a) {
    *error = "--restart-ms '" + text + "': MAX is below MIN";
    return false;
  }
  *lo = *a;
  *hi = *b;
  return true;
}

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mandrill;
  worker::NetOptions net;
  worker::ProcessorOptions proc;
  std::string queue = "restarts";
  std::string ledger_path;
  std::string restart = "50:200";
  std::string grace = "30s";
  std::int64_t heartbeat_ms = 1000;
  std::uint32_t concurrency = 16;
  std::string log_level = "info";
  std::string log_file;
  net.name = HostName() + "-" + std::to_string(getpid());

  CLI::App app{"mandrill-worker: leases restart requests from a mandrill-broker and runs them"};
  app.add_option("--broker", net.broker, "broker endpoint")->capture_default_str();
  app.add_option("--queue", queue, "queue to consume (comma-separated for several)")
      ->capture_default_str();
  app.add_option("--concurrency", concurrency, "messages held at once (the credit)")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--ledger", ledger_path, "SQLite file recording every processed message");
  app.add_option("--restart-ms", restart, "simulated restart latency MIN:MAX in milliseconds")
      ->capture_default_str();
  app.add_option("--fail-rate", proc.fail_rate, "fraction of restarts that fail (then nack)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--seed", proc.seed, "random seed for latency and failures");
  app.add_option("--name", net.name, "worker name shown in mandrill-ctl stats");
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval until the broker sets one")
      ->check(CLI::Range(10, 600'000))
      ->capture_default_str();
  app.add_option("--grace", grace, "SIGTERM: time to finish in-flight work before nacking it")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--log-file", log_file, "log to this file instead of stderr (SIGHUP reopens)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return Fail(kExitUsage, std::string(e.what()) + " (see --help)");
  }
  std::string error;
  if (!ParseRange(restart, &proc.restart_min, &proc.restart_max, &error)) {
    return Fail(kExitUsage, error);
  }
  const auto grace_ms = core::ParseDuration(grace);
  if (!grace_ms.ok()) return Fail(kExitUsage, "--grace: " + grace_ms.error().message);
  if (auto st = core::InitLogging("worker", log_level, log_file); !st.ok()) {
    return Fail(kExitUsage, st.message());
  }
  for (std::size_t start = 0; start <= queue.size();) {
    const auto comma = std::min(queue.find(',', start), queue.size());
    if (comma > start) net.queues.push_back(queue.substr(start, comma - start));
    start = comma + 1;
  }
  if (net.queues.empty()) return Fail(kExitUsage, "--queue: no queue named");
  net.credit = concurrency;
  net.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  if (proc.seed == 0) proc.seed = std::random_device{}();

  std::unique_ptr<worker::Ledger> ledger;
  if (!ledger_path.empty()) {
    auto opened = worker::Ledger::Open(ledger_path, net.name);
    if (!opened.ok()) return Fail(1, opened.error().message);
    ledger = std::move(opened).value();
  }

  core::SignalFd signals({SIGTERM, SIGINT, SIGQUIT, SIGHUP});
  core::SetThreadName("main");
  zmq::context_t context(1);
  worker::Settlements settlements;
  worker::BasicProcessor processor(proc, settlements, ledger.get());
  worker::NetThread network(net, context, settlements, processor);
  network.Start();
  std::atomic<bool> processing_done{false};
  std::thread processing([&] {
    processor.Run();
    processing_done = true;
  });
  spdlog::info("worker {} consuming {} from {} with concurrency {}", net.name, queue, net.broker,
               concurrency);

  int signals_seen = 0;
  while (!processing_done) {
    pollfd p{signals.fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
    for (int sig : signals.Read()) {
      if (sig == SIGHUP) {
        core::ReopenLogs();
        continue;
      }
      ++signals_seen;
      const bool force = sig == SIGQUIT || signals_seen > 1;
      spdlog::info("{}: {}", strsignal(sig),
                   force ? "nacking everything held now" : "draining (grace " + grace + ")");
      processor.Drain(force ? std::chrono::milliseconds(0) : *grace_ms);
    }
  }
  processing.join();
  settlements.RequestClose();
  network.Join();
  const auto t = processor.totals();
  spdlog::info("worker {} stopped: acked {}, nacked {}, leases lost {}, ledger errors {}",
               net.name, t.acked, t.nacked, t.lost, t.ledger_errors);
  return 0;
}
