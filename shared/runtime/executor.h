// ThreadPool and RunInExecutor: blocking work off the loop thread (asyncio.run_in_executor,
// Trio to_thread.run_sync).
//
//   int rows = co_await RunInExecutor(pool, [db] { return db->Write(); });
//
// The function runs on a pool thread; its value or exception comes back on the loop thread
// (through Loop::Post), where the awaiting task resumes. Cancellation: a job that has not
// started is dropped and the await raises Cancelled at once; a job already running cannot be
// interrupted — if the function accepts a std::stop_token, a stop is requested — and the await
// completes with the job's outcome when it ends (the cancellation is raised at the task's next
// await). So a running job never outlives its awaiting frame, and may refer to it.
//
// While a job is in flight the loop's virtual clock does not jump (real work takes real time).
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "shared/core/mutex.h"
#include "shared/runtime/errors.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/post_queue.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

namespace detail {

class ExecutorJob {
 public:
  enum State : int { kQueued, kRunning, kDone, kAbandoned };
  virtual ~ExecutorJob() = default;
  // Pool thread.
  virtual void Execute(std::stop_token stop) = 0;

  std::atomic<int> state{kQueued};
  std::stop_source stop;
  std::shared_ptr<PostQueue> posts;  // the awaiting loop's door
  // Loop thread only:
  Loop* loop = nullptr;
  Waiter* awaiter = nullptr;
  TaskCore* task = nullptr;
};

}  // namespace detail

struct ThreadPoolStats {
  std::uint64_t executed = 0;
  std::uint64_t abandoned = 0;         // dropped before they started (cancelled)
  std::uint64_t results_dropped = 0;  // finished after their loop had closed
};

class ThreadPool {
 public:
  // Starts `threads` threads named "<name>-N" (Linux limits names to 15 chars).
  ThreadPool(std::string name, std::size_t threads);
  // Runs the jobs already queued, then joins every thread.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Any thread.
  void Enqueue(std::shared_ptr<detail::ExecutorJob> job) EXCLUDES(mu_);
  ThreadPoolStats stats() const EXCLUDES(mu_);
  const std::string& name() const { return name_; }

 private:
  void Worker() EXCLUDES(mu_);

  std::string name_;
  mutable core::Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<detail::ExecutorJob>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  ThreadPoolStats stats_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

template <class R>
class [[nodiscard]] ExecutorAwaiter : private detail::Checkpoint {
 public:
  template <class F>
  ExecutorAwaiter(ThreadPool& pool, F fn) : pool_(&pool) {
    job_ = std::make_shared<Job<F>>(std::move(fn));
  }
  ExecutorAwaiter(const ExecutorAwaiter&) = delete;
  ExecutorAwaiter& operator=(const ExecutorAwaiter&) = delete;
  ~ExecutorAwaiter() {
    if (!job_ || job_->awaiter == nullptr) return;
    // The frame goes away while waiting (loop teardown): detach so the result is discarded.
    job_->awaiter = nullptr;
    int queued = detail::ExecutorJob::kQueued;
    if (job_->state.compare_exchange_strong(queued, detail::ExecutorJob::kAbandoned)) {
      detail::LoopInternals::EndExternalWork(*job_->loop);
    }
  }

  bool await_ready() { return EnterCheckpoint(); }
  void await_suspend(std::coroutine_handle<> h) {
    Loop& loop = *self_->loop();
    job_->loop = &loop;
    job_->task = self_;
    job_->awaiter = this;
    job_->posts = detail::LoopInternals::Posts(loop);
    detail::LoopInternals::BeginExternalWork(loop);
    self_->Suspend(this, h);
    pool_->Enqueue(job_);
  }
  R await_resume() {
    LeaveCheckpoint();
    auto* job = static_cast<ResultJob*>(job_.get());
    if (job->error) std::rethrow_exception(job->error);
    if constexpr (!std::is_void_v<R>) return std::move(*job->value);
  }

 private:
  struct ResultJob : detail::ExecutorJob {
    std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value{};
    std::exception_ptr error;
  };
  template <class F>
  struct Job final : ResultJob {
    explicit Job(F f) : fn(std::move(f)) {}
    void Execute(std::stop_token stop) override {
      try {
        if constexpr (std::is_invocable_v<F&, std::stop_token>) {
          if constexpr (std::is_void_v<R>) {
            fn(stop);
          } else {
            this->value.emplace(fn(stop));
          }
        } else {
          if constexpr (std::is_void_v<R>) {
            fn();
          } else {
            this->value.emplace(fn());
          }
        }
      } catch (...) {
        // Delivered: rethrown to the awaiting task on the loop thread.
        this->error = std::current_exception();
      }
    }
    F fn;
  };

  friend class ThreadPool;
  void Interrupt() override {
    int queued = detail::ExecutorJob::kQueued;
    if (job_->state.compare_exchange_strong(queued, detail::ExecutorJob::kAbandoned)) {
      detail::LoopInternals::EndExternalWork(*job_->loop);
      job_->awaiter = nullptr;
      WakeCancelled();
    } else {
      job_->stop.request_stop();  // running: wait for it
    }
  }
  const char* WaitingOn() const override { return "executor"; }

  ThreadPool* pool_;
  std::shared_ptr<detail::ExecutorJob> job_;
};

namespace detail {
template <class F, bool = std::is_invocable_v<F&, std::stop_token>>
struct JobResult {
  using type = std::invoke_result_t<F&, std::stop_token>;
};
template <class F>
struct JobResult<F, false> {
  using type = std::invoke_result_t<F&>;
};
}  // namespace detail

// co_await RunInExecutor(pool, fn) -> fn's result. `fn` is moved to the pool thread; it may take
// a std::stop_token. Loop thread, inside a task.
template <class F>
auto RunInExecutor(ThreadPool& pool, F fn) {
  using R = typename detail::JobResult<F>::type;
  return ExecutorAwaiter<R>(pool, std::move(fn));
}

}  // namespace mandrill::runtime
