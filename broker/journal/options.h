#pragma once
// Everything an operator or a test can tune about the journal, with the defaults, in one place
// (as nsqd's options.go does). Validated by ValidateOptions before anything touches the disk.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/core/clock.h"
#include "shared/core/result.h"

namespace mandrill::broker::journal {

class Fs;

// When a record counts as durable (what a publish confirm waits for).
struct FsyncPolicy {
  enum class Mode {
    kAlways,    // after the fdatasync covering it (group commit). Survives power loss.
    kInterval,  // after the write; synced every `interval`. Survives a process crash; a power
                // loss can lose up to `interval` of confirmed records.
    kNever,     // after the write; never synced. Unsafe: for benchmarks only.
  };
  Mode mode = Mode::kAlways;
  std::chrono::milliseconds interval{0};  // kInterval only, > 0

  std::string ToString() const;  // "always", "interval:5", "never"
  bool operator==(const FsyncPolicy&) const = default;
};

// Parses "always", "never" or "interval:MS" (MS a positive integer number of milliseconds; a
// unit suffix as in "interval:250ms" or "interval:1s" is accepted too). The error says what was
// wrong and lists the accepted forms.
core::Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text);

struct JournalOptions {
  // Directory holding the segments and the LOCK file; created if missing.
  std::string data_dir;
  FsyncPolicy fsync;
  // A segment is closed and a new one started when the next write would take it past this size
  // (a single write larger than this still goes into one segment).
  std::uint64_t segment_bytes = 64ull << 20;
  // Settled message ids published within this window before now are returned by Recover() for
  // deduplication and kept on disk (carried forward by compaction) until they leave it.
  std::chrono::milliseconds dedup_window = std::chrono::minutes(10);
  // The oldest segment is compacted (its live records rewritten at the head, then the segment
  // deleted) when its live fraction falls below this, or when the live fraction of all closed
  // segments together does. In (0, 1]; 0 disables compaction.
  double compaction_threshold = 0.5;
  // Compaction reads at most this many bytes of the old segment per writer-thread pass, so
  // that commits queued meanwhile wait at most one slice.
  std::size_t compaction_slice_bytes = 1u << 20;
  // Reserve disk space (fallocate) for each segment and for one settling record (ack/purge)
  // per live message, so that acks still succeed on a full disk (beanstalkd's trick).
  bool reserve_space = true;
  // Wall clock for published/dedup decisions. Read on the reactor thread only (Recover, Commit).
  // nullptr: the system clock. Must outlive the journal.
  const core::Clock* clock = nullptr;
  // File system seam. nullptr: the real one (PosixFs()). Must outlive the journal.
  Fs* fs = nullptr;
};

core::Status ValidateOptions(const JournalOptions& options);

}  // namespace mandrill::broker::journal
