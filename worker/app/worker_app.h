#pragma once
// WorkerApp: assembles and runs one mandrill-worker process.
//
// Threads:
//   main      waits for the loop thread, prints nothing but the exit summary's log line
//   net       NetThread: owns the DEALER socket, heartbeats, reconnects, batches settlements
//   loop      the runtime Loop: Consumer (one supervised task per message), LeaseKeeper,
//             signals, the handler's own tasks
//   exec-N    ThreadPool for RunInExecutor (ledger commits, handlers' blocking calls)
//   watchdog  the runtime's report of a loop stuck in one step
//
// Data path: broker -> net -> Bridge (Loop::Post, bounded by the credit) -> Consumer ->
// handler task -> Outbox (batched per loop iteration) -> Settlements (eventfd) -> net -> broker.
//
// Start-up and shut-down go through one ExitStack on the loop (the same path for every stop):
// start the handler (e.g. its ledger writer), start the network thread, serve until a signal
// (or a dead network thread) stops the Consumer; then, newest first: flush the outbox and close
// the network thread (DISCONNECT), stop the handler (commit the ledger). Signals are loop events
// (runtime::SignalSet): SIGTERM/SIGINT drain (or nack at once with --drain nack; a second one
// always nacks at once), SIGQUIT nacks everything held at once, SIGHUP reopens the log file.
#include <cstdint>
#include <memory>

#include "worker/app/options.h"
#include "worker/handlers/handler.h"
#include "worker/loop/totals.h"

namespace mandrill::worker {

class WorkerApp {
 public:
  WorkerApp(WorkerOptions options, std::unique_ptr<Handler> handler);
  ~WorkerApp();
  WorkerApp(const WorkerApp&) = delete;
  WorkerApp& operator=(const WorkerApp&) = delete;

  // Runs the worker until it has stopped; returns the process exit code (0: clean stop, also
  // after a graceful drain; 1: a component failed). Call once, from the main thread.
  int Run();

 private:
  struct Parts;
  WorkerOptions options_;
  std::unique_ptr<Handler> handler_;
};

}  // namespace mandrill::worker
