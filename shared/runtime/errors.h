// Exception types of the runtime and DescribeException.
//
// Cancelled deliberately does NOT derive from std::exception: `catch (const std::exception&)` in
// handler code can never swallow a cancellation. Everything else is an ordinary std::exception.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace mandrill::runtime {

// Raised at an await point inside a cancelled CancelScope. Catch it only to clean up, then
// rethrow; a swallowed Cancelled is raised again at the task's next await (level-triggered).
class Cancelled final {
 public:
  const char* what() const noexcept { return "mandrill::runtime::Cancelled"; }
};

// Raised by Timeout()/TimeoutAt() when that call's own deadline expired.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised by Loop::Post/Submit when the loop has finished (or is finishing) and will never run
// the callback.
class LoopClosed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a Submit() future carries when its task was cancelled before producing a result. (The
// Cancelled type itself never leaves the loop thread.)
class TaskCancelledError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised by Supervisor::Join when the supervisor escalated (restart intensity exceeded).
// cause() is the failure that tipped it over.
class SupervisorFailed : public std::runtime_error {
 public:
  SupervisorFailed(const std::string& what, std::exception_ptr cause)
      : std::runtime_error(what), cause_(std::move(cause)) {}
  const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  std::exception_ptr cause_;
};

// One line describing an exception for logs: the what() of a std::exception, "Cancelled", or
// "unknown exception type". Never throws.
std::string DescribeException(const std::exception_ptr& error) noexcept;

// True if `error` holds a Cancelled.
bool IsCancelled(const std::exception_ptr& error) noexcept;

}  // namespace mandrill::runtime
