#include "worker/app/worker_app.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <time.h>

#include <optional>
#include <thread>

#include <zmq.hpp>

#include "shared/core/logging.h"
#include "shared/core/thread_name.h"
#include "shared/metrics/metrics_server.h"
#include "shared/metrics/snapshot_slot.h"
#include "worker/app/worker_metrics.h"
#include "shared/runtime/runtime.h"
#include "worker/loop/bridge.h"
#include "worker/loop/consumer.h"
#include "worker/loop/settlements_outbox.h"
#include "worker/loop/status_reporter.h"
#include "worker/net/net_thread.h"
#include "worker/net/net_group.h"

namespace mandrill::worker {
namespace {

using namespace std::chrono_literals;

std::int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The loop's running tasks as of its last snapshot, aged to `now` (network thread).
std::vector<protocol::TaskReport> TaskReports(const metrics::SnapshotSlot<WorkerStatus>& slot,
                                              runtime::TimePoint now) {
  std::vector<protocol::TaskReport> out;
  const auto status = slot.Get();
  if (!status) return out;
  out.reserve(status->tasks.size());
  for (const auto& t : status->tasks) {
    out.push_back({t.lease_id, std::chrono::duration_cast<std::chrono::milliseconds>(
                                   t.running + (now - status->taken_at))
                                   .count()});
  }
  return out;
}

}  // namespace

// Everything the loop-side coroutines reach. Owned by Run()'s frame, which outlives the loop.
struct WorkerApp::Parts {
  const WorkerOptions* options = nullptr;
  Handler* handler = nullptr;
  runtime::ThreadPool* executor = nullptr;
  Bridge* bridge = nullptr;
  SettlementsOutbox* outbox = nullptr;
  NetGroup* net = nullptr;
  metrics::SnapshotSlot<WorkerStatus>* status = nullptr;
  // Results, written on the loop thread before it finishes.
  WorkerTotals totals;
  std::int64_t loop_cpu_ns = 0;
  std::uint64_t extensions = 0;

  static runtime::Task<int> Main(Parts* p);
  static runtime::Task<void> Serve(Parts* p, runtime::ExitStack* stack,
                                   runtime::Supervisor* services, Consumer* consumer,
                                   runtime::SignalSet* signals);
  static runtime::Task<void> StartNet(Parts* p);
  static runtime::Task<void> StopNet(Parts* p);
  static runtime::Task<void> WatchSignals(Parts* p, runtime::SignalSet* signals,
                                          Consumer* consumer);
};

WorkerApp::WorkerApp(WorkerOptions options, std::unique_ptr<Handler> handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

WorkerApp::~WorkerApp() = default;

runtime::Task<void> WorkerApp::Parts::StartNet(Parts* p) {
  p->net->Start();
  co_return;
}

runtime::Task<void> WorkerApp::Parts::StopNet(Parts* p) {
  // Deliveries still queued for the loop are handed over (and nacked) now; later ones are nacked
  // by the network thread. Then the outbox holds the loop's last settlements.
  p->bridge->Close();
  p->outbox->Flush();  // the last acks and nacks, then DISCONNECT
  p->net->RequestClose();
  NetGroup* net = p->net;
  auto join = [net] { net->Join(); };
  co_await runtime::RunInExecutor(*p->executor, std::move(join));
}

runtime::Task<void> WorkerApp::Parts::WatchSignals(Parts* p, runtime::SignalSet* signals,
                                                   Consumer* consumer) {
  int stops = 0;
  while (true) {
    const int sig = co_await signals->Receive();
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reopening the log file");
      core::ReopenLogs();
      continue;
    }
    ++stops;
    const bool now = sig == SIGQUIT || stops > 1 || p->options->drain == DrainMode::kNack;
    if (now) {
      spdlog::info("{}: nacking everything held now", SignalName(sig));
      consumer->Stop(runtime::Duration::zero());
    } else {
      spdlog::info("{}: draining (grace {} ms; a second signal nacks everything at once)",
                   SignalName(sig), p->options->grace.count());
      consumer->Stop(p->options->grace);
    }
  }
}

runtime::Task<void> WorkerApp::Parts::Serve(Parts* p, runtime::ExitStack* stack,
                                            runtime::Supervisor* services, Consumer* consumer,
                                            runtime::SignalSet* signals) {
  HandlerEnv env;
  env.services = services;
  env.executor = p->executor;
  co_await stack->Enter("handler", p->handler->Start(env), p->handler->Stop());
  co_await stack->Enter("net", StartNet(p), StopNet(p));
  services->Spawn("signals", WatchSignals(p, signals, consumer));
  std::string queues;
  for (const auto& q : p->options->queues) queues += (queues.empty() ? "" : ",") + q;
  std::string from = p->options->broker;
  if (!p->options->cells.empty()) {
    from = std::to_string(p->options->cells.size()) + " cells (";
    for (const auto& c : p->options->cells) from += (from.back() == '(' ? "" : ", ") + c.name;
    from += ")";
  }
  spdlog::info("worker {} consuming [{}] from {} with concurrency {}, handler {}",
               p->options->name, queues, from, p->options->concurrency, p->options->handler);
  co_await consumer->Run();
}

runtime::Task<int> WorkerApp::Parts::Main(Parts* p) {
  runtime::SignalSet signals(*runtime::Loop::Current(), {SIGTERM, SIGINT, SIGQUIT, SIGHUP});
  runtime::Supervisor services("services");
  ConsumerOptions co;
  co.handler_timeout = p->options->handler_timeout;
  co.retry_initial = p->options->retry_initial;
  co.retry_max = p->options->retry_max;
  co.stats_interval = p->options->stats_interval;
  Consumer consumer(co, *p->handler, *p->outbox, p->executor);
  StatusReporter reporter(StatusOptions{}, consumer, *p->status);
  reporter.Start();
  p->bridge->Attach(&consumer);
  // Each stop gets the grace plus time for the handler's own clean-up.
  runtime::ExitStack stack("worker", p->options->grace + 30s);
  std::exception_ptr error;
  try {
    co_await stack.Run(Serve(p, &stack, &services, &consumer, &signals));
  } catch (...) {
    error = std::current_exception();  // logged below; the exit code says it
  }
  p->bridge->Detach();  // the network thread has exited: drop what it queued last
  reporter.Publish();  // the final figures, for a scrape during the rest of the shutdown
  services.CancelAll();
  co_await services.Join();
  p->totals = consumer.totals();
  p->extensions = consumer.keeper().extensions_sent();
  p->loop_cpu_ns = ThreadCpuNs();
  if (error) {
    spdlog::critical("worker stopped on an error: {}", runtime::DescribeException(error));
    co_return 1;
  }
  co_return consumer.net_failed() ? 1 : 0;
}

int WorkerApp::Run() {
  // Writes to a pipe whose reader is gone (an exec command that ignores stdin) must fail with
  // EPIPE, not kill the worker.
  ::signal(SIGPIPE, SIG_IGN);
  runtime::ThreadPool executor("exec", options_.executor_threads);
  zmq::context_t context(1);
  runtime::LoopOptions lo;
  lo.name = "loop";
  lo.watchdog_threshold = 5s;
  runtime::Loop loop(lo);
  Bridge bridge(loop, options_.concurrency);
  NetOptions no;
  no.broker = options_.broker;
  no.name = options_.name;
  no.queues = options_.queues;
  no.credit = options_.concurrency;
  no.heartbeat = options_.heartbeat;
  no.reconnect_max = options_.reconnect_max;
  no.curve = options_.curve;
  metrics::SnapshotSlot<WorkerStatus> status;
  no.task_reports = [&status, &loop] { return TaskReports(status, loop.Now()); };
  cells::BrokerTargets targets;
  if (options_.cells.empty()) {
    cells::BrokerTarget one{"broker", options_.broker, {}};
    if (options_.curve) one.public_z85 = options_.curve->broker_public_z85;
    targets.brokers.push_back(std::move(one));
  } else {
    targets.brokers = options_.cells;
  }
  if (options_.curve) targets.own_key = options_.curve->own;
  const core::SystemClock clock;
  NetGroup net(no, targets, context, bridge, clock);
  SettlementsOutbox outbox(loop, net.input());
  std::optional<metrics::MetricsServer> metrics_server;
  if (!options_.metrics_bind.empty()) {
    metrics_server.emplace(
        options_.metrics_bind,
        [&] {
          NetCounters counters;
          net.SumCounters(counters);
          return RenderWorkerMetrics(options_.name, status.Get().get(), loop.Now(), counters);
        },
        [&net]() -> std::string {
          return net.welcomed() ? std::string() : "not welcomed by the broker";
        });
    if (auto st = metrics_server->Start(); !st.ok()) {
      spdlog::critical("worker {} cannot start: {}", options_.name, st.message());
      return 1;
    }
  }
  Parts parts;
  parts.options = &options_;
  parts.handler = handler_.get();
  parts.executor = &executor;
  parts.bridge = &bridge;
  parts.outbox = &outbox;
  parts.net = &net;
  parts.status = &status;

  int rc = 1;
  std::thread loop_thread([&] {
    core::SetThreadName("loop");
    try {
      rc = loop.Run(Parts::Main(&parts));
    } catch (const std::exception& e) {
      spdlog::critical("the loop failed: {}", e.what());
      rc = 1;
    }
  });
  loop_thread.join();
  net.Join();
  if (metrics_server) metrics_server->Stop();
  const auto& t = parts.totals;
  const double per_message = t.received > 0 ? 1.0 / static_cast<double>(t.received) : 0;
  NetCounters net_totals;
  net.SumCounters(net_totals);
  const auto net_cpu = net_totals.cpu_ns.load();
  // Deliveries that came after the loop closed its side never reached it (NetThread, "Closing").
  const auto late = net_totals.nacked_on_close.load();
  std::string late_note =
      late > 0 ? "; " + std::to_string(late) + " more arrived while closing and were nacked" : "";
  if (const auto bad = net_totals.undecodable_nacked.load(); bad > 0) {
    late_note += "; " + std::to_string(bad) + " undecodable deliveries nacked";
  }
  spdlog::info("worker {} stopped: {}{}; lease extensions {}; loop CPU {:.1f} ms ({:.0f} "
               "ns/message), net CPU {:.1f} ms ({:.0f} ns/message)",
               options_.name, t.Summary(), late_note, parts.extensions, parts.loop_cpu_ns / 1e6,
               static_cast<double>(parts.loop_cpu_ns) * per_message, net_cpu / 1e6,
               static_cast<double>(net_cpu) * per_message);
  return rc;
}

}  // namespace mandrill::worker
