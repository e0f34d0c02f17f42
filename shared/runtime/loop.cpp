#include "shared/runtime/loop.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <system_error>

#include "shared/core/clock.h"
#include "shared/core/mutex.h"
#include "shared/runtime/loop_watchdog.h"
#include "shared/runtime/supervisor.h"

namespace mandrill::runtime {
namespace {

constinit thread_local Loop* tls_loop = nullptr;

}  // namespace

Loop::Loop(LoopOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &steady_clock_),
      posts_(std::make_shared<detail::PostQueue>(options_.name)),
      iteration_time_(clock_->Now()) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  epoll_event ev{};
  // Edge-triggered: every eventfd write is reported once, so the loop never has to read the
  // counter back (one syscall less between waking up and running the posted callback).
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;  // marks the post queue's eventfd
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, posts_->fd(), &ev) != 0) {
    int err = errno;
    ::close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), "epoll_ctl(eventfd)");
  }
  SupervisorOptions root_options;
  root_options.on_failure = [this](const ChildFailure& f) {
    spdlog::error("loop '{}': task '{}' failed and nothing above it handled it: {}",
                  options_.name, f.child, DescribeException(f.error));
  };
  root_ = std::make_unique<Supervisor>(*this, options_.name + ":root", std::move(root_options));
}

Loop::~Loop() {
  assert(state_ != State::kRunning && state_ != State::kDraining &&
         "Loop destroyed while it runs");
  tearing_down_ = true;
  Loop* previous = tls_loop;
  tls_loop = this;
  // Newest first, so children go before the frames that own their supervisors.
  std::size_t destroyed = 0;
  while (detail::TaskCore* task = live_tasks_.Back()) {
    ++destroyed;
    task->DestroyFrame();
  }
  if (destroyed > 0) {
    spdlog::warn("loop '{}': destroyed {} suspended task frame(s) at teardown", options_.name,
                 destroyed);
  }
  root_.reset();
  while (!ready_callbacks_.empty()) ready_callbacks_.Pop();
  while (!ready_tasks_.empty()) ready_tasks_.Pop();
  // CallLater callbacks that never fired (detail::LaterNode, owned by the timer queue's slot
  // until they fire): freed without running.
  std::vector<detail::TimerNode*> unfired;
  timers_.ForEachArmed([&unfired](detail::TimerNode* node) {
    if (node->loop_owned) unfired.push_back(node);
  });
  for (detail::TimerNode* node : unfired) {
    timers_.Cancel(node);
    static_cast<detail::LaterNodeBase*>(node)->loop = nullptr;
    node->fire(node);
  }
  posts_->Close();
  std::vector<UniqueFunction<void()>> dropped;
  if (posts_->TakeAll(dropped)) {
    spdlog::warn("loop '{}': {} posted callback(s) were never run: the loop was destroyed "
                 "without running",
                 options_.name, dropped.size());
  }
  ::close(epoll_fd_);
  tls_loop = previous;
}

Loop* Loop::Current() { return tls_loop; }

void Loop::Post(UniqueFunction<void()> fn) { posts_->Post(std::move(fn)); }

void Loop::CallSoon(UniqueFunction<void()> fn) { ready_callbacks_.Push(std::move(fn)); }

void Loop::RefuseSubmitFromLoopThread(const std::string& name) const {
  throw std::logic_error("Submit('" + name + "') called on loop '" + options_.name +
                         "''s own thread: waiting for the future there would deadlock; spawn the "
                         "task under a Supervisor instead");
}

void Loop::SpawnSubmitted(std::string name, Task<void> task) {
  TaskHandle handle = root_->Spawn(std::move(name), std::move(task));
  assert(handle && "the root supervisor is open while the loop runs");
}

void Loop::ReportCallbackFailure(std::exception_ptr error) {
  ++stats_.tasks_failed;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("loop '{}': callback threw: {}", options_.name, e.what());
  } catch (const Cancelled&) {
    spdlog::error("loop '{}': callback threw Cancelled outside any task", options_.name);
  } catch (...) {
    spdlog::error("loop '{}': callback threw an unknown exception type", options_.name);
  }
}

void Loop::MeasureStep(const detail::TaskCore* task, const char* what) {
  auto now = std::chrono::steady_clock::now();
  auto took = now - step_started_;
  if (options_.slow_step_threshold > Duration::zero() && took > options_.slow_step_threshold) {
    ++stats_.slow_steps;
    spdlog::warn("loop '{}': {} '{}' blocked the loop for {} ms (threshold {} ms)", options_.name,
                 what, task != nullptr ? task->name() : std::string("-"),
                 core::ToMillis(std::chrono::duration_cast<Duration>(took)),
                 core::ToMillis(options_.slow_step_threshold));
  }
  step_started_ = now;
  if (watchdog_) {
    watchdog_->step_started_ns.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }
}

void Loop::PollIo(int64_t timeout_ns) {
  bool sleeping = timeout_ns != 0;
  if (sleeping && !posts_->PrepareToSleep()) {
    sleeping = false;
    timeout_ns = 0;
  }
  if (sleeping && watchdog_) watchdog_->step_started_ns.store(0, std::memory_order_relaxed);
  epoll_event events[64];
  int n;
  do {
    if (timeout_ns < 0) {
      n = ::epoll_wait(epoll_fd_, events, 64, -1);
    } else if (timeout_ns == 0) {
      n = ::epoll_wait(epoll_fd_, events, 64, 0);
    } else {
      timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
                  static_cast<long>(timeout_ns % 1000000000)};
      n = ::epoll_pwait2(epoll_fd_, events, 64, &ts, nullptr);
      if (n < 0 && errno == ENOSYS) {
        n = ::epoll_wait(epoll_fd_, events, 64,
                         static_cast<int>((timeout_ns + 999999) / 1000000));
      }
    }
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw std::system_error(errno, std::generic_category(), "epoll_wait");
  bool woke_by_post = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr == nullptr) {
      woke_by_post = true;
    } else {
      static_cast<detail::IoWatcher*>(events[i].data.ptr)->OnIoReady(events[i].events);
    }
  }
  if (sleeping) {
    ++stats_.wakeups;
    posts_->WokeUp(woke_by_post);
    step_started_ = std::chrono::steady_clock::now();
    if (watchdog_) {
      watchdog_->step_started_ns.store(step_started_.time_since_epoch().count(),
                                       std::memory_order_relaxed);
    }
  } else if (woke_by_post) {
    posts_->WokeUp(true);
  }
}

void Loop::RunOnce(std::optional<TimePoint> wait_limit) {
  if (ready_tasks_.empty() && ready_callbacks_.empty()) {
    // A virtual clock jumps to the returned time, so it needs the exact one; the real clock
    // may wake a little early (see TimerQueue::NextDeadline).
    std::optional<TimePoint> next = timers_.NextDeadline(clock_->IsVirtual());
    if (wait_limit && (!next || *wait_limit < *next)) next = wait_limit;
    if (clock_->IsVirtual()) {
      PollIo(0);
      bool work = !ready_tasks_.empty() || !ready_callbacks_.empty() || !posts_->Empty();
      if (!work) {
        if (external_work_ == 0 && next) {
          clock_->AdvanceTo(*next);
        } else {
          PollIo(-1);
        }
      }
    } else {
      int64_t timeout_ns = -1;
      if (next) {
        timeout_ns = std::max<int64_t>(0, (*next - Now()).count());
      }
      PollIo(timeout_ns);
    }
  } else if (io_watchers_ > 0) {
    PollIo(0);
  }

  TimePoint now = Now();
  iteration_time_ = now;
  while (detail::TimerNode* node = timers_.PopExpired(now)) node->fire(node);

  if (posts_->TakeAll(post_batch_)) {
    for (auto& fn : post_batch_) {
      ++stats_.posts;
      RunGuarded(fn);
    }
    post_batch_.clear();
  }

  for (std::size_t n = ready_callbacks_.size(); n > 0; --n) {
    UniqueFunction<void()> fn = ready_callbacks_.Pop();
    RunGuarded(fn);
  }
  for (std::size_t n = ready_tasks_.size(); n > 0; --n) {
    detail::TaskCore* task = ready_tasks_.Pop();
    ++stats_.steps;
    // Keep the core alive through the step even if its owner lets go when it finishes.
    task->AddRef();
    task->RunStep();
    NoteStepTime(task, "task");
    task->Release();
  }
}

void Loop::RunMain(Task<void> main) {
  if (tls_loop != nullptr) {
    throw std::logic_error("Loop::Run on loop '" + options_.name + "': this thread already runs loop '" +
                           tls_loop->name() + "' (loops never nest)");
  }
  if (run_claimed_.exchange(true)) {
    throw std::logic_error("Loop::Run on loop '" + options_.name +
                           "': it already ran or is running on another thread (a loop runs once, "
                           "on one thread)");
  }
  thread_ = std::this_thread::get_id();
  state_ = State::kRunning;
  tls_loop = this;
  step_started_ = std::chrono::steady_clock::now();
  iteration_time_ = Now();
  StartWatchdog();
  TaskHandle main_task = root_->Spawn("main", std::move(main));
  while (!main_task.done()) RunOnce(std::nullopt);
  Drain();
  state_ = State::kFinished;
  StopWatchdog();
  tls_loop = nullptr;
  if (stats_.tasks_failed > 0 || stats_.stragglers > 0) {
    spdlog::info("loop '{}' finished: {} tasks spawned, {} failed (each delivered to its "
                 "supervisor), {} cancelled, {} straggler report(s)",
                 options_.name, stats_.tasks_spawned, stats_.tasks_failed,
                 stats_.tasks_cancelled, stats_.stragglers);
  }
}

void Loop::Drain() {
  state_ = State::kDraining;
  for (detail::TaskCore* t = live_tasks_.Front(); t != nullptr; t = live_tasks_.Next(t)) {
    t->RequestCancel();
  }
  root_->CancelAll();
  TimePoint deadline = Now() + options_.drain_timeout;
  while (!live_tasks_.empty() && Now() < deadline) RunOnce(deadline);
  if (!live_tasks_.empty()) {
    stats_.stragglers += live_tasks_.size();
    spdlog::error("loop '{}': {} task(s) still alive {} ms after the loop began shutting down; "
                  "their frames will be destroyed with the loop:\n{}",
                  options_.name, live_tasks_.size(), core::ToMillis(options_.drain_timeout), DumpTasks());
  }
  posts_->Close();
  // Whatever was posted before the close still runs exactly once.
  while (posts_->TakeAll(post_batch_) || !ready_callbacks_.empty()) {
    for (auto& fn : post_batch_) {
      ++stats_.posts;
      RunGuarded(fn);
    }
    post_batch_.clear();
    while (!ready_callbacks_.empty()) {
      UniqueFunction<void()> fn = ready_callbacks_.Pop();
      RunGuarded(fn);
    }
  }
}

LoopStats Loop::Stats() const {
  LoopStats s = stats_;
  s.blocked_reports = blocked_reports_.load(std::memory_order_relaxed);
  return s;
}

std::vector<TaskInfo> Loop::Tasks() const {
  std::vector<TaskInfo> out;
  auto& list = const_cast<core::IntrusiveList<detail::TaskCore, detail::LiveHook>&>(live_tasks_);
  TimePoint now = Now();
  for (detail::TaskCore* t = list.Front(); t != nullptr; t = list.Next(t)) {
    out.push_back(TaskInfo{t->id(), t->name(), t->state(), t->waiting_on(), now - t->created(),
                           t->cancel_requested()});
  }
  return out;
}

std::string Loop::DumpTasks() const {
  std::ostringstream out;
  for (const TaskInfo& t : Tasks()) {
    out << "  #" << t.id << " '" << t.name << "' " << ToString(t.state);
    if (t.state == TaskState::kSuspended) out << " on " << t.waiting_on;
    out << ", age " << core::ToMillis(t.age) << " ms";
    if (t.cancel_requested) out << ", cancel requested";
    out << '\n';
  }
  return out.str();
}

void Timer::Start(Duration delay, UniqueFunction<void()> fn) {
  StartAt(loop_->Now() + delay, std::move(fn));
}

void Timer::StartAt(TimePoint when, UniqueFunction<void()> fn) {
  Cancel();
  fn_ = std::move(fn);
  node_.fire = &Timer::Fire;
  detail::LoopInternals::Timers(*loop_).Add(&node_, when);
}

void Timer::Cancel() {
  detail::LoopInternals::Timers(*loop_).Cancel(&node_);
  fn_.Reset();
}

void Timer::Fire(detail::TimerNode* node) {
  Timer* self = static_cast<Node*>(node)->owner;
  UniqueFunction<void()> fn = std::move(self->fn_);
  self->loop_->RunGuarded(fn);
}

namespace detail {

void LoopInternals::WatchFd(Loop& l, int fd, std::uint32_t events, IoWatcher* watcher) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watcher;
  if (::epoll_ctl(l.epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
  }
  ++l.io_watchers_;
}

void LoopInternals::ModifyFd(Loop& l, int fd, std::uint32_t events, IoWatcher* watcher) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watcher;
  if (::epoll_ctl(l.epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(MOD)");
  }
}

void LoopInternals::UnwatchFd(Loop& l, int fd) {
  if (::epoll_ctl(l.epoll_fd_, EPOLL_CTL_DEL, fd, nullptr) == 0) --l.io_watchers_;
}

}  // namespace detail
}  // namespace mandrill::runtime
