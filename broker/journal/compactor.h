#pragma once
// Moves what is still needed out of the oldest segment so it can be deleted: a few long-lived
// messages must not pin gigabytes of settled ones.
//
// A run reads the oldest closed segment S in slices (compaction_slice_bytes per Step, on the
// writer thread between batches, so a commit waits at most one slice) and appends at the head:
//   - for each live message whose latest publish copy is in S: the publish record, byte for
//     byte, followed by a state record with its current state when that is not just "ready,
//     never delivered";
//   - for each settled message whose id is still inside the dedup window: a settled-id record.
//     Its window start is the settle time when S held it as a settled-id record already, else
//     S's newest window start (the ack itself is in another record): never earlier than the
//     settle, at most S's time span later, so an id is kept at least a whole window.
// Stale copies, state records and everything settled and expired are left behind.
//
// Crash safety: nothing is deleted until the copies are synced. Until then a crash leaves both
// S and the copies; replay resolves the duplicates because the copies come later in the journal
// (a second publish of a known seq is ignored, a state record replaces the state, and anything
// about a settled seq stays settled). The liveness moves are applied only at the end of a
// successful run; a run that fails (write or sync error) is abandoned and retried later from the
// start, leaving harmless duplicates.
//
// Thread: the writer thread only.
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "broker/journal/byte_buffer.h"
#include "broker/journal/io.h"
#include "broker/journal/live_set.h"
#include "broker/journal/options.h"
#include "broker/journal/segment_set.h"
#include "broker/journal/stats.h"

namespace mandrill::broker::journal {

class Compactor {
 public:
  Compactor(Fs* fs, const JournalOptions& options, SegmentSet* segments, LiveSet* live,
            JournalStats* stats);

  bool active() const { return file_ != nullptr; }
  std::uint64_t segment() const { return number_; }

  // Starts a run over `seg`, which must be the oldest closed segment.
  void Start(const SegmentInfo& seg);
  // Processes one slice. `base_seq` is passed on to a roll of the head.
  void Step(std::int64_t now_ms, std::uint64_t base_seq);
  // Drops the current run (its copies stay on disk as duplicates). A run abandoned because of
  // a failure is retried after a pause; one that became pointless (`failure` false) is not.
  void Abandon(const char* why, bool failure = true);

  // Not before this time may a new run start (set after a failed run).
  std::chrono::steady_clock::time_point retry_after() const { return retry_after_; }

 private:
  struct Moved {
    std::uint64_t seq = 0;
    std::uint64_t to_segment = 0;
    std::uint32_t bytes = 0;
    std::uint32_t id_bytes = 0;
    std::int64_t window_start_unix_ms = 0;  // a live copy: its publish; an id: WindowStart
    bool id_only = false;  // a settled-id copy, not a live message
  };
  void Handle(std::uint8_t type, std::string_view body, std::string_view framed,
              std::int64_t now_ms);
  bool Flush(std::int64_t now_ms, std::uint64_t base_seq);
  void Finish();

  Fs* fs_;
  const JournalOptions& options_;
  SegmentSet* segments_;
  LiveSet* live_;
  JournalStats* stats_;

  std::unique_ptr<ReadableFile> file_;
  std::uint64_t number_ = 0;
  std::uint64_t read_pos_ = 0;  // next file offset to read
  std::uint64_t buf_base_ = 0;  // file offset of buf_[0]
  ByteBuffer buf_;              // unconsumed bytes read from S
  ByteBuffer out_;              // copies waiting to be appended at the head
  std::vector<Moved> pending_;  // entries of out_ (target segment set on flush)
  std::vector<Moved> moved_;    // flushed copies, applied to the live set at the end
  std::uint64_t sync_failures_at_start_ = 0;
  std::uint64_t copied_bytes_ = 0;
  std::chrono::steady_clock::time_point started_{};
  std::chrono::steady_clock::time_point retry_after_{};
};

}  // namespace mandrill::broker::journal
