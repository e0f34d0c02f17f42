#include "broker/journal/replayer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "broker/journal/format.h"
#include "broker/journal/record_codec.h"

namespace mandrill::broker::journal {

namespace {
// index_ values: slot + 1 while live; kSettledBit | (slot + 1) once settled; kSettled for a
// settled id known only from a settled-id record (no slot).
constexpr std::uint32_t kSettled = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kSettledBit = 0x80000000u;
bool IsLive(std::uint32_t v) { return (v & kSettledBit) == 0; }
constexpr std::uint64_t kTypicalPublishBytes = 128;
using LiveState = RecoveredMessage::State;
}  // namespace

Replayer::Replayer(const JournalOptions& options, std::int64_t now_ms, JournalStats* stats)
    : window_ms_(options.dedup_window.count()), now_ms_(now_ms), stats_(stats) {}

void Replayer::BeginSegment(SegmentInfo* seg) {
  segments_.push_back(seg);
  seg_ = seg;
}

void Replayer::Reserve(std::uint64_t total_bytes) {
  slots_.reserve(static_cast<std::size_t>(total_bytes / kTypicalPublishBytes));
}

void Replayer::Corrupt(const std::string& path, std::uint64_t offset, std::uint64_t length,
                       const std::string& what) {
  JournalStats::Add(stats_->recovery_corrupt_regions, 1);
  JournalStats::Add(stats_->recovery_corrupt_bytes, static_cast<std::int64_t>(length));
  if (++corrupt_reports_ <= kDetailedReports) {
    spdlog::warn("journal: {}: {} at offset {} ({} bytes) skipped", path, what, offset, length);
  }
}

Replayer::Slot* Replayer::LiveSlot(std::uint64_t seq) {
  std::uint32_t* s = index_.Find(seq);
  return (s == nullptr || !IsLive(*s)) ? nullptr : &slots_[*s - 1];
}

Replayer::Extra& Replayer::ExtraOf(Slot& s) {
  if (s.extra == 0) {
    extras_.emplace_back();
    s.extra = static_cast<std::uint32_t>(extras_.size());
  }
  return extras_[s.extra - 1];
}

void Replayer::Apply(const ScannedRecord& rec) {
  if (rec.type == 0 || rec.type > kMaxKnownRecordType) {
    if (unknown_types_.insert(rec.type).second) {
      spdlog::warn(
          "journal: {}: skipping records of unknown type {} (first at offset {}); "
          "written by a newer broker?",
          seg_->path, rec.type, rec.offset);
    }
    return;
  }
  if (!DecodeView(rec.type, rec.body, &r_)) {
    Corrupt(seg_->path, rec.offset, rec.framed.size(),
            std::string("undecodable ") + RecordTypeName(rec.type) + " record");
    return;
  }
  ++records_;
  if (r_.seq > max_seq_) max_seq_ = r_.seq;
  switch (static_cast<RecordType>(rec.type)) {
    case RecordType::kPublish:
      OnPublish(rec);
      return;
    case RecordType::kDeliver:
      if (Slot* s = LiveSlot(r_.seq)) {
        s->attempts = r_.attempts;
        s->state = static_cast<std::uint8_t>(LiveState::kReady);
        if (s->extra != 0) extras_[s->extra - 1].not_before = 0;
      }
      return;
    case RecordType::kNack:
      if (Slot* s = LiveSlot(r_.seq)) {
        s->attempts = r_.attempts;
        s->state = static_cast<std::uint8_t>(LiveState::kDeferred);
        Extra& x = ExtraOf(*s);
        x.not_before = r_.time;
        x.last_error = r_.text;
      }
      return;
    case RecordType::kDeadLetter:
      if (Slot* s = LiveSlot(r_.seq)) {
        s->attempts = r_.attempts;
        s->state = static_cast<std::uint8_t>(LiveState::kDead);
        Extra& x = ExtraOf(*s);
        x.not_before = 0;
        x.last_error = r_.text;
        x.dead_at = r_.time;
      }
      return;
    case RecordType::kRequeue:
      if (Slot* s = LiveSlot(r_.seq)) {
        s->attempts = 0;
        s->state = static_cast<std::uint8_t>(LiveState::kReady);
        if (s->extra != 0) {
          extras_[s->extra - 1].not_before = 0;
          extras_[s->extra - 1].dead_at = 0;
        }
      }
      return;
    case RecordType::kState:
      if (Slot* s = LiveSlot(r_.seq)) {
        s->attempts = r_.attempts;
        s->state = r_.state;
        if (s->extra != 0 || r_.not_before != 0 || r_.time != 0 || !r_.text.empty()) {
          Extra& x = ExtraOf(*s);
          x.not_before = r_.not_before;
          x.dead_at = r_.time;
          x.last_error = r_.text;
        }
        if (segments_[s->segment] == seg_)
          s->bytes += static_cast<std::uint32_t>(rec.framed.size());
      }
      return;
    case RecordType::kAck:
    case RecordType::kPurge:
      Settle(r_.seq, r_.settled);
      return;
    case RecordType::kSettledId:
      OnSettledId(static_cast<std::uint32_t>(rec.framed.size()));
      return;
  }
}

void Replayer::OnPublish(const ScannedRecord& rec) {
  seg_->ids_window_start_unix_ms = std::max(seg_->ids_window_start_unix_ms, r_.time);
  bool inserted = false;
  std::uint32_t* slot = index_.Insert(r_.seq, &inserted);
  const auto seg_index = static_cast<std::uint32_t>(segments_.size() - 1);
  if (!inserted) {
    if (*slot == kSettled) return;  // a copy of a message settled since (its body is gone)
    const std::uint32_t i = (*slot & ~kSettledBit) - 1;
    // Compaction copies a publish byte for byte; a different body under a known seq was
    // written by another broker that numbered its messages from the same point.
    if (slots_[i].body_len != rec.body.size() ||
        std::memcmp(slots_[i].body, rec.body.data(), rec.body.size()) != 0) {
      Conflict(slots_[i], rec);
      return;
    }
    if (!IsLive(*slot)) return;  // a copy of a message settled since
    Slot& s = slots_[i];         // a compaction copy: the message now lives here
    s.segment = seg_index;
    s.bytes = static_cast<std::uint32_t>(rec.framed.size());
    s.body = rec.body.data();
    return;
  }
  if (r_.seq < last_new_seq_) slots_sorted_ = false;
  last_new_seq_ = r_.seq;
  *slot = static_cast<std::uint32_t>(slots_.size() + 1);
  Slot& s = slots_.emplace_back();
  s.body = rec.body.data();
  s.seq = r_.seq;
  s.published = r_.time;
  s.body_len = static_cast<std::uint32_t>(rec.body.size());
  s.segment = seg_index;
  s.bytes = static_cast<std::uint32_t>(rec.framed.size());
  s.id_bytes = static_cast<std::uint16_t>(
      std::min<std::uint32_t>(SettledIdRecordBytes(r_.queue.size(), r_.id.size()), 0xffff));
  s.live = true;
  ++live_;
}

void Replayer::OnSettledId(std::uint32_t bytes) {
  bool inserted = false;
  std::uint32_t* slot = index_.Insert(r_.seq, &inserted);
  if (!inserted) return;  // a duplicate, or (impossible) a live seq: keep what we know
  *slot = kSettled;
  seg_->id_count += 1;
  seg_->id_bytes += bytes;
  const std::int64_t since = WindowStart(r_.settled, r_.time);
  seg_->ids_window_start_unix_ms = std::max(seg_->ids_window_start_unix_ms, since);
  if (InDedupWindow(since, now_ms_, window_ms_)) {
    if (!ids_.empty() && r_.seq < ids_.back().seq) ids_sorted_ = false;
    ids_.push_back(Id{r_.seq, r_.queue, r_.id, since});
  }
}

void Replayer::Conflict(const Slot& first, const ScannedRecord& rec) {
  JournalStats::Add(stats_->recovery_conflicts, 1);
  if (conflicts_.size() < static_cast<std::size_t>(kDetailedReports)) {
    spdlog::error(
        "journal: TWO WRITERS: seq {} is published in {} and, with different contents, in {} "
        "(offset {}): two brokers wrote to this data dir at once. Both messages are kept (the "
        "second under a new seq) and will be delivered; records about seq {} after this "
        "point may belong to either",
        r_.seq, segments_[first.segment]->path, seg_->path, rec.offset, r_.seq);
  }
  Slot c;
  c.body = rec.body.data();
  c.seq = r_.seq;  // renumbered in BuildLiveSet, once the highest seq is known
  c.published = r_.time;
  c.body_len = static_cast<std::uint32_t>(rec.body.size());
  c.segment = static_cast<std::uint32_t>(segments_.size() - 1);
  c.bytes = static_cast<std::uint32_t>(rec.framed.size());
  c.id_bytes = static_cast<std::uint16_t>(
      std::min<std::uint32_t>(SettledIdRecordBytes(r_.queue.size(), r_.id.size()), 0xffff));
  c.live = true;
  conflicts_.push_back(c);
}

void Replayer::Settle(std::uint64_t seq, std::int64_t settled_ms) {
  std::uint32_t* index = index_.Find(seq);
  if (index == nullptr || !IsLive(*index)) return;
  Slot& s = slots_[*index - 1];
  *index |= kSettledBit;
  s.live = false;
  --live_;
  SegmentInfo* held = segments_[s.segment];
  held->id_count += 1;
  held->id_bytes += s.id_bytes;
  const std::int64_t since = WindowStart(settled_ms, s.published);
  held->ids_window_start_unix_ms = std::max(held->ids_window_start_unix_ms, since);
  if (InDedupWindow(since, now_ms_, window_ms_)) {
    // Decoded once already when it was replayed; only the two views are wanted here.
    RecordView v;
    if (DecodeView(static_cast<std::uint8_t>(RecordType::kPublish),
                   std::string_view(s.body, s.body_len), &v)) {
      if (!ids_.empty() && seq < ids_.back().seq) ids_sorted_ = false;
      ids_.push_back(Id{seq, v.queue, v.id, since});
    }
  }
}

std::size_t Replayer::CountInState(RecoveredMessage::State state) const {
  std::size_t n = 0;
  for (const Slot& s : slots_) n += s.live && s.state == static_cast<std::uint8_t>(state);
  return n;
}

std::unique_ptr<LiveSet> Replayer::BuildLiveSet(SegmentSet* segments) {
  if (!conflicts_.empty()) {
    spdlog::error(
        "journal: {} seqs were written by two brokers at once; their second messages are "
        "kept as seqs {}..{} (journal.recovery_conflicts). Stop the other broker: they are "
        "found again on every start until the segments holding them are gone",
        conflicts_.size(), max_seq_ + 1, max_seq_ + conflicts_.size());
    for (Slot& c : conflicts_) {
      c.seq = ++max_seq_;  // above every seq: the slots stay in seq order
      slots_.push_back(c);
      ++live_;
    }
    conflicts_.clear();
  }
  auto live = std::make_unique<LiveSet>([segments](std::uint64_t n) { return segments->Find(n); });
  for (const Slot& s : slots_) {
    if (!s.live) continue;
    const Extra none;
    const Extra& x = s.extra != 0 ? extras_[s.extra - 1] : none;
    live->Restore(s.seq, segments_[s.segment], s.bytes, s.id_bytes, s.published, s.attempts,
                  static_cast<LiveState>(s.state), x.not_before, x.dead_at, x.last_error);
  }
  return live;
}

void Replayer::Emit(RecoverySink& sink) {
  std::vector<std::uint32_t> order;
  if (!slots_sorted_) {
    order.resize(slots_.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return slots_[a].seq < slots_[b].seq; });
  }
  std::size_t live = 0;
  for (const Slot& s : slots_) live += s.live ? 1 : 0;
  sink.OnCounts(live, ids_.size());
  Headers headers;
  PublishBodyView p;
  RecoveredMessageView v;
  v.headers = &headers;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[slots_sorted_ ? i : order[i]];
    if (!s.live) continue;
    if (!DecodePublishBody(std::string_view(s.body, s.body_len), &p, &headers)) {
      // Impossible unless the mapped bytes changed under us: say so rather than guess.
      spdlog::error("journal: publish of seq {} no longer decodes; message skipped", s.seq);
      continue;
    }
    const Extra none;
    const Extra& x = s.extra != 0 ? extras_[s.extra - 1] : none;
    v.seq = s.seq;
    v.queue = p.queue;
    v.id = p.id;
    v.payload = p.payload;
    v.published_unix_ms = p.published_unix_ms;
    v.attempts = s.attempts;
    v.state = static_cast<LiveState>(s.state);
    v.not_before_unix_ms = x.not_before;
    v.last_error = x.last_error;
    v.dead_at_unix_ms = x.dead_at;
    sink.OnMessage(v);
  }
  if (!ids_sorted_) {
    std::sort(ids_.begin(), ids_.end(), [](const Id& a, const Id& b) { return a.seq < b.seq; });
  }
  for (const Id& id : ids_) sink.OnSettledId(id.queue, id.id, id.since);
}

}  // namespace mandrill::broker::journal
