#include "broker/journal/live_set.h"

#include <algorithm>

namespace mandrill::broker::journal {

SegmentInfo* LiveSet::Seg(std::uint64_t number) {
  if (cached_ != nullptr && cached_number_ == number) return cached_;
  SegmentInfo* s = lookup_(number);
  if (s != nullptr) {
    cached_ = s;
    cached_number_ = number;
  }
  return s;
}

void LiveSet::Publish(std::uint64_t seq, SegmentInfo* seg, std::uint32_t bytes,
                      std::uint32_t id_bytes, std::int64_t published_unix_ms) {
  if (published_unix_ms > seg->ids_window_start_unix_ms) {
    seg->ids_window_start_unix_ms = published_unix_ms;
  }
  bool inserted = false;
  Entry* e = table_.Insert(seq, &inserted);
  if (!inserted) return;
  e->segment = seg->number;
  e->bytes = bytes;
  e->id_bytes = static_cast<std::uint16_t>(id_bytes > 0xffff ? 0xffff : id_bytes);
  seg->live_count += 1;
  seg->live_bytes += bytes;
}

void LiveSet::Restore(std::uint64_t seq, SegmentInfo* seg, std::uint32_t bytes,
                      std::uint32_t id_bytes, std::int64_t published_unix_ms,
                      std::uint32_t attempts, RecoveredMessage::State state,
                      std::int64_t not_before_unix_ms, std::int64_t dead_at_unix_ms,
                      std::string_view last_error) {
  Publish(seq, seg, bytes, id_bytes, published_unix_ms);
  Entry* e = table_.Find(seq);
  e->attempts = attempts;
  e->state = state;
  if (not_before_unix_ms != 0 || dead_at_unix_ms != 0 || !last_error.empty()) {
    Extra& x = ExtraFor(seq);
    x.not_before_unix_ms = not_before_unix_ms;
    x.dead_at_unix_ms = dead_at_unix_ms;
    x.last_error.assign(last_error);
  }
}

void LiveSet::Deliver(std::uint64_t seq, std::uint32_t attempt) {
  Entry* e = table_.Find(seq);
  if (e == nullptr) return;
  e->attempts = attempt;
  e->state = RecoveredMessage::State::kReady;
  if (auto it = extras_.find(seq); it != extras_.end()) it->second.not_before_unix_ms = 0;
}

void LiveSet::Nack(std::uint64_t seq, std::uint32_t attempt, std::int64_t not_before_unix_ms,
                   std::string_view reason) {
  Entry* e = table_.Find(seq);
  if (e == nullptr) return;
  e->attempts = attempt;
  e->state = RecoveredMessage::State::kDeferred;
  Extra& x = ExtraFor(seq);
  x.not_before_unix_ms = not_before_unix_ms;
  x.last_error.assign(reason);
}

void LiveSet::DeadLetter(std::uint64_t seq, std::uint32_t attempts, std::string_view reason,
                         std::int64_t dead_at_unix_ms) {
  Entry* e = table_.Find(seq);
  if (e == nullptr) return;
  e->attempts = attempts;
  e->state = RecoveredMessage::State::kDead;
  Extra& x = ExtraFor(seq);
  x.dead_at_unix_ms = dead_at_unix_ms;
  x.not_before_unix_ms = 0;
  x.last_error.assign(reason);
}

void LiveSet::Requeue(std::uint64_t seq) {
  Entry* e = table_.Find(seq);
  if (e == nullptr) return;
  e->attempts = 0;
  e->state = RecoveredMessage::State::kReady;
  if (auto it = extras_.find(seq); it != extras_.end()) {
    it->second.not_before_unix_ms = 0;
    it->second.dead_at_unix_ms = 0;
  }
}

void LiveSet::SetState(const StateRecord& s) {
  Entry* e = table_.Find(s.seq);
  if (e == nullptr) return;
  e->attempts = s.attempts;
  e->state = s.state;
  if (s.not_before_unix_ms == 0 && s.dead_at_unix_ms == 0 && s.last_error.empty()) {
    extras_.erase(s.seq);
    return;
  }
  Extra& x = ExtraFor(s.seq);
  x.not_before_unix_ms = s.not_before_unix_ms;
  x.dead_at_unix_ms = s.dead_at_unix_ms;
  x.last_error = s.last_error;
}

void LiveSet::Settle(std::uint64_t seq, std::int64_t settled_unix_ms) {
  Entry* e = table_.Find(seq);
  if (e == nullptr) return;
  if (SegmentInfo* seg = Seg(e->segment)) {
    seg->live_count -= 1;
    seg->live_bytes -= e->bytes;
    seg->id_count += 1;
    seg->id_bytes += e->id_bytes;
    // The id is needed for a window from now on: the segment must outlive that.
    seg->ids_window_start_unix_ms = std::max(seg->ids_window_start_unix_ms, settled_unix_ms);
  }
  extras_.erase(seq);
  table_.Erase(seq);
}

void LiveSet::Moved(std::uint64_t seq, SegmentInfo* to, std::uint32_t bytes) {
  Entry* e = table_.Find(seq);
  if (e == nullptr) return;
  if (SegmentInfo* from = Seg(e->segment)) {
    from->live_count -= 1;
    from->live_bytes -= e->bytes;
  }
  e->segment = to->number;
  e->bytes = bytes;
  to->live_count += 1;
  to->live_bytes += bytes;
}

StateRecord LiveSet::StateOf(std::uint64_t seq) {
  StateRecord s;
  s.seq = seq;
  const Entry* e = table_.Find(seq);
  if (e == nullptr) return s;
  s.state = e->state;
  s.attempts = e->attempts;
  if (auto it = extras_.find(seq); it != extras_.end()) {
    s.not_before_unix_ms = it->second.not_before_unix_ms;
    s.dead_at_unix_ms = it->second.dead_at_unix_ms;
    s.last_error = it->second.last_error;
  }
  return s;
}

bool LiveSet::IsPristine(std::uint64_t seq) {
  const Entry* e = table_.Find(seq);
  if (e == nullptr) return false;
  return e->state == RecoveredMessage::State::kReady && e->attempts == 0 &&
         extras_.find(seq) == extras_.end();
}

}  // namespace mandrill::broker::journal
