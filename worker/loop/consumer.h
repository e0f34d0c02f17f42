#pragma once
// Consumer: the loop side of the worker. Every leased message becomes one task under the
// "messages" Supervisor; the task runs the handler under --handler-timeout and settles the
// message by its outcome, while the LeaseKeeper keeps the lease alive until the task ends.
//
//   outcome                         sent to the broker                      counted as
//   handler returned                ACK                                     acked
//   handler (or sub-task) threw     NACK(retry delay by attempt, what())    nacked_error
//   ran past --handler-timeout      NACK(retry delay by attempt, "timeout") nacked_timeout
//   lease lost / broker restarted   nothing (handler cancelled)             lease_lost
//   unfinished at shutdown          NACK(0, "worker shutting down")         nacked_shutdown
//
// Exactly one of these happens per delivery: the message task's frame owns an InFlightRef whose
// destructor settles whatever is still unsettled (shutdown) and stops the lease keeper — it runs
// however the task ends (return, exception, cancellation, even a frame destroyed at teardown).
//
// Drain: Stop(grace) stops granting credit (CREDIT 0), lets running handlers finish within
// `grace` while their leases keep being extended, then cancels the rest (NACK delay 0, for
// immediate redelivery). Stop(0) cancels at once. Deliveries that arrive after Stop are nacked
// at once. Run() returns when every message task has ended and the outbox was flushed.
//
// Threading: loop thread only; construct inside a task (the supervisor's scope hangs under the
// task's), call Run() once, and let it finish before destroying the consumer. `handler`,
// `outbox` and `executor` must outlive it.
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/runtime/runtime.h"
#include "worker/handlers/handler.h"
#include "worker/loop/handler_times.h"
#include "worker/loop/lease_keeper.h"
#include "worker/loop/loop_events.h"
#include "worker/loop/outbox.h"
#include "worker/loop/totals.h"
#include "worker/loop/worker_status.h"

namespace mandrill::worker {

struct ConsumerOptions {
  runtime::Duration handler_timeout = std::chrono::minutes(5);
  std::chrono::milliseconds retry_initial{500};  // NACK delay after attempt 1, doubled per attempt
  std::chrono::milliseconds retry_max{60'000};
  runtime::Duration default_lease = std::chrono::seconds(30);  // until WELCOME/DELIVER tell
  runtime::Duration stats_interval = std::chrono::seconds(10);  // debug log of totals; 0: off
};

class Consumer final : public LoopEvents {
 public:
  Consumer(ConsumerOptions options, Handler& handler, Outbox& outbox,
           runtime::ThreadPool* executor);
  ~Consumer() override;
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Serves until Stop() and until every message task has ended; then flushes the outbox. If the
  // calling task is cancelled, it stops at once (Stop(0)), waits for the tasks, and rethrows.
  runtime::Task<void> Run();
  // Graceful stop within `grace` (see above); zero or negative: nack everything held now. A
  // later call may shorten it to zero (a second signal). Idempotent otherwise.
  void Stop(runtime::Duration grace);

  // LoopEvents.
  void OnDeliveries(std::vector<protocol::DeliverItem>&& items) override;
  void OnLeasesLost(const std::vector<std::uint64_t>& leases) override;
  void OnSessionLost(const std::string& reason) override;
  void OnExtended(const std::vector<protocol::ExtendedItem>& items) override;
  void OnWelcome(const protocol::Welcome& welcome) override;
  void OnNetStopped(const std::string& reason, bool failed) override;

  const WorkerTotals& totals() const { return totals_; }
  // Messages whose lease is ours (tasks of lost leases may still be finishing).
  std::size_t in_flight() const { return in_flight_.size(); }
  const LeaseKeeper& keeper() const { return keeper_; }
  const HandlerTimes& handler_times() const { return handler_times_; }
  // Fills the consumer's part of a status snapshot taken at `now` (StatusReporter).
  void Report(runtime::TimePoint now, WorkerStatus& out) const;
  bool stopping() const { return stopping_; }
  bool net_failed() const { return net_failed_; }
  std::string Summary() const;

 private:
  struct InFlight;
  class InFlightRef;
  struct Outcome;

  static runtime::Task<void> RunMessage(Consumer* self, InFlightRef ref);
  static runtime::Task<Outcome> RunHandler(Consumer* self, Message msg);
  static runtime::Task<void> HandlerBody(Consumer* self, const Message* msg,
                                         runtime::TimePoint deadline);
  void Settle(InFlight* f, const Outcome& outcome);
  void Retire(InFlight* f);
  void MarkLost(InFlight* f, const char* why);
  void MarkAllLost(const char* why);
  void Time(const InFlight* f, HandlerOutcome outcome);
  void ArmStats();

  ConsumerOptions options_;
  runtime::Loop& loop_;
  Handler& handler_;
  Outbox& outbox_;
  runtime::ThreadPool* executor_;
  LeaseKeeper keeper_;
  // Messages whose lease is still ours, by lease id (owned by their tasks' frames).
  absl::flat_hash_map<std::uint64_t, InFlight*> in_flight_;
  runtime::Supervisor messages_;
  runtime::Channel<int> stop_requested_{0};  // closed by Stop()
  runtime::Timer stats_timer_;
  std::string broker_id_;
  runtime::Duration lease_duration_;
  bool stopping_ = false;
  bool forced_ = false;
  bool net_failed_ = false;
  WorkerTotals totals_;
  HandlerTimes handler_times_;
};

}  // namespace mandrill::worker
