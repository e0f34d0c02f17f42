#pragma once
// The meeting point of the reactor thread and the journal writer thread: the double-buffered
// batch queue going one way, durability progress coming back, and the eventfd that wakes the
// reactor when there is progress. The only lock between the two threads; it is held for a few
// pointer moves, never across I/O.
//
// Lock order: Handoff::mu_ is a leaf (nothing else is locked while it is held).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <vector>

#include "broker/journal/batch.h"
#include "broker/storage.h"
#include "shared/core/mutex.h"
#include "shared/core/result.h"

namespace mandrill::broker::journal {

class Handoff {
 public:
  Handoff();
  ~Handoff();
  Handoff(const Handoff&) = delete;
  Handoff& operator=(const Handoff&) = delete;

  // Status of the eventfd creation (checked by Recover()).
  const core::Status& init_status() const { return init_; }
  int wake_fd() const { return wake_fd_; }

  // ---- reactor thread ----
  // Queues *batch for the writer and leaves a recycled empty batch in its place.
  void Submit(Batch* batch) EXCLUDES(mu_);
  // Progress since the last call; drains the eventfd first so later progress wakes it again.
  // Cheap when there is none (two atomic loads, no lock, no syscall): the reactor calls it
  // every pass, which is how it learns of progress it was not woken for.
  StorageProgress TakeProgress() EXCLUDES(mu_);
  // Asks the writer to finish what is queued and exit.
  void RequestStop() EXCLUDES(mu_);
  // Tests: waits until the writer has written everything submitted and has no maintenance
  // left. False on timeout.
  bool WaitIdle(std::chrono::milliseconds timeout) EXCLUDES(mu_);

  // ---- writer thread ----
  // Moves the queued batches into *out (which must be empty). Blocks while there are none,
  // unless `block` is false, until `deadline` if given. Returns true when stop was requested
  // and nothing is queued.
  bool Take(std::vector<Batch>* out, bool block,
            std::optional<std::chrono::steady_clock::time_point> deadline) EXCLUDES(mu_);
  // Returns written batches for reuse (clears *done).
  void Recycle(std::vector<Batch>* done) EXCLUDES(mu_);
  // Publishes progress (durable_upto and failures, which it clears). Wakes the reactor when
  // `awaited` (it waits on some of those tickets) or on failures; otherwise the reactor picks
  // the progress up at its next pass: a wake-up per ack would cost it a pass per ack.
  void Report(Ticket durable_upto, std::vector<StorageProgress::Failure>* failures, bool awaited)
      EXCLUDES(mu_);
  // The writer has finished everything it took and has no maintenance left (unless more
  // batches were queued meanwhile).
  void SetIdle() EXCLUDES(mu_);

  // Failures found on the reactor thread (e.g. a record too large to journal).
  void ReportLocalFailure(StorageProgress::Failure failure) EXCLUDES(mu_);

 private:
  void Wake();

  core::Status init_;
  int wake_fd_ = -1;
  core::Mutex mu_;
  std::condition_variable writer_cv_;  // writer waits for batches
  std::condition_variable idle_cv_;    // tests wait for idleness
  std::vector<Batch> queue_ GUARDED_BY(mu_);
  std::vector<Batch> free_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  bool idle_ GUARDED_BY(mu_) = true;
  Ticket durable_upto_ GUARDED_BY(mu_) = 0;
  std::vector<StorageProgress::Failure> failures_ GUARDED_BY(mu_);
  // Set (under mu_) when durable_upto_ or failures_ changed; cleared by TakeProgress.
  std::atomic<bool> news_{false};
  // Set after the eventfd was written: TakeProgress reads the eventfd only then.
  std::atomic<bool> woken_{false};
  Ticket taken_upto_ = 0;  // reactor thread: durable_upto_ as of the last TakeProgress
};

}  // namespace mandrill::broker::journal
