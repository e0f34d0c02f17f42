#include "broker/journal/recovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>
#include <utility>

#include "broker/journal/format.h"
#include "broker/journal/record_codec.h"
#include "broker/journal/record_scanner.h"
#include "broker/journal/seq_table.h"

namespace mandrill::broker::journal {

namespace {

constexpr std::uint32_t kSettled = std::numeric_limits<std::uint32_t>::max();
constexpr int kDetailedReports = 20;  // then only counted, and summarised at the end
constexpr std::uint64_t kTypicalPublishBytes = 128;

using State = RecoveredMessage::State;

// Applies records in file order. Slots hold messages in order of first publish; index_ maps a
// seq to its slot + 1, or kSettled once settled (so a later copy cannot resurrect it).
class Replayer {
 public:
  Replayer(const JournalOptions& options, std::int64_t now_ms, JournalStats* stats)
      : window_ms_(options.dedup_window.count()), now_ms_(now_ms), stats_(stats) {}

  void Apply(const ScannedRecord& rec, SegmentInfo* seg) {
    if (rec.type == 0 || rec.type > kMaxKnownRecordType) {
      if (unknown_types_.insert(rec.type).second) {
        spdlog::warn(
            "journal: {}: skipping records of unknown type {} (first at offset {}); "
            "written by a newer broker?",
            seg->path, rec.type, rec.offset);
      }
      return;
    }
    if (!DecodeBody(rec.type, rec.body, &record_)) {
      Corrupt(seg->path, rec.offset, rec.framed.size(),
              std::string("undecodable ") + RecordTypeName(rec.type) + " record");
      return;
    }
    ++records_;
    const std::uint64_t seq = SeqOf(record_);
    if (seq > max_seq_) max_seq_ = seq;
    const auto bytes = static_cast<std::uint32_t>(rec.framed.size());
    std::visit([&](auto& r) { On(r, seg, bytes); }, record_);
  }

  void Corrupt(const std::string& path, std::uint64_t offset, std::uint64_t length,
               const std::string& what) {
    JournalStats::Add(stats_->recovery_corrupt_regions, 1);
    JournalStats::Add(stats_->recovery_corrupt_bytes, static_cast<std::int64_t>(length));
    if (++corrupt_reports_ <= kDetailedReports) {
      spdlog::warn("journal: {}: {} at offset {} ({} bytes) skipped", path, what, offset, length);
    }
  }

  void NoteBaseSeq(std::uint64_t base) { max_seq_ = std::max(max_seq_, base); }
  // Sizes the message arrays once (growing a vector of a million messages copies it ~20 times).
  void Reserve(std::uint64_t total_bytes) {
    const std::size_t guess = static_cast<std::size_t>(total_bytes / kTypicalPublishBytes);
    msgs_.reserve(guess);
    meta_.reserve(guess);
  }
  std::uint64_t records() const { return records_; }
  int corrupt_reports() const { return corrupt_reports_; }

  RecoveryResult Finish(std::unique_ptr<SegmentSet> segments) {
    RecoveryResult out;
    SegmentSet* segs = segments.get();
    out.live = std::make_unique<LiveSet>([segs](std::uint64_t n) { return segs->Find(n); });
    std::size_t w = 0;
    for (std::size_t i = 0; i < msgs_.size(); ++i) {
      if (!meta_[i].live) continue;
      out.live->Restore(msgs_[i].publish.seq, segs->Find(meta_[i].segment), meta_[i].bytes,
                        meta_[i].id_bytes, msgs_[i]);
      if (w != i) msgs_[w] = std::move(msgs_[i]);
      ++w;
    }
    msgs_.erase(msgs_.begin() + static_cast<std::ptrdiff_t>(w), msgs_.end());
    const auto by_seq = [](const RecoveredMessage& a, const RecoveredMessage& b) {
      return a.publish.seq < b.publish.seq;
    };
    if (!std::is_sorted(msgs_.begin(), msgs_.end(), by_seq)) {
      std::sort(msgs_.begin(), msgs_.end(), by_seq);
    }
    std::sort(ids_.begin(), ids_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    out.recovered.messages = std::move(msgs_);
    out.recovered.settled_ids.reserve(ids_.size());
    for (auto& [seq, id] : ids_) out.recovered.settled_ids.push_back(std::move(id));
    out.recovered.max_seq = max_seq_;
    out.max_seq = max_seq_;
    out.segments = std::move(segments);
    return out;
  }

 private:
  struct Meta {
    std::uint64_t segment = 0;
    std::uint32_t bytes = 0;
    std::uint32_t id_bytes = 0;
    bool live = false;
  };

  // The live slot of seq, or nullptr.
  std::uint32_t* LiveSlot(std::uint64_t seq) {
    std::uint32_t* s = index_.Find(seq);
    return (s == nullptr || *s == kSettled) ? nullptr : s;
  }
  RecoveredMessage* Live(std::uint64_t seq) {
    std::uint32_t* s = LiveSlot(seq);
    return s == nullptr ? nullptr : &msgs_[*s - 1];
  }

  void On(PublishRecord& r, SegmentInfo* seg, std::uint32_t bytes) {
    seg->max_published_unix_ms = std::max(seg->max_published_unix_ms, r.published_unix_ms);
    bool inserted = false;
    std::uint32_t* slot = index_.Insert(r.seq, &inserted);
    if (!inserted) {
      if (*slot == kSettled) return;  // a copy of a message settled since
      Meta& m = meta_[*slot - 1];     // a compaction copy: the message now lives here
      m.segment = seg->number;
      m.bytes = bytes;
      return;
    }
    *slot = static_cast<std::uint32_t>(msgs_.size() + 1);
    meta_.push_back(
        Meta{seg->number, bytes, SettledIdRecordBytes(r.queue.size(), r.id.size()), true});
    RecoveredMessage& m = msgs_.emplace_back();
    m.publish = std::move(r);
  }
  void On(DeliverRecord& r, SegmentInfo*, std::uint32_t) {
    if (RecoveredMessage* m = Live(r.seq)) {
      m->attempts = r.attempt;
      m->state = State::kReady;
      m->not_before_unix_ms = 0;
    }
  }
  void On(NackRecord& r, SegmentInfo*, std::uint32_t) {
    if (RecoveredMessage* m = Live(r.seq)) {
      m->attempts = r.attempt;
      m->state = State::kDeferred;
      m->not_before_unix_ms = r.not_before_unix_ms;
      m->last_error = std::move(r.reason);
    }
  }
  void On(DeadLetterRecord& r, SegmentInfo*, std::uint32_t) {
    if (RecoveredMessage* m = Live(r.seq)) {
      m->attempts = r.attempts;
      m->state = State::kDead;
      m->not_before_unix_ms = 0;
      m->last_error = std::move(r.reason);
      m->dead_at_unix_ms = r.dead_at_unix_ms;
    }
  }
  void On(RequeueRecord& r, SegmentInfo*, std::uint32_t) {
    if (RecoveredMessage* m = Live(r.seq)) {
      m->attempts = 0;
      m->state = State::kReady;
      m->not_before_unix_ms = 0;
      m->dead_at_unix_ms = 0;
    }
  }
  void On(StateRecord& r, SegmentInfo* seg, std::uint32_t bytes) {
    std::uint32_t* slot = LiveSlot(r.seq);
    if (slot == nullptr) return;
    RecoveredMessage& m = msgs_[*slot - 1];
    m.attempts = r.attempts;
    m.state = r.state;
    m.not_before_unix_ms = r.not_before_unix_ms;
    m.last_error = std::move(r.last_error);
    m.dead_at_unix_ms = r.dead_at_unix_ms;
    Meta& meta = meta_[*slot - 1];
    if (meta.segment == seg->number) meta.bytes += bytes;
  }
  void On(AckRecord& r, SegmentInfo*, std::uint32_t) { Settle(r.seq); }
  void On(PurgeRecord& r, SegmentInfo*, std::uint32_t) { Settle(r.seq); }
  void On(SettledIdRecord& r, SegmentInfo* seg, std::uint32_t bytes) {
    bool inserted = false;
    std::uint32_t* slot = index_.Insert(r.seq, &inserted);
    if (!inserted) return;  // a duplicate, or (impossible) a live seq: keep what we know
    *slot = kSettled;
    seg->id_count += 1;
    seg->id_bytes += bytes;
    seg->max_published_unix_ms = std::max(seg->max_published_unix_ms, r.published_unix_ms);
    if (InDedupWindow(r.published_unix_ms, now_ms_, window_ms_)) {
      ids_.emplace_back(r.seq,
                        RecoveredId{std::move(r.queue), std::move(r.id), r.published_unix_ms});
    }
  }

  void Settle(std::uint64_t seq) {
    std::uint32_t* slot = LiveSlot(seq);
    if (slot == nullptr) return;
    const std::uint32_t i = *slot - 1;
    *slot = kSettled;
    RecoveredMessage& m = msgs_[i];
    Meta& meta = meta_[i];
    meta.live = false;
    if (segments_lookup_ != nullptr) {
      if (SegmentInfo* s = segments_lookup_->Find(meta.segment)) {
        s->id_count += 1;
        s->id_bytes += meta.id_bytes;
      }
    }
    if (InDedupWindow(m.publish.published_unix_ms, now_ms_, window_ms_)) {
      ids_.emplace_back(seq, RecoveredId{std::move(m.publish.queue), std::move(m.publish.id),
                                         m.publish.published_unix_ms});
    }
    m = RecoveredMessage{};  // release the payload now
  }

 public:
  void set_segments(SegmentSet* s) { segments_lookup_ = s; }

 private:
  const std::int64_t window_ms_;
  const std::int64_t now_ms_;
  JournalStats* stats_;
  SegmentSet* segments_lookup_ = nullptr;
  DiskRecord record_;
  std::vector<RecoveredMessage> msgs_;
  std::vector<Meta> meta_;
  SeqTable<std::uint32_t> index_;
  std::vector<std::pair<std::uint64_t, RecoveredId>> ids_;
  std::set<std::uint8_t> unknown_types_;
  std::uint64_t max_seq_ = 0;
  std::uint64_t records_ = 0;
  int corrupt_reports_ = 0;
};

}  // namespace

core::Result<RecoveryResult> RecoverSegments(Fs* fs, const JournalOptions& options,
                                             std::int64_t now_ms, JournalStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  auto names = fs->ListDir(options.data_dir);
  if (!names.ok()) return names.error();
  std::vector<std::pair<std::uint64_t, std::string>> found;
  for (const std::string& name : *names) {
    if (auto n = ParseSegmentFileName(name)) found.emplace_back(*n, name);
  }
  std::sort(found.begin(), found.end());

  auto segments = std::make_unique<SegmentSet>(fs, options, stats);
  Replayer replay(options, now_ms, stats);
  replay.set_segments(segments.get());
  // Sizes first: to reserve memory once, and to know which segment is really the last one (a
  // trailing file shorter than a header is the debris of a crash, not the last segment).
  std::uint64_t all_bytes = 0;
  std::size_t last_real = found.size();  // index of the last segment with a whole header
  for (std::size_t i = 0; i < found.size(); ++i) {
    auto f = fs->OpenReadable(options.data_dir + "/" + found[i].second);
    if (!f.ok()) continue;  // reported when it is read below
    all_bytes += (*f)->Size();
    if ((*f)->Size() >= kSegmentHeaderBytes) last_real = i;
  }
  replay.Reserve(all_bytes);
  ByteBuffer buf;
  std::uint64_t total_bytes = 0;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto& [number, name] = found[i];
    const std::string path = options.data_dir + "/" + name;
    if (segments->Find(number) != nullptr) {
      spdlog::warn("journal: ignoring {}: another file already has segment number {}", path,
                   number);
      continue;
    }
    if (auto s = ReadWholeFile(fs, path, &buf); !s.ok()) {
      return core::Error{s.error().code, "cannot read journal segment: " + s.message()};
    }
    const bool last = i + 1 == found.size() || i >= last_real;
    SegmentHeader header;
    const HeaderCheck check = DecodeSegmentHeader(buf.view(), &header);
    if (check == HeaderCheck::kNewerVersion) {
      return core::Error{kUnsupportedVersion, path + " has journal format version " +
                                                  std::to_string(header.version) +
                                                  "; this broker reads versions up to " +
                                                  std::to_string(kFormatVersion) +
                                                  ": run a newer broker on this data dir"};
    }
    if (last && buf.size() < kSegmentHeaderBytes) {
      // Created, then the process died before its header was complete: nothing in it.
      spdlog::warn("journal: removing {}: {} bytes, shorter than a segment header", path,
                   buf.size());
      if (auto s = fs->Remove(path); !s.ok()) return s.error();
      continue;
    }
    total_bytes += buf.size();
    SegmentInfo* seg = segments->AddClosed(number, path, buf.size());
    if (check != HeaderCheck::kOk) {
      replay.Corrupt(path, 0, std::min<std::uint64_t>(buf.size(), kSegmentHeaderBytes),
                     "bad segment header");
    } else {
      if (header.number != number) {
        spdlog::warn("journal: {} says it is segment {} (file renamed?)", path, header.number);
      }
      replay.NoteBaseSeq(header.base_seq);
    }
    if (buf.size() <= kSegmentHeaderBytes) continue;
    RecordScanner scanner(buf.view().substr(kSegmentHeaderBytes), kSegmentHeaderBytes, true);
    ScannedRecord rec;
    CorruptRegion bad;
    for (;;) {
      const auto step = scanner.Next(&rec, &bad);
      if (step == RecordScanner::Step::kEnd) break;
      if (step == RecordScanner::Step::kRecord) {
        replay.Apply(rec, seg);
        continue;
      }
      if (bad.tail && last) {
        spdlog::warn(
            "journal: {}: incomplete record at the end (offset {}, {} bytes, a torn "
            "write): truncated",
            path, bad.offset, bad.length);
        if (auto s = fs->Truncate(path, bad.offset); !s.ok()) {
          return core::Error{s.error().code, "cannot truncate torn journal tail: " + s.message()};
        }
        seg->bytes = bad.offset;
        JournalStats::Add(stats->recovery_truncated_bytes, static_cast<std::int64_t>(bad.length));
        continue;
      }
      replay.Corrupt(path, bad.offset, bad.length,
                     bad.tail ? "corrupt bytes up to the end of the segment" : "corrupt bytes");
    }
  }

  const std::uint64_t records = replay.records();
  const int corrupt = replay.corrupt_reports();
  RecoveryResult result = replay.Finish(std::move(segments));
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::size_t ready = 0, deferred = 0, dead = 0;
  for (const auto& m : result.recovered.messages) {
    if (m.state == State::kReady) ++ready;
    if (m.state == State::kDeferred) ++deferred;
    if (m.state == State::kDead) ++dead;
  }
  if (corrupt > kDetailedReports) {
    spdlog::warn("journal: {} corrupt regions in all ({} bytes)", corrupt,
                 stats->recovery_corrupt_bytes.load());
  }
  spdlog::info(
      "journal: recovered {} messages ({} ready, {} deferred, {} dead) and {} settled "
      "ids, max seq {}, from {} segments ({} bytes, {} records) in {} ms",
      result.recovered.messages.size(), ready, deferred, dead, result.recovered.settled_ids.size(),
      result.max_seq, found.size(), total_bytes, records, ms);
  JournalStats::Set(stats->recovery_ms, ms);
  JournalStats::Set(stats->recovered_messages,
                    static_cast<std::int64_t>(result.recovered.messages.size()));
  JournalStats::Set(stats->recovered_ids,
                    static_cast<std::int64_t>(result.recovered.settled_ids.size()));
  JournalStats::Set(stats->recovered_records, static_cast<std::int64_t>(records));
  return result;
}

}  // namespace mandrill::broker::journal
