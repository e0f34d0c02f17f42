#pragma once
// The broker's durable storage: a segmented, checksummed, append-only journal with group
// commit (see docs/journal.md for the format and the guarantees).
//
//   JournalOptions options;                 // options.h: data_dir, fsync, segment size, ...
//   options.data_dir = "/var/lib/mandrill";
//   std::unique_ptr<Storage> storage = OpenJournal(options);
//   auto max_seq = storage->Recover(sink);  // replays the data dir, starts the writer thread
//   Ticket t = storage->Append(PublishRecord{...});
//   storage->Commit();                      // end of a reactor pass
//   ... poll WakeFd(); storage->Poll() reports durable_upto >= t (or a failure) ...
//
// Threading: every method is called from the reactor thread (Storage's contract). The journal
// runs one thread of its own, the writer ("journal"), which does all disk I/O after Recover().
// Append() only serialises into a memory buffer; Commit() hands that buffer over under a lock
// held for a few pointer moves.
#include <chrono>
#include <memory>
#include <thread>

#include "broker/journal/batch.h"
#include "broker/journal/handoff.h"
#include "broker/journal/io.h"
#include "broker/journal/options.h"
#include "broker/journal/stats.h"
#include "broker/storage.h"

namespace mandrill::broker::journal {

class Writer;

class Journal final : public Storage {
 public:
  // Touches nothing on disk; Recover() validates the options and opens the data dir.
  explicit Journal(JournalOptions options);
  // Closes the journal if it is still open (logging a failed final sync).
  ~Journal() override;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Validates the options, creates the data dir if needed, locks it (the dir itself, and its
  // LOCK file) and advances its epoch (DIR/EPOCH, epoch_file.h), durably. Errors: bad options,
  // the dir is locked by another process, a corrupt epoch file, an I/O error. A second call
  // returns the same epoch.
  core::Result<std::uint64_t> Open() override;
  // Open()s if that was not done, then replays every segment and starts the writer thread
  // (which creates a head segment on the first write). Errors: those of Open, an I/O error, or
  // a segment of a newer format.
  core::Result<std::uint64_t> Recover(RecoverySink& sink) override;
  // Serialises the record into the current batch; returns its ticket. Never blocks on disk.
  // Before Recover() succeeded (or after Close()), the ticket is reported failed at Commit.
  Ticket Append(const Record& record) override;
  // Hands the current batch to the writer (an empty pass hands over nothing, except a clock
  // tick about once a second so that dedup expiry and segment deletion proceed when idle).
  void Commit() override;
  // Holds a batch without publishes or operators' records for up to kHold (or kHoldBytes): at
  // one ack per pass (credit 1) the writer would otherwise wake for every message.
  void CommitPass() override;
  std::optional<core::SteadyTime> HeldUntil() const override {
    if (!held_since_) return std::nullopt;
    return *held_since_ + kHold;
  }
  int WakeFd() const override { return handoff_.wake_fd(); }
  StorageProgress Poll() override { return handoff_.TakeProgress(); }
  // Commits what is pending, waits for the writer to write and sync everything (whatever the
  // fsync policy), stops it and releases the data dir. Returns the final sync's error, if any.
  // Idempotent. Poll() still reports the final progress afterwards.
  core::Status Close() override;
  protocol::Counters Stats() const override;
  std::optional<metrics::HistogramData> SyncLatency() const override {
    return stats_.sync_seconds.Read();
  }

  // Tests: blocks until the writer has handled every committed batch and finished any
  // compaction it started. False on timeout.
  bool WaitIdleForTest(std::chrono::milliseconds timeout) { return handoff_.WaitIdle(timeout); }

 private:
  enum class State { kNew, kOpen, kClosed };

  JournalOptions options_;
  core::SystemClock system_clock_;
  const core::Clock* clock_;
  Fs* fs_;
  JournalStats stats_;
  Handoff handoff_;
  State state_ = State::kNew;
  std::unique_ptr<FileLock> dir_lock_;  // flock on the data dir itself
  std::unique_ptr<FileLock> lock_;      // and on DIR/LOCK, which older brokers lock
  std::uint64_t epoch_ = 0;             // 0 until Open() succeeded
  std::unique_ptr<Writer> writer_;
  std::thread thread_;
  Batch batch_;  // being filled by Append
  Ticket next_ticket_ = 1;
  std::int64_t last_handoff_ms_ = 0;
  static constexpr std::chrono::milliseconds kHold{2};
  static constexpr std::size_t kHoldBytes = 256 * 1024;
  std::optional<core::SteadyTime> held_since_;  // the batch is held (CommitPass) since
};

// The factory the broker calls. Nothing touches the disk until Recover().
std::unique_ptr<Storage> OpenJournal(const JournalOptions& options);

}  // namespace mandrill::broker::journal
