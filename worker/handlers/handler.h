#pragma once
// The handler API: what a C++ engineer writes to process Mandrill messages (docs/handlers.md).
//
//   class Resize final : public Handler {
//    public:
//     runtime::Task<void> Handle(const Message& msg, Context& ctx) override {
//       auto work = [payload = std::string(msg.payload)] { return Shrink(payload); };
//       std::string thumb = co_await ctx.RunInExecutor(std::move(work));   // blocking: off-loop
//       ctx.Spawn("upload", Upload(std::move(thumb)));                     // runs concurrently
//       co_return;   // returning = success: ACK once the spawned sub-tasks finished too
//     }
//   };
//
// The runtime does the rest: the lease is extended while the handler runs; returning acks;
// throwing nacks with the exception's text and an attempt-based retry delay; running past
// --handler-timeout cancels it and nacks "timeout"; a lost lease cancels it and sends nothing; a
// shutdown lets it finish within the grace period, then cancels it and nacks it for immediate
// redelivery. Handlers must be idempotent: a message can be delivered more than once.
//
// Threading and lifetime: Handle runs on the loop thread. `msg` and `ctx` stay valid until the
// handler's task ends, including the sub-tasks it spawned (they live in the message task's
// frame, which awaits both). Never block the loop: use co_await (Sleep, WaitReadable, ...) or
// ctx.RunInExecutor for blocking calls. Cancellation arrives at await points as
// runtime::Cancelled (not a std::exception): clean up and let it propagate.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "shared/protocol/messages.h"
#include "shared/runtime/runtime.h"

namespace mandrill::worker {

// One delivery, as a handler sees it. Views into the delivery owned by the message task.
struct Message {
  std::string_view id;       // stable across redeliveries (the publisher's id)
  std::string_view queue;
  std::string_view payload;
  std::uint32_t attempt = 1;  // 1 on first delivery
  const protocol::Headers* headers = nullptr;

  // The first header named `name`, or empty.
  std::string_view Header(std::string_view name) const {
    if (headers == nullptr) return {};
    for (const auto& [k, v] : *headers) {
      if (k == name) return v;
    }
    return {};
  }
};

class Context {
 public:
  // Built by the worker for each message (loop thread).
  Context(const Message& message, runtime::ThreadPool* executor, runtime::TaskGroup* children,
          runtime::TimePoint deadline)
      : message_(message), executor_(executor), children_(children), deadline_(deadline) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Message& message() const { return message_; }

  // Logs through the worker's logger with the message's "queue/id#attempt" in front.
  template <class... Args>
  void Log(spdlog::level::level_enum level, fmt::format_string<Args...> format, Args&&... args) {
    if (!spdlog::should_log(level)) return;
    spdlog::log(level, "[{}] {}", tag(), fmt::format(format, std::forward<Args>(args)...));
  }
  template <class... Args>
  void Debug(fmt::format_string<Args...> f, Args&&... a) {
    Log(spdlog::level::debug, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void Info(fmt::format_string<Args...> f, Args&&... a) {
    Log(spdlog::level::info, f, std::forward<Args>(a)...);
  }
  template <class... Args>
  void Warn(fmt::format_string<Args...> f, Args&&... a) {
    Log(spdlog::level::warn, f, std::forward<Args>(a)...);
  }
  // "queue/id#attempt", built on first use.
  const std::string& tag() const {
    if (tag_.empty()) {
      tag_ = std::string(message_.queue) + "/" + std::string(message_.id) + "#" +
             std::to_string(message_.attempt);
    }
    return tag_;
  }

  // True if the handler's next await will raise runtime::Cancelled (timeout, lost lease,
  // shutdown): for loops that want to stop between steps of synchronous work.
  bool cancel_requested() const { return runtime::CancelRequested(); }
  // When --handler-timeout cancels this handler (loop clock).
  runtime::TimePoint deadline() const { return deadline_; }

  // co_await ctx.RunInExecutor(fn): runs fn on the worker's executor pool (threads exec-N) and
  // resumes with its value or exception. Bind a capturing lambda to a named local first (GCC 12
  // rule, docs/runtime.md). A running job is not interrupted by cancellation: the await waits
  // for it (fn may take a std::stop_token to notice), so fn may refer to the handler's frame.
  template <class F>
  auto RunInExecutor(F fn) {
    return runtime::RunInExecutor(*executor_, std::move(fn));
  }
  runtime::ThreadPool& executor() { return *executor_; }

  // Starts a sub-task that runs concurrently with the rest of the handler. The message's outcome
  // waits for every sub-task; the first one to fail cancels the others and fails the message
  // (NACK with its text); a timeout or lost lease cancels them all. Returns the task's handle.
  runtime::TaskHandle Spawn(std::string name, runtime::Task<void> task) {
    return children_->Spawn(std::move(name), std::move(task));
  }

 private:
  const Message& message_;
  runtime::ThreadPool* executor_;
  runtime::TaskGroup* children_;
  runtime::TimePoint deadline_;
  mutable std::string tag_;
};

// What a handler gets once at start-up (loop thread).
struct HandlerEnv {
  // Long-lived helper tasks (e.g. a batching writer) go here; they are stopped after the last
  // message ended and Handler::Stop ran.
  runtime::Supervisor* services = nullptr;
  runtime::ThreadPool* executor = nullptr;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Before the first message (loop thread, inside a task). A failure stops the worker.
  virtual runtime::Task<void> Start(HandlerEnv env);
  // After the last message task ended (loop thread). Flush what is buffered.
  virtual runtime::Task<void> Stop();
  // Processes one message; see the contract at the top of this file.
  virtual runtime::Task<void> Handle(const Message& msg, Context& ctx) = 0;
};

}  // namespace mandrill::worker
