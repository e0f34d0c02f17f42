#pragma once
// The journal writer thread ("journal"): group commit, liveness, segment maintenance.
//
// Each pass takes every batch the reactor committed since the last pass, fills in their
// checksums, writes them with one write() and (fsync=always) makes them durable with one
// fdatasync, then reports the new durable watermark, waking the reactor only when the pass held
// something it waits on (a publish, an operator's requeue or purge) or failed. Under
// fsync=always a pass of deliveries, acks and nacks alone is written but not synced: it rides on
// the next publish's sync, or is synced within 100 ms (a lost ack is a redelivery, which
// at-least-once allows; a publish confirm never waits on anything but its own sync). Between passes it
// deletes segments nothing needs any more and advances compaction by one slice.
//
// Failure handling: a failed write or sync fails every ticket of the pass (reported in
// StorageProgress::failures, never as durable); the head is cut back to the last good record
// (or abandoned for a new segment if that fails too) and the next pass tries again. When no
// more disk space can be reserved, only acks and purges are written, into the space reserved
// for them, and everything else fails with "disk full".
//
// Thread: Run() on the writer thread; constructed on the reactor thread before it starts.
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "broker/journal/batch.h"
#include "broker/journal/compactor.h"
#include "broker/journal/handoff.h"
#include "broker/journal/live_set.h"
#include "broker/journal/options.h"
#include "broker/journal/segment_set.h"
#include "broker/journal/stats.h"

namespace mandrill::broker::journal {

class Writer {
 public:
  // Takes over the segments and live set that recovery built (the head must be open).
  Writer(const JournalOptions& options, Fs* fs, Handoff* handoff, JournalStats* stats,
         std::unique_ptr<SegmentSet> segments, std::unique_ptr<LiveSet> live, std::uint64_t max_seq,
         std::int64_t now_ms);
  ~Writer();

  // The thread body: returns after Handoff::RequestStop() once everything queued is written.
  void Run();
  // After Run() returned: the result of the final sync.
  const core::Status& final_status() const { return final_status_; }

 private:
  void Pass(std::vector<Batch>& batches);
  void WriteReserveOnly(std::vector<Batch>& batches, std::vector<StorageProgress::Failure>* f);
  void Apply(const Batch& batch, const std::vector<bool>* written);
  // fsync=interval: every `interval`; fsync=always: the unawaited records' bound.
  void MaybeDeferredSync();
  // The head holds written bytes a deferred sync is still to cover.
  bool SyncPending() const { return segments_->head_unsynced() && !deferred_sync_failed_; }
  // Deletes and compacts; true when there is more to do right away.
  bool Maintain();
  void DeleteUnneeded();
  bool ShouldCompact(const SegmentInfo& oldest) const;
  std::uint64_t SettleReserve() const;

  const JournalOptions& options_;
  Handoff* handoff_;
  JournalStats* stats_;
  std::unique_ptr<SegmentSet> segments_;
  std::unique_ptr<LiveSet> live_;
  Compactor compactor_;
  std::uint64_t max_seq_;
  std::int64_t now_ms_;
  std::chrono::steady_clock::time_point next_sync_{};
  std::chrono::steady_clock::time_point delete_retry_after_{};
  std::chrono::steady_clock::time_point last_disk_full_log_{};
  core::Status final_status_;
  bool deferred_sync_failed_ = false;
};

}  // namespace mandrill::broker::journal
