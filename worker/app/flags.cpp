#include "worker/app/flags.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "shared/core/duration.h"
#include "shared/metrics/metrics_server.h"
#include "shared/protocol/codec.h"

namespace mandrill::worker {
namespace {

constexpr int kExitUsage = 64;

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// Parses a duration flag into `out`; false with `error` set if bad.
bool Duration(const std::string& flag, const std::string& text, std::chrono::milliseconds* out,
              std::string* error) {
  auto d = core::ParseDuration(text);
  if (!d.ok()) {
    *error = flag + ": " + d.error().message;
    return false;
  }
  *out = *d;
  return true;
}

// "MIN:MAX" in milliseconds (or one value for both).
bool Range(const std::string& flag, const std::string& text, std::chrono::milliseconds* lo,
           std::chrono::milliseconds* hi, std::string* error) {
  const auto colon = text.find(':');
  auto a = core::ParseDuration(text.substr(0, colon));
  auto b = core::ParseDuration(colon == std::string::npos ? text : text.substr(colon + 1));
  if (!a.ok() || !b.ok()) {
    *error = flag + " '" + text + "': expected MIN:MAX in milliseconds, e.g. 50:200";
    return false;
  }
  if (*b < *a) {
    *error = flag + " '" + text + "': MAX is below MIN";
    return false;
  }
  *lo = *a;
  *hi = *b;
  return true;
}

}  // namespace

ParsedFlags ParseFlags(int argc, const char* const* argv, const HandlerRegistry& registry) {
  ParsedFlags out;
  WorkerOptions& o = out.options;
  HandlerConfig& h = o.handler_config;
  o.name = HostName() + "-" + std::to_string(getpid());
  std::string queue = "restarts";
  std::string restart = "50:200";
  std::string grace = "30s", handler_timeout = "5m", retry_initial = "500ms", retry_max = "60s";
  std::string kill_grace = "5s", stats_interval = "10s", reconnect_max = "5s";
  std::string drain = "wait";
  std::int64_t heartbeat_ms = o.heartbeat.count();

  CLI::App app{"mandrill-worker: leases messages from a mandrill-broker and runs a handler on "
               "each, keeping its lease alive while it works.\n\nHandlers (--handler):\n" +
               registry.Describe()};
  app.add_option("--broker", o.broker, "broker endpoint")->capture_default_str();
  std::string cells_file;
  app.add_option("--cells", cells_file,
                 "cell map FILE (NAME ENDPOINT [PUBLIC_KEY_FILE] per line) instead of --broker: "
                 "consume from every cell, the --concurrency split by their ready depths");
  std::string key_file, broker_key_file;
  app.add_option("--key", key_file, "this worker's CURVE secret key file (mandrill-ctl keygen)");
  app.add_option("--broker-key", broker_key_file, "the broker's CURVE public key file (NAME.pub)");
  app.add_option("--queue", queue, "queue to consume (comma-separated for several)")
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency,
                 "messages held and handled at once (the credit granted to the broker)")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--name", o.name, "worker name shown in mandrill-ctl stats (default host-pid)");
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval until the broker sets one")
      ->check(CLI::Range(10, 600'000))
      ->capture_default_str();
  app.add_option("--reconnect-max", reconnect_max,
                 "longest pause between reconnection attempts (exponential backoff, jittered)")
      ->capture_default_str();
  app.add_option("--handler", o.handler, "handler to run on each message")->capture_default_str();
  app.add_option("--handler-timeout", handler_timeout,
                 "cancel a handler running longer and nack it with reason 'timeout'")
      ->capture_default_str();
  app.add_option("--retry-initial", retry_initial,
                 "nack delay after a failed first attempt; doubles per attempt")
      ->capture_default_str();
  app.add_option("--retry-max", retry_max, "longest nack delay")->capture_default_str();
  app.add_option("--executor-threads", o.executor_threads,
                 "threads (exec-N) for blocking work: RunInExecutor, ledger commits")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--restart-ms", restart, "mandrill: simulated restart latency MIN:MAX (ms)")
      ->capture_default_str();
  app.add_option("--fail-rate", h.fail_rate, "mandrill: fraction of restarts that fail (nack)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--seed", h.seed, "mandrill: random seed for latency and failures (0: random)");
  app.add_option("--ledger", h.ledger_path,
                 "mandrill: SQLite file recording every processed delivery");
  app.add_option("--exec", h.exec_command,
                 "exec: command run by /bin/sh -c per message (payload on stdin; "
                 "MANDRILL_MESSAGE_ID, MANDRILL_ATTEMPT, MANDRILL_QUEUE set)");
  app.add_option("--exec-kill-grace", kill_grace,
                 "exec: time between SIGTERM and SIGKILL when a command is cancelled")
      ->capture_default_str();
  std::vector<std::string> handler_args;
  app.add_option("--handler-arg", handler_args,
                 "KEY=VALUE for a handler of your own (C++ SDK: HandlerConfig::args); repeatable");
  app.add_option("--grace", grace,
                 "SIGTERM/SIGINT: time for in-flight work to finish before it is nacked")
      ->capture_default_str();
  app.add_option("--drain", drain,
                 "first SIGTERM/SIGINT: 'wait' (finish within --grace) or 'nack' (nack all now)")
      ->check(CLI::IsMember({"wait", "nack"}))
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--log-file", o.log_file, "log to this file instead of stderr (SIGHUP reopens)");
  app.add_option("--stats-interval", stats_interval,
                 "log the worker's totals this often at debug level (0: never)")
      ->capture_default_str();
  app.add_option("--metrics-bind", o.metrics_bind,
                 "serve Prometheus /metrics, /healthz and /readyz over HTTP on HOST:PORT "
                 "(e.g. 127.0.0.1:9465; port 0 picks one); off by default");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      out.exit_code = app.exit(e, std::cout, std::cerr);
      return out;
    }
    out.exit_code = kExitUsage;
    out.error = std::string(e.what()) + " (see --help)";
    return out;
  }

  std::string& error = out.error;
  const bool ok = Range("--restart-ms", restart, &h.restart_min, &h.restart_max, &error) &&
                  Duration("--grace", grace, &o.grace, &error) &&
                  Duration("--handler-timeout", handler_timeout, &o.handler_timeout, &error) &&
                  Duration("--retry-initial", retry_initial, &o.retry_initial, &error) &&
                  Duration("--retry-max", retry_max, &o.retry_max, &error) &&
                  Duration("--exec-kill-grace", kill_grace, &h.kill_grace, &error) &&
                  Duration("--stats-interval", stats_interval, &o.stats_interval, &error) &&
                  Duration("--reconnect-max", reconnect_max, &o.reconnect_max, &error);
  if (!ok) {
    out.exit_code = kExitUsage;
    return out;
  }
  for (const auto& arg : handler_args) {
    const auto eq = arg.find('=');
    if (eq == 0 || eq == std::string::npos) {
      out.exit_code = kExitUsage;
      error = "--handler-arg '" + arg + "': expected KEY=VALUE";
      return out;
    }
    if (!h.args.emplace(arg.substr(0, eq), arg.substr(eq + 1)).second) {
      out.exit_code = kExitUsage;
      error = "--handler-arg: " + arg.substr(0, eq) + " given twice";
      return out;
    }
  }
  if (o.handler_timeout.count() <= 0) {
    out.exit_code = kExitUsage;
    error = "--handler-timeout must be above zero";
    return out;
  }
  o.queues.clear();
  for (std::size_t start = 0; start <= queue.size();) {
    const auto comma = std::min(queue.find(',', start), queue.size());
    if (comma > start) o.queues.push_back(queue.substr(start, comma - start));
    start = comma + 1;
  }
  if (o.queues.empty()) {
    out.exit_code = kExitUsage;
    error = "--queue: no queue named";
    return out;
  }
  // Checked here as the broker checks them, so a bad value is one line and exit 64 instead of
  // an uncaught zmq::error_t from connect, or a READY the broker refuses every 500 ms forever.
  for (const auto& q : o.queues) {
    if (auto why = protocol::CheckQueueName(q); !why.empty()) {
      out.exit_code = kExitUsage;
      error = "--queue: " + why;
      return out;
    }
  }
  if (!cells_file.empty()) {
    auto targets = cells::ResolveBrokerTargets(app.count("--broker") > 0 ? o.broker : "",
                                               cells_file, key_file, broker_key_file);
    if (!targets.ok()) {
      out.exit_code = kExitUsage;
      error = targets.error().message;
      return out;
    }
    o.cells = targets->brokers;
    if (targets->own_key) {
      // Every cell's key is in `cells`; `curve` carries this worker's own pair.
      o.curve = security::ClientKeys{*targets->own_key, {}};
    }
  }
  if (auto why = protocol::CheckEndpoint(o.broker); !why.empty()) {
    out.exit_code = kExitUsage;
    error = "--broker " + why;
    return out;
  }
  if (o.cells.empty()) {  // with --cells, resolved above, keys included
    auto keys = security::LoadClientKeys(key_file, broker_key_file);
    if (!keys.ok()) {
      out.exit_code = kExitUsage;
      error = keys.error().message;
      return out;
    }
    o.curve = *keys;
  }
  if (!o.metrics_bind.empty()) {
    if (auto hp = metrics::ParseHostPort(o.metrics_bind); !hp.ok()) {
      out.exit_code = kExitUsage;
      error = hp.error().message;
      return out;
    }
  }
  o.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  o.drain = drain == "nack" ? DrainMode::kNack : DrainMode::kWait;
  h.worker_name = o.name;
  return out;
}

}  // namespace mandrill::worker
