#include "worker/loop/lease_keeper.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

namespace mandrill::worker {
namespace {

long long Ms(runtime::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::uint32_t DurationMs(runtime::Duration d) {
  return static_cast<std::uint32_t>(std::clamp<long long>(Ms(d), 1, UINT32_MAX));
}

}  // namespace

LeaseKeeper::Entry::~Entry() { assert(!active() && "lease entry destroyed while kept"); }

LeaseKeeper::LeaseKeeper(runtime::Loop& loop, Outbox& outbox)
    : loop_(loop), outbox_(outbox), timer_(loop) {}

LeaseKeeper::~LeaseKeeper() {
  assert(heap_.empty() && "LeaseKeeper destroyed while keeping leases");
  for (Entry* e : heap_) e->index = Entry::kNone;
}

void LeaseKeeper::Add(Entry* e, std::uint64_t lease_id, runtime::Duration left,
                      runtime::Duration duration) {
  assert(!e->active());
  const auto now = loop_.Now();
  e->lease_id = lease_id;
  e->duration = std::max(duration, runtime::Duration(std::chrono::milliseconds(3)));
  e->deadline = now + left;
  e->extend_at = e->deadline - e->duration / 3;
  e->extensions = 0;
  e->capped = false;
  Push(e);
  Arm();
}

void LeaseKeeper::Remove(Entry* e) {
  if (!e->active()) return;
  const std::size_t i = e->index;
  const std::size_t last = heap_.size() - 1;
  if (i != last) Swap(i, last);
  heap_.pop_back();
  e->index = Entry::kNone;
  if (i < heap_.size()) Fix(i);
  // The timer stays armed; if it fires with nothing due it re-arms for the new earliest.
}

void LeaseKeeper::OnExtended(Entry* e, runtime::Duration left) {
  if (!e->active()) return;
  const auto now = loop_.Now();
  e->deadline = now + left;
  e->extend_at = e->deadline - e->duration / 3;
  if (left < e->duration * 2 / 3) {
    // Capped by the broker's max lease: it cannot be pushed further.
    if (!e->capped) {
      e->capped = true;
      ++capped_;
      spdlog::warn("lease {} ({}) reached the broker's max lease: it expires in {} ms and will be "
                   "redelivered unless the handler finishes first",
                   e->lease_id, e->label != nullptr ? *e->label : std::string("?"), Ms(left));
    }
    // Asking again before the deadline cannot help: ask at the deadline (then "lease lost").
    e->extend_at = e->deadline;
  }
  Fix(e->index);
  Arm();
}

void LeaseKeeper::ExtendAllNow() {
  const auto now = loop_.Now();
  for (Entry* e : heap_) e->extend_at = now;
  Arm();
}

void LeaseKeeper::Extend(Entry* e, runtime::TimePoint now) {
  outbox_.Extend(e->lease_id, DurationMs(e->duration));
  ++extensions_sent_;
  ++e->extensions;
  if (!e->capped) {
    // Optimistic: the broker sets now + duration unless capped; EXTENDED corrects it.
    e->deadline = std::max(e->deadline, now + e->duration);
    e->extend_at = e->deadline - e->duration / 3;
  } else {
    // Cannot be pushed further: ask again at the deadline, when the answer is "lease lost".
    e->extend_at = std::max(e->deadline, now + e->duration / 3);
  }
}

void LeaseKeeper::Fire() {
  armed_for_ = runtime::kNoDeadline;
  const auto now = loop_.Now();
  // Everything due now, plus what would be due within a sixth of its duration: one batch.
  while (!heap_.empty()) {
    Entry* top = heap_.front();
    if (top->extend_at > now + top->duration / 6) break;
    Extend(top, now);
    SiftDown(0);
  }
  Arm();
}

void LeaseKeeper::Arm() {
  if (heap_.empty()) return;
  const auto when = heap_.front()->extend_at;
  if (timer_.armed() && armed_for_ <= when) return;
  armed_for_ = when;
  timer_.StartAt(when, [this] { Fire(); });
}

void LeaseKeeper::Push(Entry* e) {
  e->index = heap_.size();
  heap_.push_back(e);
  SiftUp(e->index);
}

void LeaseKeeper::Swap(std::size_t a, std::size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->index = a;
  heap_[b]->index = b;
}

void LeaseKeeper::SiftUp(std::size_t i) {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->extend_at <= heap_[i]->extend_at) break;
    Swap(i, parent);
    i = parent;
  }
}

void LeaseKeeper::SiftDown(std::size_t i) {
  const std::size_t n = heap_.size();
  while (true) {
    std::size_t smallest = i;
    const std::size_t l = 2 * i + 1, r = l + 1;
    if (l < n && heap_[l]->extend_at < heap_[smallest]->extend_at) smallest = l;
    if (r < n && heap_[r]->extend_at < heap_[smallest]->extend_at) smallest = r;
    if (smallest == i) return;
    Swap(i, smallest);
    i = smallest;
  }
}

void LeaseKeeper::Fix(std::size_t i) {
  if (i > 0 && heap_[i]->extend_at < heap_[(i - 1) / 2]->extend_at) {
    SiftUp(i);
  } else {
    SiftDown(i);
  }
}

}  // namespace mandrill::worker
