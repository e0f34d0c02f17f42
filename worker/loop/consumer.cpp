#include "worker/loop/consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "shared/core/clock.h"
#include "shared/protocol/messages.h"

namespace mandrill::worker {
namespace {

constexpr std::size_t kMaxReasonBytes = 1000;
constexpr const char* kShutdownReason = "worker shutting down";

std::string Truncate(std::string s) {
  if (s.size() > kMaxReasonBytes) {
    s.resize(kMaxReasonBytes);
    s += "...";
  }
  return s;
}

}  // namespace

// One leased message. Owned by its task's frame (through InFlightRef), so it lives exactly as
// long as the task; Consumer::in_flight_ indexes the ones whose lease is still ours by lease id.
struct Consumer::InFlight {
  InFlight(protocol::DeliverItem&& d, runtime::TimePoint now) : item(std::move(d)), started(now) {}
  protocol::DeliverItem item;
  runtime::TimePoint started;  // handed to the loop: the handler starts in this step
  LeaseKeeper::Entry lease;
  runtime::TaskHandle task;
  bool settled = false;  // ACK/NACK handed to the outbox
  bool lost = false;     // the broker no longer holds the lease: send nothing (not indexed)
};

class Consumer::InFlightRef {
 public:
  InFlightRef(Consumer* consumer, std::unique_ptr<InFlight> f)
      : consumer_(consumer), f_(std::move(f)) {}
  InFlightRef(InFlightRef&& other) noexcept = default;
  InFlightRef(const InFlightRef&) = delete;
  InFlightRef& operator=(const InFlightRef&) = delete;
  InFlightRef& operator=(InFlightRef&&) = delete;
  ~InFlightRef() {
    if (f_) consumer_->Retire(f_.get());
  }
  InFlight* get() const { return f_.get(); }

 private:
  Consumer* consumer_;
  std::unique_ptr<InFlight> f_;
};

struct Consumer::Outcome {
  enum Kind { kAck, kError, kTimeout } kind = kAck;
  std::string reason;
};

Consumer::Consumer(ConsumerOptions options, Handler& handler, Outbox& outbox,
                   runtime::ThreadPool* executor)
    : options_(std::move(options)),
      loop_(*runtime::Loop::Current()),
      handler_(handler),
      outbox_(outbox),
      executor_(executor),
      keeper_(loop_, outbox),
      messages_("messages",
                runtime::SupervisorOptions{
                    .on_failure =
                        [this](const runtime::ChildFailure& f) {
                          ++totals_.internal_errors;
                          spdlog::error("message task '{}' failed outside its handler: {}",
                                        f.child, runtime::DescribeException(f.error));
                        }}),
      stats_timer_(loop_),
      lease_duration_(options_.default_lease) {}

Consumer::~Consumer() = default;

std::string Consumer::Summary() const {
  return totals_.Summary() + ", in flight " + std::to_string(in_flight_.size()) +
         ", lease extensions " + std::to_string(keeper_.extensions_sent());
}

void Consumer::ArmStats() {
  if (options_.stats_interval <= runtime::Duration::zero()) return;
  stats_timer_.Start(options_.stats_interval, [this] {
    spdlog::debug("worker totals: {}", Summary());
    ArmStats();
  });
}

runtime::Task<void> Consumer::Run() {
  ArmStats();
  bool cancelled = false;
  try {
    (void)co_await stop_requested_.Receive();
  } catch (const runtime::Cancelled&) {
    cancelled = true;  // rethrown by Join below, after every message task has ended
  }
  if (cancelled) Stop(runtime::Duration::zero());
  co_await messages_.Join();
  stats_timer_.Cancel();
  outbox_.Flush();
}

void Consumer::Stop(runtime::Duration grace) {
  if (!stopping_) {
    stopping_ = true;
    outbox_.SetCredit(0);
    stop_requested_.Close();
    if (grace > runtime::Duration::zero()) {
      spdlog::info("draining: credit 0, {} messages in flight, up to {} ms to finish",
                   in_flight_.size(), core::ToMillis(grace));
    }
  }
  if (grace > runtime::Duration::zero()) {
    messages_.Shutdown(grace);
  } else if (!forced_) {
    forced_ = true;
    spdlog::info("stopping now: cancelling {} in-flight messages (nacked for immediate "
                 "redelivery)",
                 in_flight_.size());
    messages_.CancelAll();
  }
}

void Consumer::OnDeliveries(std::vector<protocol::DeliverItem>&& items) {
  for (auto& item : items) {
    ++totals_.received;
    if (stopping_ || !messages_.open()) {
      outbox_.Nack(item.lease_id, 0, kShutdownReason);
      ++totals_.nacked_shutdown;
      ++totals_.refused_draining;
      spdlog::debug("message {} arrived while draining: nacked for redelivery", item.id);
      continue;
    }
    auto [it, inserted] = in_flight_.try_emplace(item.lease_id, nullptr);
    if (!inserted) {
      ++totals_.internal_errors;
      spdlog::error("lease {} (message {}) delivered twice; ignoring the second delivery",
                    item.lease_id, item.id);
      continue;
    }
    auto owned = std::make_unique<InFlight>(std::move(item), loop_.Now());
    InFlight* f = owned.get();
    it->second = f;
    const runtime::Duration left =
        f->item.lease_ms > 0 ? runtime::Duration(std::chrono::milliseconds(f->item.lease_ms))
                             : lease_duration_;
    keeper_.Add(&f->lease, f->item.lease_id, left, lease_duration_);
    f->lease.label = &f->item.id;
    spdlog::debug("message {} (attempt {}) held by the loop", f->item.id, f->item.attempt);
    // A refused spawn (impossible while open) drops the task unstarted, which retires `f` at
    // once (NACK, delay 0): then `f` is gone and the handle empty.
    runtime::TaskHandle handle =
        messages_.Spawn(f->item.id, RunMessage(this, InFlightRef(this, std::move(owned))));
    if (handle) f->task = std::move(handle);
  }
  spdlog::debug("{} deliveries received; {} messages in flight", items.size(), in_flight_.size());
}

runtime::Task<void> Consumer::RunMessage(Consumer* self, InFlightRef ref) {
  InFlight* f = ref.get();
  const Message msg{f->item.id, f->item.queue, f->item.payload, f->item.attempt,
                    &f->item.headers};
  Outcome outcome = co_await RunHandler(self, msg);
  self->Settle(f, outcome);
}

runtime::Task<Consumer::Outcome> Consumer::RunHandler(Consumer* self, Message msg) {
  runtime::CancelScope scope(self->loop_.Now() + self->options_.handler_timeout);
  std::exception_ptr error;
  bool finished = false;
  try {
    finished = co_await scope.Run(HandlerBody(self, &msg, scope.Deadline()));
  } catch (const runtime::Cancelled&) {
    throw;  // lease lost or shutdown: Retire (or MarkLost) accounts for it
  } catch (...) {
    error = std::current_exception();  // delivered: the NACK carries it, Settle logs it
  }
  Outcome outcome;  // named, not a temporary in co_return (GCC 12, docs/runtime.md)
  if (error) {
    outcome.kind = Outcome::kError;
    outcome.reason = runtime::DescribeException(error);
  } else if (!finished) {
    outcome.kind = Outcome::kTimeout;
  }
  co_return outcome;
}

runtime::Task<void> Consumer::HandlerBody(Consumer* self, const Message* msg,
                                          runtime::TimePoint deadline) {
  runtime::TaskGroup children("subtasks");
  Context ctx(*msg, self->executor_, &children, deadline);
  std::exception_ptr error;
  try {
    co_await self->handler_.Handle(*msg, ctx);
  } catch (...) {
    error = std::current_exception();  // Cancelled too: rethrown once the sub-tasks ended
  }
  if (error) children.CancelAll();
  try {
    co_await children.Join();
  } catch (...) {
    if (!error) error = std::current_exception();  // the first sub-task failure
  }
  if (error) std::rethrow_exception(error);
}

void Consumer::Settle(InFlight* f, const Outcome& outcome) {
  keeper_.Remove(&f->lease);
  if (f->lost || f->settled) return;
  f->settled = true;
  const auto& item = f->item;
  Time(f, outcome.kind == Outcome::kAck     ? HandlerOutcome::kAcked
          : outcome.kind == Outcome::kError ? HandlerOutcome::kError
                                            : HandlerOutcome::kTimeout);
  switch (outcome.kind) {
    case Outcome::kAck:
      outbox_.Ack(item.lease_id);
      ++totals_.acked;
      return;
    case Outcome::kError: {
      const auto delay = RetryDelayMs(item.attempt, options_.retry_initial, options_.retry_max);
      spdlog::warn("message {} (queue {}, attempt {}) failed: {}; nack, retry in {} ms", item.id,
                   item.queue, item.attempt, outcome.reason, delay);
      outbox_.Nack(item.lease_id, delay, Truncate(outcome.reason));
      ++totals_.nacked_error;
      return;
    }
    case Outcome::kTimeout: {
      const auto delay = RetryDelayMs(item.attempt, options_.retry_initial, options_.retry_max);
      spdlog::warn("message {} (queue {}, attempt {}) timed out after {} ms; nack, retry in {} "
                   "ms",
                   item.id, item.queue, item.attempt, core::ToMillis(options_.handler_timeout), delay);
      outbox_.Nack(item.lease_id, delay, "timeout");
      ++totals_.nacked_timeout;
      return;
    }
  }
}

void Consumer::Retire(InFlight* f) {
  keeper_.Remove(&f->lease);
  if (f->lost) return;  // already out of the index; nothing to send
  if (!f->settled) {
    f->settled = true;
    Time(f, HandlerOutcome::kShutdown);
    outbox_.Nack(f->item.lease_id, 0, kShutdownReason);
    ++totals_.nacked_shutdown;
    spdlog::info("message {} (attempt {}) unfinished at shutdown: nacked for immediate "
                 "redelivery",
                 f->item.id, f->item.attempt);
  }
  in_flight_.erase(f->item.lease_id);
}

void Consumer::MarkLost(InFlight* f, const char* why) {
  if (f->lost || f->settled) return;
  f->lost = true;
  ++totals_.lease_lost;
  Time(f, HandlerOutcome::kLeaseLost);
  keeper_.Remove(&f->lease);
  // Out of the index now: a new broker may reuse the lease id before this task has ended.
  in_flight_.erase(f->item.lease_id);
  spdlog::warn("lease {} of message {} (attempt {}) lost: {}; cancelling its handler (the broker "
               "delivers the message again)",
               f->item.lease_id, f->item.id, f->item.attempt, why);
  if (f->task) (void)f->task.Cancel();
}

void Consumer::Time(const InFlight* f, HandlerOutcome outcome) {
  handler_times_.Observe(outcome,
                         std::chrono::duration<double>(loop_.Now() - f->started).count());
}

void Consumer::Report(runtime::TimePoint now, WorkerStatus& out) const {
  out.in_flight = in_flight_.size();
  out.totals = totals_;
  out.lease_extensions = keeper_.extensions_sent();
  for (std::size_t i = 0; i < kHandlerOutcomes; ++i) {
    out.handler_seconds[i] = handler_times_.data(static_cast<HandlerOutcome>(i));
  }
  // The longest-running ones: what an operator looks for, and what the broker's report keeps.
  std::vector<const InFlight*> running;
  running.reserve(in_flight_.size());
  for (const auto& [id, f] : in_flight_) running.push_back(f);
  const std::size_t n = std::min(running.size(), protocol::kMaxTaskReports);
  std::partial_sort(running.begin(), running.begin() + static_cast<std::ptrdiff_t>(n),
                    running.end(), [](const InFlight* a, const InFlight* b) {
                      return a->started < b->started;
                    });
  out.tasks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const InFlight* f = running[i];
    out.tasks.push_back(RunningTask{f->item.lease_id, f->item.id, now - f->started});
  }
}

void Consumer::MarkAllLost(const char* why) {
  std::vector<InFlight*> all;
  all.reserve(in_flight_.size());
  for (auto& [id, f] : in_flight_) all.push_back(f);
  for (InFlight* f : all) MarkLost(f, why);
}

void Consumer::OnLeasesLost(const std::vector<std::uint64_t>& leases) {
  for (std::uint64_t id : leases) {
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) {
      ++totals_.lost_after_settle;
      spdlog::warn("the broker refused our ack/nack/extend of lease {}: lease lost (it expired "
                   "or was released first); the message is delivered again",
                   id);
      continue;
    }
    MarkLost(it->second, "the broker no longer holds it");
  }
}

void Consumer::OnSessionLost(const std::string& reason) { MarkAllLost(reason.c_str()); }

void Consumer::OnExtended(const std::vector<protocol::ExtendedItem>& items) {
  for (const auto& x : items) {
    auto it = in_flight_.find(x.lease_id);
    if (it == in_flight_.end()) continue;  // settled meanwhile
    keeper_.OnExtended(&it->second->lease, std::chrono::milliseconds(x.lease_ms));
  }
}

void Consumer::OnWelcome(const protocol::Welcome& welcome) {
  if (welcome.lease_ms > 0) lease_duration_ = std::chrono::milliseconds(welcome.lease_ms);
  if (broker_id_.empty()) {
    broker_id_ = welcome.broker_id;
  } else if (broker_id_ != welcome.broker_id) {
    broker_id_ = welcome.broker_id;
    MarkAllLost("the broker restarted");
  } else if (keeper_.size() > 0) {
    // Re-announced to the same broker: it may have released our leases while we were away.
    // Extending them all now makes it say which are gone.
    keeper_.ExtendAllNow();
  }
}

void Consumer::OnNetStopped(const std::string& reason, bool failed) {
  if (!failed) return;
  net_failed_ = true;
  spdlog::critical("the network thread stopped ({}): stopping the worker", reason);
  Stop(runtime::Duration::zero());
}

}  // namespace mandrill::worker
