#pragma once
// LedgerWriter: group commit of ledger rows without blocking the loop.
//
// Message tasks call `co_await writer.Record(row)`; rows queue up in the current batch while the
// previous transaction commits, and one writer task commits each batch in ONE transaction on an
// executor thread (RunInExecutor), then wakes every task waiting on that batch. So under load
// a transaction carries many rows, and SQLite's fsyncs (synchronous=FULL: every commit is synced
// before Record returns) are shared the same way the broker's journal shares its fdatasyncs.
//
// Failure: a failed transaction fails every Record in its batch (std::runtime_error with
// SQLite's reason), so those messages are nacked and retried, never acked unrecorded. A Record
// whose task is cancelled while waiting still has its row committed with the batch: the row
// records an attempt that finished (its outcome was known before Record), even if the ack
// never leaves.
//
// Threading: loop thread only (the SQLite work happens on the pool). Start() once inside a task;
// Stop() commits what is queued and ends the writer; the writer must be stopped before it is
// destroyed. `pool` must outlive it.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

#include "shared/runtime/runtime.h"
#include "worker/ledger/ledger.h"

namespace mandrill::worker {

struct LedgerWriterStats {
  std::uint64_t rows = 0;     // committed
  std::uint64_t commits = 0;  // transactions
  std::uint64_t failed_rows = 0;
};

class LedgerWriter {
 public:
  LedgerWriter(std::unique_ptr<Ledger> ledger, runtime::ThreadPool& pool,
               std::size_t max_rows_per_commit = 4096);
  ~LedgerWriter();
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Starts the writer task under `services` (which must outlive Stop()).
  void Start(runtime::Supervisor& services);
  // Queues `row` and returns once the transaction holding it committed. Throws
  // std::runtime_error if it failed or the writer was stopped.
  runtime::Task<void> Record(LedgerRow row);
  // Commits what is queued, then ends the writer task. Idempotent.
  runtime::Task<void> Stop();

  const LedgerWriterStats& stats() const { return stats_; }

 private:
  struct Batch;
  static runtime::Task<void> WriterLoop(LedgerWriter* self);
  runtime::Task<void> CommitQueued();
  void FailQueued(const std::string& why);

  std::unique_ptr<Ledger> ledger_;
  runtime::ThreadPool& pool_;
  const std::size_t max_rows_;
  std::deque<std::shared_ptr<Batch>> queue_;  // not yet committing, oldest first
  runtime::Channel<int> wake_{1};
  runtime::TaskHandle writer_;
  bool stopped_ = false;
  LedgerWriterStats stats_;
};

}  // namespace mandrill::worker
