#pragma once
// Replay: rebuilds what survived from the segments in a data dir.
//
// Segments are read oldest first and their records applied in file order; the latest record
// about a seq wins:
//   publish       a new seq becomes live and ready (a publish of a seq already seen is a
//                 compaction copy: it only moves the seq's location)
//   deliver       attempts = attempt; ready again (leases are not stored)
//   nack          attempts = attempt; deferred until not_before; last error = reason
//   dead-letter   attempts; dead; last error = reason; dead_at
//   requeue       attempts = 0; ready
//   state         replaces the whole state (written by compaction)
//   ack, purge    settled: gone, its id kept if settled within the dedup window (the settle
//                 time is in the record; records of older brokers: the publish time)
//   settled-id    a settled id carried forward by compaction
// Records about a seq that is unknown or already settled are ignored: their publish was in a
// segment deleted after the seq settled (or moved forward by compaction, which then also wrote
// its state). Damaged bytes are reported (file, offset, length) and skipped; a damaged tail of
// the last segment (a torn write) is cut off with a warning. Only I/O errors and segments of a
// newer format version stop recovery.
//
// Speed: each segment is mapped (or read whole) once and decoded in place; replay keeps a flat
// slot per message pointing into those bytes (replayer.h), and the messages are handed to the
// broker as views straight from them (RecoveryResult::Emit).
//
// Thread: the reactor thread, before the writer starts.
#include <cstdint>
#include <memory>
#include <vector>

#include "broker/journal/io.h"
#include "broker/journal/live_set.h"
#include "broker/journal/options.h"
#include "broker/journal/segment_set.h"
#include "broker/journal/stats.h"
#include "broker/storage.h"

namespace mandrill::broker::journal {

class Replayer;

struct RecoveryResult {
  RecoveryResult();
  ~RecoveryResult();
  RecoveryResult(RecoveryResult&&) noexcept;
  RecoveryResult& operator=(RecoveryResult&&) noexcept;

  std::unique_ptr<SegmentSet> segments;  // every segment found, all closed; no head yet
  std::unique_ptr<LiveSet> live;         // the live messages and where they are
  std::uint64_t max_seq = 0;

  // Hands every live message (seq order), then every settled id still in the dedup window,
  // to the sink as views into the segment bytes; then releases those bytes. Call once.
  void Emit(RecoverySink& sink);

  // The segment bytes (mapped files, or copies where mapping is not possible) and the replay
  // bookkeeping that points into them.
  struct Bytes {
    std::unique_ptr<ReadableFile> file;
    ByteBuffer copy;
  };
  std::vector<Bytes> bytes;
  std::unique_ptr<Replayer> replayer;
};

// Replays options.data_dir (which must exist). now_ms: the wall clock, for the dedup window.
core::Result<RecoveryResult> RecoverSegments(Fs* fs, const JournalOptions& options,
                                             std::int64_t now_ms, JournalStats* stats);

}  // namespace mandrill::broker::journal
