#include "broker/journal/handoff.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "broker/journal/io.h"

namespace mandrill::broker::journal {

Handoff::Handoff() {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) init_ = OsError("eventfd", "(journal wake fd)", errno);
}

Handoff::~Handoff() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Handoff::Submit(Batch* batch) {
  {
    core::MutexLock lock(mu_);
    queue_.push_back(std::move(*batch));
    if (!free_.empty()) {
      *batch = std::move(free_.back());
      free_.pop_back();
    } else {
      *batch = Batch{};
    }
    idle_ = false;
  }
  batch->Clear();
  writer_cv_.notify_one();
}

StorageProgress Handoff::TakeProgress() {
  // The flag is set after the write, so a drained eventfd is never left readable with the flag
  // clear for longer than the writer takes between the two (the reactor's next poll catches it).
  if (wake_fd_ >= 0 && woken_.exchange(false, std::memory_order_acq_rel)) {
    std::uint64_t n;
    while (::read(wake_fd_, &n, sizeof(n)) < 0 && errno == EINTR) {
    }
  }
  StorageProgress p;
  if (!news_.exchange(false, std::memory_order_acq_rel)) {
    p.durable_upto = taken_upto_;
    return p;
  }
  core::MutexLock lock(mu_);
  p.durable_upto = durable_upto_;
  p.failures.swap(failures_);
  taken_upto_ = p.durable_upto;
  return p;
}

void Handoff::RequestStop() {
  {
    core::MutexLock lock(mu_);
    stop_ = true;
  }
  writer_cv_.notify_one();
}

bool Handoff::WaitIdle(std::chrono::milliseconds timeout) {
  core::MutexLock lock(mu_);
  return lock.WaitFor(idle_cv_, timeout,
                      [this]() REQUIRES(mu_) { return idle_ && queue_.empty(); });
}

bool Handoff::Take(std::vector<Batch>* out, bool block,
                   std::optional<std::chrono::steady_clock::time_point> deadline) {
  core::MutexLock lock(mu_);
  if (block) {
    const auto ready = [this]() REQUIRES(mu_) { return !queue_.empty() || stop_; };
    if (deadline) {
      lock.WaitUntil(writer_cv_, *deadline, ready);
    } else {
      lock.Wait(writer_cv_, ready);
    }
  }
  out->swap(queue_);
  if (!out->empty()) idle_ = false;
  return stop_ && out->empty();
}

void Handoff::Recycle(std::vector<Batch>* done) {
  core::MutexLock lock(mu_);
  // Keep enough batches to cover a writer that is a few passes behind; drop unusually large
  // buffers rather than holding their memory for ever.
  constexpr std::size_t kMaxPooled = 32;
  constexpr std::size_t kMaxPooledBytes = 4u << 20;
  for (auto& b : *done) {
    b.Clear();
    if (free_.size() < kMaxPooled && b.data.capacity() <= kMaxPooledBytes) {
      free_.push_back(std::move(b));
    }
  }
  done->clear();
}

void Handoff::Report(Ticket durable_upto, std::vector<StorageProgress::Failure>* failures,
                     bool awaited) {
  const bool wake = awaited || !failures->empty();
  {
    core::MutexLock lock(mu_);
    if (durable_upto > durable_upto_) durable_upto_ = durable_upto;
    for (auto& f : *failures) failures_.push_back(std::move(f));
    news_.store(true, std::memory_order_release);
  }
  failures->clear();
  if (wake) Wake();
}

void Handoff::SetIdle() {
  {
    core::MutexLock lock(mu_);
    if (!queue_.empty()) return;  // more work arrived: not idle after all
    idle_ = true;
  }
  idle_cv_.notify_all();
}

void Handoff::ReportLocalFailure(StorageProgress::Failure failure) {
  {
    core::MutexLock lock(mu_);
    failures_.push_back(std::move(failure));
    news_.store(true, std::memory_order_release);
  }
  Wake();
}

void Handoff::Wake() {
  if (wake_fd_ < 0) return;
  const std::uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  woken_.store(true, std::memory_order_release);
}

}  // namespace mandrill::broker::journal
