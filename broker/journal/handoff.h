#pragma once
// The meeting point of the reactor thread and the journal writer thread: the double-buffered
// batch queue going one way, durability progress coming back, and the eventfd that wakes the
// reactor when there is progress. The only lock between the two threads; it is held for a few
// pointer moves, never across I/O.
//
// Lock order: Handoff::mu_ is a leaf (nothing else is locked while it is held).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "broker/journal/batch.h"
#include "broker/storage.h"
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
  void Submit(Batch* batch);
  // Progress since the last call; drains the eventfd first so later progress wakes it again.
  StorageProgress TakeProgress();
  // Asks the writer to finish what is queued and exit.
  void RequestStop();
  // Tests: waits until the writer has written everything submitted and has no maintenance
  // left. False on timeout.
  bool WaitIdle(std::chrono::milliseconds timeout);

  // ---- writer thread ----
  // Moves the queued batches into *out (which must be empty). Blocks while there are none,
  // unless `block` is false, until `deadline` if given. Returns true when stop was requested
  // and nothing is queued.
  bool Take(std::vector<Batch>* out, bool block,
            std::optional<std::chrono::steady_clock::time_point> deadline);
  // Returns written batches for reuse (clears *done).
  void Recycle(std::vector<Batch>* done);
  // Publishes progress (durable_upto and failures, which it clears) and wakes the reactor.
  void Report(Ticket durable_upto, std::vector<StorageProgress::Failure>* failures);
  // The writer has finished everything it took and has no maintenance left (unless more
  // batches were queued meanwhile).
  void SetIdle();

  // Failures found on the reactor thread (e.g. a record too large to journal).
  void ReportLocalFailure(StorageProgress::Failure failure);

 private:
  void Wake();

  core::Status init_;
  int wake_fd_ = -1;
  std::mutex mu_;
  std::condition_variable writer_cv_;  // writer waits for batches
  std::condition_variable idle_cv_;    // tests wait for idleness
  std::vector<Batch> queue_;
  std::vector<Batch> free_;
  bool stop_ = false;
  bool idle_ = true;
  Ticket durable_upto_ = 0;
  std::vector<StorageProgress::Failure> failures_;
};

}  // namespace mandrill::broker::journal
