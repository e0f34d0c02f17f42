#pragma once
// The segment files of one data dir: the closed segments, oldest first, and the open head that
// all writes go to. The head is created on the first write (a start that fails, or a broker
// that writes nothing, leaves no file behind). Rolls the head at the size limit, reserves disk
// space (fallocate, a step at a time) so that settling records still fit on a full disk, gives
// unused reservations back when a segment is closed or an fallocate fails, keeps each file
// holding whole records only (a failed append is cut back), and deletes segments oldest-first.
//
// Why oldest-first only: a record in a newer segment (say an ack) may refer to a publish in an
// older one. Deleting the newer segment first would resurrect the message on replay; deleting
// the older one first only leaves records about seqs replay no longer knows, which it ignores.
// Live messages in the oldest segment are moved forward by compaction (compactor.h).
//
// Thread: the reactor thread during recovery, then the writer thread only.
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "broker/journal/io.h"
#include "broker/journal/options.h"
#include "broker/journal/segment_info.h"
#include "broker/journal/stats.h"

namespace mandrill::broker::journal {

class SegmentSet {
 public:
  SegmentSet(Fs* fs, const JournalOptions& options, JournalStats* stats);
  ~SegmentSet();
  SegmentSet(const SegmentSet&) = delete;
  SegmentSet& operator=(const SegmentSet&) = delete;

  // Recovery: registers an existing segment (closed; never written again).
  SegmentInfo* AddClosed(std::uint64_t number, const std::string& path, std::uint64_t bytes);
  // Creates a new head numbered after every known segment, with its header, and makes its
  // directory entry durable. The previous head (if any) is synced (unless fsync=never) and
  // closed. `reserve` extra bytes are allocated beyond the segment size for settle records.
  // `must`: there is no usable head otherwise, so a disk too full to preallocate the segment
  // still gets one, unreserved (acks may yet fit); otherwise such a roll fails and the caller
  // keeps writing to the current head, whose reserve is intact.
  core::Status Roll(std::uint64_t base_seq, std::int64_t now_ms, std::uint64_t reserve,
                    bool must = false);

  SegmentInfo* Find(std::uint64_t number);
  bool has_head() const { return head_ != nullptr; }
  SegmentInfo& head() { return *head_; }

  enum class Space { kOk, kReserveOnly };
  // Readies the head for `bytes` more: rolls when they would take it past the segment size (or
  // the head is broken), and with reserve_space makes sure bytes + reserve are allocated.
  // kReserveOnly: no more space could be reserved (disk full); only settle records, which the
  // reserve is for, should be written. An Error means there is no usable head at all.
  core::Result<Space> Prepare(std::uint64_t bytes, std::uint64_t reserve, std::uint64_t base_seq,
                              std::int64_t now_ms);
  // Appends to the head. On failure the head is cut back to its previous length so that it
  // holds whole records only; if even that fails it is marked broken and Prepare rolls.
  core::Status Append(const struct iovec* iov, int count);
  // fdatasync of the head; counted and timed in the stats. A failure increments
  // sync_failures(), which compaction checks before trusting what it copied.
  core::Status Sync();
  bool head_unsynced() const { return head_ != nullptr && head_->bytes > synced_bytes_; }
  // After a failed sync: drops the head's unsynced bytes beyond `size` (or marks it broken).
  void CutHead(std::uint64_t size);
  // The head can no longer be trusted (a sync of already reported data failed): the next
  // Prepare starts a new segment.
  void RetireHead() { broken_ = true; }
  std::uint64_t sync_failures() const { return sync_failures_; }

  // The oldest segment other than the head; nullptr if there is none.
  SegmentInfo* OldestClosed();
  // Unlinks the oldest closed segment and forgets it.
  core::Status DeleteOldest();

  const std::map<std::uint64_t, SegmentInfo>& segments() const { return segments_; }
  std::uint64_t total_bytes() const;
  // Updates the segments / bytes / live_permille figures.
  void PublishStats(std::int64_t now_ms, std::int64_t window_ms, std::int64_t live_messages);

  // Syncs (whatever the fsync policy: this is a clean shutdown) and closes the head.
  core::Status Close();
  // Cuts every closed segment at its length, giving back space preallocated past it.
  void ReleaseClosedSpace();

 private:
  // Closes the head file, giving back its unused preallocation (made durable unless
  // fsync=never). The head is then gone until the next Roll.
  void CloseHead();
  core::Status Reserve(std::uint64_t end);
  bool syncs_enabled() const { return options_.fsync.mode != FsyncPolicy::Mode::kNever; }

  Fs* fs_;
  const JournalOptions& options_;
  JournalStats* stats_;
  std::map<std::uint64_t, SegmentInfo> segments_;
  SegmentInfo* head_ = nullptr;
  std::unique_ptr<WritableFile> head_file_;
  std::uint64_t synced_bytes_ = 0;
  std::uint64_t allocated_end_ = 0;
  bool broken_ = false;
  std::uint64_t sync_failures_ = 0;
  std::chrono::steady_clock::time_point roll_retry_after_{};
  std::chrono::steady_clock::time_point roll_log_after_{};
};

}  // namespace mandrill::broker::journal
