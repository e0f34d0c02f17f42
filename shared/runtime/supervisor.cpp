#include "shared/runtime/supervisor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mandrill::runtime {
namespace {

Loop& CurrentLoopOrThrow(const std::string& name) {
  Loop* loop = Loop::Current();
  if (loop == nullptr) {
    throw std::logic_error("Supervisor '" + name +
                           "': no loop runs on this thread; pass the Loop explicitly");
  }
  return *loop;
}

}  // namespace

struct Supervisor::Slot {
  std::string name;
  std::function<Task<void>()> factory;
  ChildSpec spec;
  std::uint64_t order = 0;
  detail::TaskCore* core = nullptr;  // running instance; the supervisor holds its owner ref
  TimePoint started_at;
  int consecutive_failures = 0;
  bool waiting_restart = false;  // counted in pending_restarts_
  bool stop_for_group = false;   // being stopped by one_for_all / rest_for_one
  bool retired = false;          // ended for good
  std::unique_ptr<Timer> restart_timer;
};

Supervisor::Supervisor(std::string name, SupervisorOptions options)
    : Supervisor(CurrentLoopOrThrow(name), std::move(name), std::move(options)) {}

Supervisor::Supervisor(std::string name, SupervisorOptions options, bool fail_fast)
    : Supervisor(CurrentLoopOrThrow(name), std::move(name), std::move(options)) {
  fail_fast_ = fail_fast;
}

Supervisor::Supervisor(Loop& loop, std::string name, SupervisorOptions options)
    : loop_(&loop), name_(std::move(name)), options_(std::move(options)), grace_timer_(loop) {
  detail::TaskCore* current = detail::CurrentTask();
  CancelScope* parent =
      current != nullptr && current->loop() == loop_ ? current->current_scope() : nullptr;
  scope_.Attach(parent, loop_);
}

Supervisor::~Supervisor() {
  std::size_t live = live_children();
  if (live > 0) {
    if (!detail::LoopInternals::TearingDown(*loop_)) {
      spdlog::critical("supervisor '{}' destroyed with {} live child task(s): a supervisor must be "
                       "joined (co_await Join()) before it goes out of scope",
                       name_, live);
      std::fprintf(stderr,
                   "supervisor '%s' destroyed with %zu live child task(s): it must be joined "
                   "before it goes out of scope\n",
                   name_.c_str(), live);
      std::abort();
    }
    // Loop teardown: the children's frames go without being resumed.
    while (detail::TaskCore* t = temporaries_.PopFront()) {
      t->DestroyFrame();
      t->Release();
    }
    for (auto& slot : slots_) {
      if (slot->core != nullptr) {
        slot->core->DestroyFrame();
        slot->core->Release();
        slot->core = nullptr;
      }
    }
  }
  grace_timer_.Cancel();
  scope_.Detach();
}

detail::TaskCore* Supervisor::StartCore(std::string&& name, Task<void>&& task) {
  auto h = task.Release();
  auto* core = new detail::TaskCore(loop_, std::move(name), h, &h.promise(), this, &scope_);
  ++stats_.spawned;
  return core;
}

TaskHandle Supervisor::Spawn(std::string name, Task<void> task) {
  assert(task && "Spawn of an empty Task");
  if (phase_ != Phase::kOpen) {
    ++stats_.refused;
    spdlog::debug("supervisor '{}' is closed; refused to spawn '{}'", name_, name);
    return {};
  }
  detail::TaskCore* core = StartCore(std::move(name), std::move(task));
  core->seq_ = next_seq_++;
  temporaries_.PushBack(core);
  core->Start();
  return TaskHandle(core);
}

TaskHandle Supervisor::Spawn(std::string name, std::function<Task<void>()> factory,
                             ChildSpec spec) {
  if (phase_ != Phase::kOpen) {
    ++stats_.refused;
    spdlog::debug("supervisor '{}' is closed; refused to spawn '{}'", name_, name);
    return {};
  }
  auto slot = std::make_unique<Slot>();
  slot->name = std::move(name);
  slot->factory = std::move(factory);
  slot->spec = spec;
  slot->order = next_seq_++;
  slot->restart_timer = std::make_unique<Timer>(*loop_);
  Slot* s = slot.get();
  slots_.push_back(std::move(slot));
  StartSlot(s);
  return TaskHandle(s->core);
}

void Supervisor::StartSlot(Slot* slot) {
  Task<void> task;
  try {
    task = slot->factory();
  } catch (...) {
    // A factory that throws is a child that failed at once; it goes through the same policy.
    slot->started_at = loop_->Now();
    OnSlotExit(slot, TaskState::kFailed, std::current_exception());
    return;
  }
  detail::TaskCore* core = StartCore(std::string(slot->name), std::move(task));
  core->seq_ = slot->order;
  core->owner_data_ = slot;
  slot->core = core;
  slot->started_at = loop_->Now();
  ++running_slots_;
  core->Start();
}

void Supervisor::OnTaskExit(detail::TaskCore* task) {
  TaskState state = task->state();
  std::exception_ptr error = task->error();
  if (state == TaskState::kCancelled) ++stats_.cancelled;
  if (auto* slot = static_cast<Slot*>(task->owner_data_)) {
    slot->core = nullptr;
    --running_slots_;
    task->Release();
    OnSlotExit(slot, state, std::move(error));
  } else {
    temporaries_.Remove(task);
    if (state == TaskState::kFailed) HandleFailure(task->name(), error);
    task->Release();
  }
  Advance();
}

void Supervisor::HandleFailure(const std::string& child, const std::exception_ptr& error) {
  if (fail_fast_ && !failure_) {
    // TaskGroup: the first failure is delivered to Join(); the siblings are cancelled.
    ++stats_.failures;
    failure_ = error;
    phase_ = Phase::kFailed;
    CancelEverything();
    return;
  }
  ReportFailure(child, error);
}

void Supervisor::ReportFailure(const std::string& child, const std::exception_ptr& error) {
  ++stats_.failures;
  if (!options_.on_failure) {
    spdlog::error("supervisor '{}': child '{}' failed: {}", name_, child,
                  DescribeException(error));
    return;
  }
  try {
    options_.on_failure(ChildFailure{name_, child, error});
  } catch (const std::exception& e) {
    spdlog::error("supervisor '{}': failure handler threw while handling child '{}' ({}): {}",
                  name_, child, DescribeException(error), e.what());
  } catch (...) {
    spdlog::error("supervisor '{}': failure handler threw a non-standard exception while "
                  "handling child '{}' ({})",
                  name_, child, DescribeException(error));
  }
}

void Supervisor::OnSlotExit(Slot* slot, TaskState state, std::exception_ptr error) {
  if (state == TaskState::kFailed) HandleFailure(slot->name, error);
  if (slot->stop_for_group) {
    slot->stop_for_group = false;
    if (--group_stopping_ == 0 && phase_ == Phase::kOpen) {
      RestartAfterBackoff(std::move(group_restart_), group_failed_);
      group_restart_.clear();
      group_failed_ = nullptr;
    }
    return;
  }
  if (phase_ != Phase::kOpen || scope_.EffectivelyCancelled()) {
    slot->retired = true;
    return;
  }
  bool restart = false;
  switch (slot->spec.restart) {
    case Restart::kPermanent:
      restart = state != TaskState::kCancelled;
      break;
    case Restart::kTransient:
      restart = state == TaskState::kFailed;
      break;
    case Restart::kTemporary:
      restart = false;
      break;
  }
  if (!restart) {
    slot->retired = true;
    return;
  }
  if (loop_->Now() - slot->started_at >= slot->spec.backoff_reset_after) {
    slot->consecutive_failures = 0;
  }
  ++slot->consecutive_failures;
  if (!RecordRestart()) {
    if (!error) {
      error = std::make_exception_ptr(std::runtime_error("child exited (permanent child)"));
    }
    Escalate(slot->name, error);
    return;
  }
  std::vector<Slot*> group{slot};
  if (options_.strategy != Strategy::kOneForOne) {
    bool all = options_.strategy == Strategy::kOneForAll;
    for (auto& other : slots_) {
      Slot* o = other.get();
      if (o == slot || o->retired || (!all && o->order < slot->order)) continue;
      group.push_back(o);
      if (o->core != nullptr) {
        o->stop_for_group = true;
        ++group_stopping_;
        o->core->RequestCancel();
      } else if (o->waiting_restart) {
        o->restart_timer->Cancel();
        o->waiting_restart = false;
        --pending_restarts_;
      }
    }
    for (detail::TaskCore* t = temporaries_.Front(); t != nullptr; t = temporaries_.Next(t)) {
      if (all || t->seq_ > slot->order) t->RequestCancel();
    }
    std::sort(group.begin(), group.end(),
              [](const Slot* a, const Slot* b) { return a->order < b->order; });
    if (group_stopping_ > 0) {
      group_restart_ = std::move(group);
      group_failed_ = slot;
      return;
    }
  }
  RestartAfterBackoff(std::move(group), slot);
}

bool Supervisor::RecordRestart() {
  TimePoint now = loop_->Now();
  while (!restart_times_.empty() && restart_times_.front() <= now - options_.restart_window) {
    restart_times_.pop_front();
  }
  restart_times_.push_back(now);
  return static_cast<int>(restart_times_.size()) <= options_.max_restarts;
}

Duration Supervisor::BackoffFor(const Slot* slot) const {
  const ChildSpec& spec = slot->spec;
  double factor = std::pow(spec.backoff_factor, std::max(0, slot->consecutive_failures - 1));
  double ns = static_cast<double>(spec.backoff_initial.count()) * factor;
  if (ns >= static_cast<double>(spec.backoff_max.count())) return spec.backoff_max;
  return Duration(static_cast<Duration::rep>(ns));
}

void Supervisor::RestartAfterBackoff(std::vector<Slot*> group, Slot* failed) {
  for (Slot* s : group) {
    s->waiting_restart = true;
    ++pending_restarts_;
  }
  Duration delay = BackoffFor(failed);
  spdlog::info("supervisor '{}': restarting '{}'{} in {} ms", name_, failed->name,
               group.size() > 1 ? " and the children it takes down" : "", core::ToMillis(delay));
  failed->restart_timer->Start(delay, [this, group = std::move(group)] {
    for (Slot* s : group) {
      if (!s->waiting_restart) continue;
      s->waiting_restart = false;
      --pending_restarts_;
      if (phase_ == Phase::kOpen) {
        ++stats_.restarts;
        StartSlot(s);
      } else {
        s->retired = true;
      }
    }
    Advance();
  });
}

void Supervisor::Escalate(const std::string& child, std::exception_ptr cause) {
  std::string what = "supervisor '" + name_ + "' gave up: more than " +
                     std::to_string(options_.max_restarts) + " restarts within " +
                     std::to_string(core::ToMillis(options_.restart_window)) + " ms; last failure: child '" +
                     child + "': " + DescribeException(cause);
  spdlog::error("{}", what);
  failure_ = std::make_exception_ptr(SupervisorFailed(what, std::move(cause)));
  phase_ = Phase::kFailed;
  CancelEverything();
}

void Supervisor::CancelPendingRestarts() {
  for (auto& slot : slots_) {
    if (slot->waiting_restart) {
      slot->restart_timer->Cancel();
      slot->waiting_restart = false;
      slot->retired = true;
      --pending_restarts_;
    }
  }
  group_restart_.clear();
  group_failed_ = nullptr;
}

void Supervisor::CancelEverything() {
  CancelPendingRestarts();
  grace_timer_.Cancel();
  for (detail::TaskCore* t = temporaries_.Front(); t != nullptr; t = temporaries_.Next(t)) {
    t->RequestCancel();
  }
  for (auto& slot : slots_) {
    if (slot->core != nullptr) slot->core->RequestCancel();
  }
}

void Supervisor::CancelAll() {
  if (phase_ != Phase::kFailed) phase_ = Phase::kClosed;
  CancelEverything();
  Advance();
}

void Supervisor::Shutdown(Duration grace) {
  if (phase_ != Phase::kOpen) return;
  phase_ = Phase::kDraining;
  CancelPendingRestarts();
  if (!temporaries_.empty()) {
    grace_timer_.Start(grace, [this] {
      if (!temporaries_.empty()) {
        spdlog::warn("supervisor '{}': grace period over; cancelling {} unfinished task(s)",
                     name_, temporaries_.size());
      }
      for (detail::TaskCore* t = temporaries_.Front(); t != nullptr; t = temporaries_.Next(t)) {
        t->RequestCancel();
      }
    });
  }
  Advance();
}

void Supervisor::StopNextLongLived() {
  if (stopping_slot_ != nullptr && stopping_slot_->core != nullptr) return;  // still stopping
  stopping_slot_ = nullptr;
  for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
    if ((*it)->core != nullptr) {
      stopping_slot_ = it->get();
      stopping_slot_->core->RequestCancel();
      return;
    }
  }
  phase_ = Phase::kClosed;
}

bool Supervisor::Idle() const {
  return temporaries_.empty() && running_slots_ == 0 && pending_restarts_ == 0 &&
         group_stopping_ == 0;
}

void Supervisor::Advance() {
  if (phase_ == Phase::kDraining && temporaries_.empty()) {
    grace_timer_.Cancel();
    phase_ = Phase::kStopping;
  }
  if (phase_ == Phase::kStopping) StopNextLongLived();
  if (Idle()) {
    while (detail::JoinNode* node = joiners_.PopFront()) node->waiter->Resume();
  }
}

Supervisor::JoinAwaitable Supervisor::Join() { return JoinAwaitable(this); }

}  // namespace mandrill::runtime
