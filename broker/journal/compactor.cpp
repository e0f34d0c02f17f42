#include "broker/journal/compactor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "broker/journal/format.h"
#include "broker/journal/record_codec.h"
#include "broker/journal/record_scanner.h"

namespace mandrill::broker::journal {

namespace {
constexpr auto kRetryAfterFailure = std::chrono::seconds(1);
}

Compactor::Compactor(Fs* fs, const JournalOptions& options, SegmentSet* segments, LiveSet* live,
                     JournalStats* stats)
    : fs_(fs), options_(options), segments_(segments), live_(live), stats_(stats) {}

void Compactor::Start(const SegmentInfo& seg) {
  auto file = fs_->OpenReadable(seg.path);
  if (!file.ok()) {
    JournalStats::Add(stats_->write_errors, 1);
    spdlog::error("journal: cannot compact {}: {}", seg.path, file.error().message);
    retry_after_ = std::chrono::steady_clock::now() + kRetryAfterFailure;
    return;
  }
  file_ = std::move(*file);
  number_ = seg.number;
  read_pos_ = buf_base_ = kSegmentHeaderBytes;
  buf_.Clear();
  out_.Clear();
  pending_.clear();
  moved_.clear();
  copied_bytes_ = 0;
  sync_failures_at_start_ = segments_->sync_failures();
  started_ = std::chrono::steady_clock::now();
  spdlog::debug("journal: compacting {} ({} bytes, {} live, {:.0f}% needed)", seg.path, seg.bytes,
                seg.live_count,
                seg.bytes == 0
                    ? 0.0
                    : 100.0 * static_cast<double>(seg.live_bytes) / static_cast<double>(seg.bytes));
}

void Compactor::Abandon(const char* why, bool failure) {
  if (!active()) return;
  file_.reset();
  pending_.clear();
  moved_.clear();
  out_.Clear();
  if (!failure) {
    spdlog::debug("journal: compaction of segment {} stopped: {}", number_, why);
    return;
  }
  spdlog::warn("journal: compaction of segment {} abandoned ({}); will retry", number_, why);
  retry_after_ = std::chrono::steady_clock::now() + kRetryAfterFailure;
}

void Compactor::Step(std::int64_t now_ms, std::uint64_t base_seq) {
  if (!active()) return;
  // Read the next slice.
  const std::uint64_t size = file_->Size();
  if (read_pos_ < size) {
    const std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>(options_.compaction_slice_bytes, size - read_pos_));
    const std::size_t old = buf_.size();
    auto got = file_->ReadAt(read_pos_, n, buf_.Extend(n));
    if (!got.ok()) {
      JournalStats::Add(stats_->write_errors, 1);
      spdlog::error("journal: compaction read failed: {}", got.error().message);
      Abandon("read error");
      return;
    }
    buf_.Truncate(old + *got);
    read_pos_ += *got;
    if (*got < n) read_pos_ = size;  // the file is shorter than it was: treat as its end
  }
  const bool at_eof = read_pos_ >= size;
  // Handle every complete record in it.
  RecordScanner scanner(buf_.view(), buf_base_, at_eof);
  ScannedRecord rec;
  CorruptRegion bad;
  for (;;) {
    const auto step = scanner.Next(&rec, &bad);
    if (step == RecordScanner::Step::kRecord) {
      Handle(rec.type, rec.body, rec.framed, now_ms);
      continue;
    }
    if (step == RecordScanner::Step::kCorrupt) continue;  // reported at recovery already
    break;                                                // kNeedMore or kEnd
  }
  // Keep only the unconsumed tail.
  const std::size_t consumed = static_cast<std::size_t>(scanner.position() - buf_base_);
  if (consumed > 0) {
    const std::size_t rest = buf_.size() - consumed;
    if (rest > 0) std::memmove(buf_.data(), buf_.data() + consumed, rest);
    buf_.Truncate(rest);
    buf_base_ += consumed;
  }
  if (!Flush(now_ms, base_seq)) return;
  if (at_eof) Finish();
}

void Compactor::Handle(std::uint8_t type, std::string_view body, std::string_view framed,
                       std::int64_t now_ms) {
  const std::int64_t window = options_.dedup_window.count();
  if (type == static_cast<std::uint8_t>(RecordType::kPublish)) {
    PublishView p;
    if (!DecodePublishView(body, &p)) return;
    const LiveSet::Entry* e = live_->Find(p.seq);
    if (e != nullptr) {
      if (e->segment != number_) return;  // a stale copy: the latest one is elsewhere
      const std::size_t start = out_.size();
      out_.Append(framed);  // verbatim: its checksums are still valid
      if (!live_->IsPristine(p.seq)) {
        const std::size_t at = out_.size();
        AppendFramed(live_->StateOf(p.seq), &out_);
        SealRecord(out_.data() + at);
      }
      pending_.push_back(Moved{p.seq, 0, static_cast<std::uint32_t>(out_.size() - start),
                               e->id_bytes, p.published_unix_ms, false});
      return;
    }
    // Settled. Its own settle time is in an ack or purge record elsewhere; the segment's
    // newest window start is at or after it, so the id is kept at least as long as it must be.
    const SegmentInfo* held = segments_->Find(number_);
    const std::int64_t since = held != nullptr ? held->ids_window_start_unix_ms : now_ms;
    if (!InDedupWindow(since, now_ms, window)) return;  // settled, expired
    SettledIdRecord id{p.seq, std::string(p.queue), std::string(p.id), p.published_unix_ms, since};
    const std::size_t at = out_.size();
    AppendFramed(id, &out_);
    SealRecord(out_.data() + at);
    const auto bytes = static_cast<std::uint32_t>(out_.size() - at);
    pending_.push_back(Moved{p.seq, 0, bytes, bytes, since, true});
    return;
  }
  if (type == static_cast<std::uint8_t>(RecordType::kSettledId)) {
    DiskRecord r;
    if (!DecodeBody(type, body, &r)) return;
    const auto& id = std::get<SettledIdRecord>(r);
    if (live_->Find(id.seq) != nullptr) return;
    const std::int64_t since = WindowStart(id.settled_unix_ms, id.published_unix_ms);
    if (!InDedupWindow(since, now_ms, window)) return;
    out_.Append(framed);
    const auto bytes = static_cast<std::uint32_t>(framed.size());
    pending_.push_back(Moved{id.seq, 0, bytes, bytes, since, true});
  }
  // Every other record only describes state, which the copies carry.
}

bool Compactor::Flush(std::int64_t now_ms, std::uint64_t base_seq) {
  if (out_.empty()) return true;
  const std::uint64_t reserve =
      options_.reserve_space ? live_->size() * std::uint64_t{kMaxSettleRecordBytes} : 0;
  auto space = segments_->Prepare(out_.size(), reserve, base_seq, now_ms);
  if (!space.ok() || *space != SegmentSet::Space::kOk) {
    Abandon(space.ok() ? "disk full" : "no usable segment");
    out_.Clear();
    return false;
  }
  struct iovec iov {
    out_.data(), out_.size()
  };
  if (auto s = segments_->Append(&iov, 1); !s.ok()) {
    spdlog::error("journal: compaction write failed: {}", s.message());
    out_.Clear();
    Abandon("write error");
    return false;
  }
  const std::uint64_t target = segments_->head().number;
  for (auto& m : pending_) {
    m.to_segment = target;
    moved_.push_back(m);
  }
  copied_bytes_ += out_.size();
  pending_.clear();
  out_.Clear();
  return true;
}

void Compactor::Finish() {
  // The copies must be on disk before the segment they replace goes.
  if (options_.fsync.mode != FsyncPolicy::Mode::kNever && segments_->head_unsynced()) {
    if (auto s = segments_->Sync(); !s.ok()) {
      spdlog::error("journal: compaction sync failed: {}", s.message());
    }
  }
  if (segments_->sync_failures() != sync_failures_at_start_) {
    Abandon("a sync failed while copying");
    return;
  }
  SegmentInfo* old = segments_->Find(number_);
  std::uint64_t messages = 0, ids = 0;
  for (const Moved& m : moved_) {
    SegmentInfo* to = segments_->Find(m.to_segment);
    if (to == nullptr || old == nullptr) continue;
    to->ids_window_start_unix_ms = std::max(to->ids_window_start_unix_ms, m.window_start_unix_ms);
    const LiveSet::Entry* e = m.id_only ? nullptr : live_->Find(m.seq);
    if (e != nullptr && e->segment == number_) {
      live_->Moved(m.seq, to, m.bytes);
      ++messages;
    } else if (e == nullptr) {
      // A settled id now held by the copy (settled before the run, or during it: then its
      // settle raised the old segment's window start, which the copy inherits).
      to->id_count += 1;
      to->id_bytes += m.id_bytes;
      to->ids_window_start_unix_ms =
          std::max(to->ids_window_start_unix_ms, old->ids_window_start_unix_ms);
      ++ids;
    }
  }
  if (old != nullptr) {
    // Everything still needed from the old segment has been carried forward.
    old->id_count = 0;
    old->id_bytes = 0;
    if (old->live_count != 0) {
      // Only possible if the segment changed on disk since it was read (its publish records
      // are gone); do not spin on it.
      spdlog::error("journal: segment {} still counts {} live messages after compaction", number_,
                    old->live_count);
      retry_after_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
  spdlog::info(
      "journal: compacted segment {}: carried {} live messages and {} ids ({} bytes) "
      "forward in {} ms",
      number_, messages, ids, copied_bytes_, ms);
  JournalStats::Add(stats_->compactions, 1);
  JournalStats::Add(stats_->compacted_bytes, static_cast<std::int64_t>(copied_bytes_));
  file_.reset();
  moved_.clear();
}

}  // namespace mandrill::broker::journal
