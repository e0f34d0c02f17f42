#pragma once
// What the journal knows about one segment file: its size and how much of it is still needed.
// Owned by SegmentSet; updated by LiveSet on the writer thread (and by recovery before the
// writer starts).
#include <cstdint>
#include <limits>
#include <string>

namespace mandrill::broker::journal {

// True when an id whose dedup window started at `since_ms` (its settle; its publish when the
// settle time is unknown) is still inside the window. Written as a subtraction of trusted
// values: since_ms comes from disk and may be anything.
inline bool InDedupWindow(std::int64_t since_ms, std::int64_t now_ms, std::int64_t window_ms) {
  return since_ms >= now_ms - window_ms;  // now_ms and window_ms are sane (validated)
}
// Where an id's window starts: its settle, or (records of older brokers) its publish.
inline std::int64_t WindowStart(std::int64_t settled_ms, std::int64_t published_ms) {
  return settled_ms != 0 ? settled_ms : published_ms;
}

struct SegmentInfo {
  std::uint64_t number = 0;
  std::string path;
  std::uint64_t bytes = 0;                 // file length: header + whole records
  std::uint64_t live_count = 0;            // live messages whose latest publish copy is here
  std::uint64_t live_bytes = 0;            // bytes of those publish (and state) records
  std::uint64_t id_count = 0;              // settled messages whose id (for dedup) is held here
  std::uint64_t id_bytes = 0;              // what carrying those ids forward would cost
  // The newest window start (WindowStart) of the ids held here; publishes raise it too, which
  // only errs on the side of keeping ids longer.
  std::int64_t ids_window_start_unix_ms = 0;

  // The ids held here are needed while the newest of them is inside the dedup window.
  bool IdsExpired(std::int64_t now_ms, std::int64_t window_ms) const {
    return id_count == 0 || !InDedupWindow(ids_window_start_unix_ms, now_ms, window_ms);
  }
  // Bytes that compaction would have to carry forward.
  std::uint64_t NeededBytes(std::int64_t now_ms, std::int64_t window_ms) const {
    return live_bytes + (IdsExpired(now_ms, window_ms) ? 0 : id_bytes);
  }
  // Nothing in the segment is needed any more: it can be deleted once it is the oldest.
  bool Unneeded(std::int64_t now_ms, std::int64_t window_ms) const {
    return live_count == 0 && IdsExpired(now_ms, window_ms);
  }
};

}  // namespace mandrill::broker::journal
