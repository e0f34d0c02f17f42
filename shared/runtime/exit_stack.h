// ExitStack: async start-up and shut-down of components (contextlib.AsyncExitStack).
//
// Components start in order and stop in reverse order — also when a later one fails to start,
// and also when the task is cancelled: stops run behind a shield with their own budget.
//
//   ExitStack stack("worker");
//   co_await stack.Run(StartAndServe(&stack, config));   // body Enters components, then serves
//
// Enter(name, start, stop): awaits `start`; only if it succeeds is `stop` pushed (a lazy Task:
// created now, run only at Close; dropped unstarted if `start` fails). Close() pops
// and awaits every stop, newest first; a failing stop is logged and the others still run; the
// first stop failure is rethrown after all ran (unless Run's body already failed: its error
// wins and the stop failure is only logged).
//
// Loop thread, inside a task. Must be closed (Run or Close) before it is destroyed.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "shared/core/clock.h"
#include "shared/runtime/errors.h"
#include "shared/runtime/task.h"

namespace mandrill::runtime {

class ExitStack {
 public:
  explicit ExitStack(std::string name = "exit-stack",
                     Duration stop_budget = std::chrono::seconds(30));
  ~ExitStack();
  ExitStack(const ExitStack&) = delete;
  ExitStack& operator=(const ExitStack&) = delete;

  Task<void> Enter(std::string name, Task<void> start, Task<void> stop);
  // A component with nothing to await at start.
  void Push(std::string name, Task<void> stop);
  // Not a cancellation checkpoint; each stop runs shielded within stop_budget.
  Task<void> Close();
  // Runs `body`, then Close() however the body ended.
  template <class T>
  Task<T> Run(Task<T> body);

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;
    Task<void> stop;
  };
  static Task<void> EnterImpl(ExitStack* self, std::string name, Task<void> start,
                              Task<void> stop);
  static Task<void> CloseImpl(ExitStack* self);

  std::string name_;
  Duration stop_budget_;
  std::vector<Entry> entries_;
};

namespace detail {
template <class T>
Task<T> RunThenClose(ExitStack* stack, Task<T> body) {
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
      value.emplace(true);
    } else {
      T v = co_await std::move(body);
      value.emplace(std::move(v));
    }
  } catch (const Cancelled&) {
    error = std::current_exception();  // rethrown below, after the stops ran
  } catch (...) {
    error = std::current_exception();  // rethrown below, after the stops ran
  }
  std::exception_ptr close_error;
  try {
    co_await stack->Close();
  } catch (const std::exception&) {
    close_error = std::current_exception();  // already logged by Close
  }
  if (error) std::rethrow_exception(error);
  if (close_error) std::rethrow_exception(close_error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}
}  // namespace detail

template <class T>
Task<T> ExitStack::Run(Task<T> body) {
  return detail::RunThenClose(this, std::move(body));
}

}  // namespace mandrill::runtime
