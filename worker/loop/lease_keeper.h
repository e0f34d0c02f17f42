#pragma once
// LeaseKeeper: keeps every live lease alive while its message is being worked on.
//
// Each lease is extended about a third of its duration before its deadline, to now + its
// duration (the broker caps it at its max lease). All leases go in one min-heap keyed by when
// they want extending and ONE loop timer is set to the earliest (NATS's consumer design), so a
// thousand leases cost one timer. When it fires, every lease due within the next sixth of its
// duration is extended too, so extensions leave as batches (one EXTEND frame per duration).
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
#include <vector>

#include "shared/runtime/clock.h"
#include "shared/runtime/loop.h"
#include "worker/loop/outbox.h"

namespace mandrill::worker {

class LeaseKeeper {
 public:
  struct Entry {
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry();
    bool active() const { return index != kNone; }

    std::uint64_t lease_id = 0;
    runtime::Duration duration{};      // what each extension asks for
    runtime::TimePoint deadline{};     // the broker's deadline as we last learnt it
    runtime::TimePoint extend_at{};    // when the keeper extends next
    std::uint32_t extensions = 0;
    bool capped = false;               // the broker's max lease stopped an extension
    const std::string* label = nullptr;  // for logs (the message id); optional

   private:
    friend class LeaseKeeper;
    static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::size_t index = kNone;  // position in the heap
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

  std::size_t size() const { return heap_.size(); }
  std::uint64_t extensions_sent() const { return extensions_sent_; }
  std::uint64_t capped_leases() const { return capped_; }

 private:
  void Fire();
  void Arm();
  void Extend(Entry* e, runtime::TimePoint now);
  void SiftUp(std::size_t i);
  void SiftDown(std::size_t i);
  void Fix(std::size_t i);
  void Swap(std::size_t a, std::size_t b);
  void Push(Entry* e);

  runtime::Loop& loop_;
  Outbox& outbox_;
  std::vector<Entry*> heap_;  // min-heap by extend_at
  runtime::Timer timer_;
  runtime::TimePoint armed_for_ = runtime::kNoDeadline;
  std::uint64_t extensions_sent_ = 0;
  std::uint64_t capped_ = 0;
};

}  // namespace mandrill::worker
