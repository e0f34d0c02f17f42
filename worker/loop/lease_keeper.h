#pragma once
// LeaseKeeper: keeps every live lease alive while its message is being worked on.
//
// Each lease is extended about a third of its duration before its deadline, to now + its
// duration (the broker caps it at its max lease). All leases go in one list ordered by when they
// want extending and ONE loop timer is set to the earliest (NATS's consumer design), so a
// thousand leases cost one timer. When it fires, every lease due within the next sixth of its
// duration is extended too, so extensions leave as batches (one EXTEND frame per duration).
//
// Why an ordered intrusive list and not a heap: leases arrive in deadline order (every lease of
// a worker has the broker's one lease duration), so a new or extended lease belongs at the tail
// and insertion, which walks back from the tail, is O(1); removal, once per message, is an
// O(1) unlink. A heap paid a full sift-down of pointer-chasing compares per removal (~15% of
// the loop's time per message with a no-op handler). A lease the broker capped moves towards
// the front: a walk of at most the in-flight count (the credit), once per capped lease.
//
// The message task owns its Entry and removes it when it ends however it ends (Consumer does
// this from the task's frame), so no extension outlives its message. EXTENDED answers refine the
// deadline; one that gives less than asked means the broker's max lease was reached: the keeper
// warns once and asks again at the deadline itself, which the broker answers with "lease lost",
// which cancels the handler (its message is being redelivered).
//
// Loop thread only. Entries must be removed before they are destroyed (the Entry destructor
// asserts it) and before the keeper is.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/core/clock.h"
#include "shared/core/intrusive_list.h"
#include "shared/runtime/loop.h"
#include "worker/loop/outbox.h"

namespace mandrill::worker {

class LeaseKeeper {
 public:
  struct Entry : core::ListHook {
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry();
    bool active() const { return linked(); }

    std::uint64_t lease_id = 0;
    runtime::Duration duration{};      // what each extension asks for
    runtime::TimePoint deadline{};     // the broker's deadline as we last learnt it
    runtime::TimePoint extend_at{};    // when the keeper extends next
    std::uint32_t extensions = 0;
    bool capped = false;               // the broker's max lease stopped an extension
    const std::string* label = nullptr;  // for logs (the message id); optional
  };

  LeaseKeeper(runtime::Loop& loop, Outbox& outbox);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Starts keeping `e` (a lease that expires `left` from now), extending by `duration` each time.
  void Add(Entry* e, std::uint64_t lease_id, runtime::Duration left, runtime::Duration duration);
  // Stops keeping `e`. Idempotent.
  void Remove(Entry* e);
  // The broker answered an EXTEND: `left` is the time left on the lease now.
  void OnExtended(Entry* e, runtime::Duration left);
  // Extends every kept lease now (after re-announcing to the same broker: the broker answers
  // "lease lost" for any lease it released meanwhile, so their handlers stop promptly).
  void ExtendAllNow();

  std::size_t size() const { return list_.size(); }
  std::uint64_t extensions_sent() const { return extensions_sent_; }
  std::uint64_t capped_leases() const { return capped_; }

 private:
  void Fire();
  void Arm();
  void Extend(Entry* e, runtime::TimePoint now);
  // Links `e` after the last entry due no later than it (equal times stay in insertion order).
  void Insert(Entry* e);

  runtime::Loop& loop_;
  Outbox& outbox_;
  core::IntrusiveList<Entry> list_;  // ordered by extend_at, earliest first
  runtime::Timer timer_;
  runtime::TimePoint armed_for_ = runtime::kNoDeadline;
  std::uint64_t extensions_sent_ = 0;
  std::uint64_t capped_ = 0;
};

}  // namespace mandrill::worker
