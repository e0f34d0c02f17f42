#include "shared/runtime/exit_stack.h"

#include <spdlog/spdlog.h>

#include <cassert>

#include "shared/runtime/timeout.h"

namespace mandrill::runtime {

ExitStack::ExitStack(std::string name, Duration stop_budget)
    : name_(std::move(name)), stop_budget_(stop_budget) {}

ExitStack::~ExitStack() {
  if (!entries_.empty()) {
    spdlog::error("exit stack '{}' destroyed with {} component(s) never stopped (Close was not "
                  "awaited)",
                  name_, entries_.size());
    assert(false && "ExitStack destroyed without Close");
  }
}

Task<void> ExitStack::Enter(std::string name, Task<void> start, Task<void> stop) {
  return EnterImpl(this, std::move(name), std::move(start), std::move(stop));
}

Task<void> ExitStack::EnterImpl(ExitStack* self, std::string name, Task<void> start,
                                Task<void> stop) {
  co_await std::move(start);
  self->entries_.push_back(Entry{std::move(name), std::move(stop)});
}

void ExitStack::Push(std::string name, Task<void> stop) {
  entries_.push_back(Entry{std::move(name), std::move(stop)});
}

Task<void> ExitStack::Close() { return CloseImpl(this).NotACheckpoint(); }

Task<void> ExitStack::CloseImpl(ExitStack* self) {
  std::exception_ptr first_error;
  while (!self->entries_.empty()) {
    Entry entry = std::move(self->entries_.back());
    self->entries_.pop_back();
    std::exception_ptr error;
    try {
      co_await Shielded(self->stop_budget_, std::move(entry.stop));
    } catch (const std::exception&) {
      error = std::current_exception();
    } catch (const Cancelled&) {
      error = std::current_exception();
    }
    if (error) {
      spdlog::error("exit stack '{}': stopping '{}' failed: {}", self->name_, entry.name,
                    DescribeException(error));
      if (!first_error) first_error = error;
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace mandrill::runtime
