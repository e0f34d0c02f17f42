#include "publisher/confirm_tracker.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>

namespace mandrill::publisher {
namespace {
bool Later(const auto& a, const auto& b) { return a.at > b.at; }  // for a min-heap
}  // namespace

bool IsRetryable(protocol::ErrorCode code) {
  using protocol::ErrorCode;
  return code == ErrorCode::kQueueFull || code == ErrorCode::kStorageFailed ||
         code == ErrorCode::kShuttingDown;
}

ConfirmTracker::ConfirmTracker(TrackerOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock), backoff_(options_.backoff_initial) {
  assert(options_.window > 0);
  assert(options_.cells >= 1 && (options_.cells == 1 || options_.route));
  send_queues_.resize(options_.cells);
  // Twice the window: a few slow confirms at the head do not stall admission at once.
  const std::size_t size = std::bit_ceil(std::max<std::size_t>(options_.window * 2, 16));
  ring_.resize(size);
  mask_ = size - 1;
}

bool ConfirmTracker::HasRoom() const {
  return unsettled_ < options_.window && next_ - head_ < ring_.size();
}

ConfirmTracker::Entry& ConfirmTracker::Admit(std::string_view payload) {
  assert(HasRoom());
  Entry& e = Slot(next_);
  assert(e.state == State::kFree);
  e.seq = next_++;
  e.state = State::kQueued;
  e.sends = 0;
  e.refusals = 0;
  e.hop = 0;
  e.explicit_id = false;
  e.payload.assign(payload);
  ++unsettled_;
  ++counters_.admitted;
  return e;
}

Seq ConfirmTracker::Add(std::string_view payload) {
  Entry& e = Admit(payload);
  char digits[24];
  const auto r = std::to_chars(std::begin(digits), std::end(digits), e.seq);
  e.id.assign(options_.id_prefix);
  e.id.push_back('-');
  e.id.append(digits, r.ptr);
  e.cell = 0;
  Enqueue(e, 0);
  return e.seq;
}

Seq ConfirmTracker::AddWithId(std::string_view id, std::string_view payload) {
  Entry& e = Admit(payload);
  e.id.assign(id);
  e.explicit_id = true;
  explicit_ids_.emplace(e.id, e.seq);
  e.cell = 0;
  Enqueue(e, 0);
  return e.seq;
}

ConfirmTracker::Entry* ConfirmTracker::Find(std::string_view id) {
  const auto dash = id.rfind('-');
  if (dash != std::string_view::npos) {
    Seq seq = 0;
    const char* first = id.data() + dash + 1;
    const char* last = id.data() + id.size();
    const auto r = std::from_chars(first, last, seq);
    if (r.ec == std::errc() && r.ptr == last && seq >= head_ && seq < next_) {
      Entry& e = Slot(seq);
      if (e.seq == seq && e.id == id) return &e;
    }
  }
  if (explicit_ids_.empty()) return nullptr;
  const auto it = explicit_ids_.find(std::string(id));
  return it == explicit_ids_.end() ? nullptr : &Slot(it->second);
}

void ConfirmTracker::Settle(Entry& e) {
  assert(e.state != State::kSettled && e.state != State::kFree);
  e.state = State::kSettled;
  --unsettled_;
  if (e.explicit_id) explicit_ids_.erase(e.id);
  // Free settled slots at the head so the ring can take new messages.
  while (head_ < next_ && Slot(head_).state == State::kSettled) {
    Slot(head_).state = State::kFree;
    ++head_;
  }
}

void ConfirmTracker::Enqueue(Entry& e, std::uint32_t from_hop) {
  e.state = State::kQueued;
  if (options_.cells > 1) {
    const CellRoute r = options_.route(e.id, from_hop);
    assert(r.cell < options_.cells);
    // A message admitted just now has sends == 0 and hop 0: placed, not moved.
    if (r.cell != e.cell && (e.sends > 0 || e.hop > 0 || from_hop > 0)) ++counters_.moved;
    e.cell = static_cast<std::uint32_t>(r.cell);
    e.hop = r.hop;
  } else {
    e.hop = 0;
  }
  send_queues_[e.cell].push_back(e.seq);
}

std::size_t ConfirmTracker::ResendInFlight(std::size_t cell) {
  std::size_t n = 0;
  for (Seq seq = head_; seq < next_; ++seq) {
    Entry& e = Slot(seq);
    if (e.seq != seq || e.cell != cell || e.state != State::kInFlight) continue;
    Enqueue(e, e.hop);  // its deadline record goes stale: the state is no longer kInFlight
    ++n;
  }
  return n;
}

std::size_t ConfirmTracker::Evacuate(std::size_t cell) {
  std::size_t n = 0;
  for (Seq seq = head_; seq < next_; ++seq) {
    Entry& e = Slot(seq);
    if (e.seq != seq || e.cell != cell) continue;
    if (e.state != State::kInFlight && e.state != State::kQueued) continue;
    if (!options_.route(e.id, e.hop + 1).up) {
      // Every other cell is down too: it stays (a queued one is already in its queue).
      if (e.state == State::kInFlight) Enqueue(e, e.hop);
      continue;
    }
    Enqueue(e, e.hop + 1);
    ++n;
  }
  return n;
}

void ConfirmTracker::Tick() {
  const auto now = clock_.Now();
  // Records of messages confirmed since are dropped as soon as they reach the front, so the
  // queue holds about one window of records rather than one confirm-timeout of traffic.
  while (!confirm_deadlines_.empty()) {
    const Deadline d = confirm_deadlines_.front();
    Entry& e = Slot(d.seq);
    const bool live = e.seq == d.seq && e.state == State::kInFlight && e.sends == d.sends;
    if (live && d.at > now) break;
    confirm_deadlines_.pop_front();
    if (live) Enqueue(e, e.hop);  // same cell unless it is down now
  }
  while (!backoff_heap_.empty() && backoff_heap_.front().at <= now) {
    std::pop_heap(backoff_heap_.begin(), backoff_heap_.end(), Later<Deadline, Deadline>);
    const Deadline d = backoff_heap_.back();
    backoff_heap_.pop_back();
    Entry& e = Slot(d.seq);
    if (e.seq == d.seq && e.state == State::kBackoff && e.sends == d.sends) {
      e.refusals = 0;
      Enqueue(e, 0);  // every cell refused it: start again at its first choice
    }
  }
}

bool ConfirmTracker::HasSendable(std::size_t cell) {
  if (clock_.Now() < paused_until_) return false;
  auto& queue = send_queues_[cell];
  while (!queue.empty()) {
    const Seq seq = queue.front();
    const Entry& e = Slot(seq);
    if (e.seq == seq && e.state == State::kQueued && e.cell == cell) return true;
    queue.pop_front();  // settled or moved since it was queued
  }
  return false;
}

void ConfirmTracker::TakeSendable(std::size_t cell, std::size_t max, std::size_t max_bytes,
                                  std::vector<Seq>& out) {
  out.clear();
  auto& send_queue_ = send_queues_[cell];
  const auto now = clock_.Now();
  if (now < paused_until_) return;
  const auto deadline = now + options_.confirm_timeout;
  std::size_t bytes = 0;
  while (out.size() < max && bytes < max_bytes && !send_queue_.empty()) {
    const Seq seq = send_queue_.front();
    send_queue_.pop_front();
    Entry& e = Slot(seq);
    if (e.seq != seq || e.state != State::kQueued || e.cell != cell) continue;  // stale
    e.state = State::kInFlight;
    if (e.sends++ == 0) {
      ++counters_.published;
    } else {
      ++counters_.retried;
    }
    confirm_deadlines_.push_back(Deadline{deadline, seq, e.sends});
    out.push_back(seq);
    bytes += e.id.size() + e.payload.size();
  }
}

void ConfirmTracker::ReturnUnsent(const std::vector<Seq>& seqs) {
  for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
    assert(!confirm_deadlines_.empty() && confirm_deadlines_.back().seq == *it);
    confirm_deadlines_.pop_back();
    Entry& e = Slot(*it);
    assert(e.seq == *it && e.state == State::kInFlight);
    e.state = State::kQueued;
    if (--e.sends == 0) {
      --counters_.published;
    } else {
      --counters_.retried;
    }
    send_queues_[e.cell].push_front(*it);
  }
}

ConfirmOutcome ConfirmTracker::OnConfirm(std::string_view id) {
  Entry* e = Find(id);
  if (e == nullptr) {
    ++counters_.duplicate_confirms;
    return ConfirmOutcome::kUnknown;
  }
  if (e->state == State::kSettled) {
    ++counters_.duplicate_confirms;
    return ConfirmOutcome::kDuplicate;
  }
  backoff_ = options_.backoff_initial;
  ++counters_.confirmed;
  Settle(*e);
  return ConfirmOutcome::kFirst;
}

ErrorOutcome ConfirmTracker::OnError(const std::vector<std::string>& ids,
                                     protocol::ErrorCode code) {
  ErrorOutcome out;
  const bool retry = IsRetryable(code);
  const auto now = clock_.Now();
  for (const auto& id : ids) {
    Entry* e = Find(id);
    if (e == nullptr || e->state == State::kSettled) {
      ++out.ignored;
    } else if (!retry) {
      ++counters_.refused;
      ++out.refused;
      Settle(*e);
    } else if (e->state == State::kBackoff) {
      ++out.ignored;  // already waiting
    } else if (++e->refusals < options_.cells) {
      Enqueue(*e, e->hop + 1);  // the next cell in its order takes it now
      ++out.moved_on;
    } else {
      // In flight (or queued again after a confirm timeout): wait, then send again.
      e->state = State::kBackoff;
      backoff_heap_.push_back(Deadline{now + backoff_, e->seq, e->sends});
      std::push_heap(backoff_heap_.begin(), backoff_heap_.end(), Later<Deadline, Deadline>);
      ++out.retrying;
    }
  }
  if (retry && out.retrying > 0) {
    paused_until_ = std::max(paused_until_, now + backoff_);
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  }
  return out;
}

std::optional<core::SteadyTime> ConfirmTracker::NextDeadline() const {
  std::optional<core::SteadyTime> next;
  auto consider = [&](core::SteadyTime t) {
    if (!next || t < *next) next = t;
  };
  if (!confirm_deadlines_.empty()) consider(confirm_deadlines_.front().at);
  if (!backoff_heap_.empty()) consider(backoff_heap_.front().at);
  if (clock_.Now() < paused_until_) {
    for (const auto& queue : send_queues_) {
      if (!queue.empty()) {
        consider(paused_until_);
        break;
      }
    }
  }
  return next;
}

}  // namespace mandrill::publisher
