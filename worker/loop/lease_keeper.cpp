#include "worker/loop/lease_keeper.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

namespace mandrill::worker {
namespace {

std::uint32_t DurationMs(runtime::Duration d) {
  return static_cast<std::uint32_t>(std::clamp<long long>(core::ToMillis(d), 1, UINT32_MAX));
}

}  // namespace

LeaseKeeper::Entry::~Entry() { assert(!active() && "lease entry destroyed while kept"); }

LeaseKeeper::LeaseKeeper(runtime::Loop& loop, Outbox& outbox)
    : loop_(loop), outbox_(outbox), timer_(loop) {}

LeaseKeeper::~LeaseKeeper() {
  assert(list_.empty() && "LeaseKeeper destroyed while keeping leases");
  // Release builds: unlink what is left, so no entry still points into a dead keeper.
  while (!list_.empty()) list_.PopFront();
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
  Insert(e);
  Arm();
}

void LeaseKeeper::Remove(Entry* e) {
  list_.Remove(e);
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
                   e->lease_id, e->label != nullptr ? *e->label : std::string("?"), core::ToMillis(left));
    }
    // Asking again before the deadline cannot help: ask at the deadline (then "lease lost").
    e->extend_at = e->deadline;
  }
  list_.Remove(e);
  Insert(e);
  Arm();
}

void LeaseKeeper::ExtendAllNow() {
  const auto now = loop_.Now();
  // All equal: the list stays ordered.
  for (Entry* e = list_.Front(); e != nullptr; e = list_.Next(e)) e->extend_at = now;
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
  // Everything due now, plus what would be due within a sixth of its duration: one batch. Each
  // extended lease moves to its new place (later than now + a sixth), so the loop ends.
  while (Entry* top = list_.Front()) {
    if (top->extend_at > now + top->duration / 6) break;
    Extend(top, now);
    list_.Remove(top);
    Insert(top);
  }
  Arm();
}

void LeaseKeeper::Arm() {
  const Entry* first = list_.Front();
  if (first == nullptr) return;
  const auto when = first->extend_at;
  if (timer_.armed() && armed_for_ <= when) return;
  armed_for_ = when;
  timer_.StartAt(when, [this] { Fire(); });
}

void LeaseKeeper::Insert(Entry* e) {
  Entry* after = list_.Back();
  while (after != nullptr && after->extend_at > e->extend_at) after = list_.Prev(after);
  list_.InsertAfter(after, e);
}

}  // namespace mandrill::worker
