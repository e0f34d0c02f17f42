#pragma once
// The publisher's book of unconfirmed messages: which are waiting to be sent, which are in
// flight and since when, which are backing off after a retryable refusal, and which are
// settled (confirmed or permanently refused). Pure bookkeeping: no sockets, time from a
// core::Clock, so window, dedup and retry selection are unit-tested with a VirtualClock.
//
// Messages are numbered by a sequence (1, 2, ...) and live in a ring of slots indexed by it;
// a slot's id and payload strings keep their capacity when reused, so steady-state publishing
// allocates nothing per message. Generated ids are "<prefix>-<seq>": a confirm is matched to
// its slot by parsing the number (no hashing); other ids (--id) go through a small map.
//
// With cells (--cells), every message also has a cell: where it is sent. `route` places it:
// given the id and its hop (how often it moved on), the cell to use and the hop that is. A
// message keeps its cell across confirm timeouts (a retry reaches the cell that may hold it,
// so deduplication holds); it moves on when that cell refuses it for now (the next cell takes
// it at once; once every cell refused it, it backs off and starts again at its first) or when
// the publisher evacuates a cell that has been unreachable too long.
//
// Invariants: a message is in exactly one of the states below; it is settled at most once
// (so each id is reported confirmed once however often the broker confirms it); the span
// between the oldest unsettled message and the newest never exceeds the ring; a queued
// message is in the send queue of its cell exactly once (other entries there are stale).
// Not thread-safe: the publisher's thread owns it.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/core/clock.h"
#include "shared/protocol/error_code.h"

namespace mandrill::publisher {

using Seq = std::uint64_t;

struct CellRoute {
  std::size_t cell = 0;
  std::uint32_t hop = 0;  // >= the hop asked for: cells skipped because they are down
  bool up = true;         // false: every cell is down (`cell` is the one at the hop asked for)
};

struct TrackerOptions {
  std::size_t window = 1000;                        // most unsettled messages at once
  std::chrono::milliseconds confirm_timeout{5000};  // re-send when unconfirmed this long
  std::chrono::milliseconds backoff_initial{50};    // after the first retryable refusal
  std::chrono::milliseconds backoff_max{2000};      // doubling stops here
  std::string id_prefix;                            // generated ids: "<prefix>-<seq>"
  std::size_t cells = 1;                            // send queues; cell indices < cells
  // Where a message goes (cells > 1 only): id and the hop to start from -> cell and hop.
  std::function<CellRoute(std::string_view id, std::uint32_t from_hop)> route;
};

// Retryable refusals: queue full, storage failed, shutting down. Everything else is final.
bool IsRetryable(protocol::ErrorCode code);

enum class ConfirmOutcome {
  kFirst,      // the message is now confirmed: report it
  kDuplicate,  // it was already settled: ignore
  kUnknown,    // not a message of this run (or settled long ago): ignore
};

struct ErrorOutcome {
  std::size_t refused = 0;   // newly settled as refused
  std::size_t retrying = 0;  // will be re-sent after a backoff
  std::size_t moved_on = 0;  // sent on to the next cell at once (cells > 1)
  std::size_t ignored = 0;   // unknown or already settled
};

struct TrackerCounters {
  std::uint64_t admitted = 0;   // taken from the source
  std::uint64_t published = 0;  // sent at least once
  std::uint64_t confirmed = 0;
  std::uint64_t refused = 0;
  std::uint64_t retried = 0;  // re-sends (confirm timeout or retryable refusal)
  std::uint64_t duplicate_confirms = 0;
  std::uint64_t moved = 0;  // messages sent on to another cell (refused, or the cell was down)
};

class ConfirmTracker {
 public:
  ConfirmTracker(TrackerOptions options, const core::Clock& clock);

  // True when one more message may be admitted.
  bool HasRoom() const;
  // Admits a message with a generated id, queued for sending. Precondition: HasRoom().
  Seq Add(std::string_view payload);
  // Same with an explicit id, which must differ from every other id of this run.
  Seq AddWithId(std::string_view id, std::string_view payload);

  // Moves messages whose confirm timed out, or whose backoff ended, to the send queue.
  void Tick();
  // Fills `out` (cleared first) with up to `max` messages for `cell` to send now, oldest first,
  // stopping early once their ids and payloads add up to `max_bytes` (always at least one),
  // and marks them in flight as of now. Returns nothing while backing off. If the send then
  // fails without sending anything, pass the same vector to ReturnUnsent().
  void TakeSendable(std::size_t cell, std::size_t max, std::size_t max_bytes,
                    std::vector<Seq>& out);
  // Puts messages from the immediately preceding TakeSendable() (same vector, no other call
  // in between) back at the head of the send queue, as if they had not been taken.
  void ReturnUnsent(const std::vector<Seq>& seqs);
  // True when TakeSendable(cell) would return something (drops stale queue entries).
  bool HasSendable(std::size_t cell);

  // The cell may have lost what was sent to it (its connection went): its messages in flight
  // are queued again for it at once, rather than after their confirm timeout.
  std::size_t ResendInFlight(std::size_t cell);
  // The cell is down (the route now skips it): every message queued or in flight for it moves
  // to its next cell. Returns how many moved.
  std::size_t Evacuate(std::size_t cell);

  ConfirmOutcome OnConfirm(std::string_view id);
  // One ERROR frame refusing `ids` with `code`. A retryable one also pauses all sending for the
  // current backoff, which doubles per such frame and resets on the next confirm.
  ErrorOutcome OnError(const std::vector<std::string>& ids, protocol::ErrorCode code);

  // The earliest time Tick() or TakeSendable() may have something new to do, if any.
  std::optional<core::SteadyTime> NextDeadline() const;

  const std::string& id(Seq seq) const { return Slot(seq).id; }
  const std::string& payload(Seq seq) const { return Slot(seq).payload; }
  std::size_t unsettled() const { return unsettled_; }
  const TrackerCounters& counters() const { return counters_; }
  std::chrono::milliseconds current_backoff() const { return backoff_; }

 private:
  enum class State : std::uint8_t { kFree, kQueued, kInFlight, kBackoff, kSettled };
  struct Entry {
    Seq seq = 0;
    State state = State::kFree;
    bool explicit_id = false;
    std::uint32_t sends = 0;  // how often it was sent; stamps deadline records
    std::uint32_t cell = 0;
    std::uint32_t hop = 0;       // position in the id's cell order (see TrackerOptions::route)
    std::uint32_t refusals = 0;  // retryable refusals since it last started at its first cell
    std::string id;
    std::string payload;
  };
  struct Deadline {  // valid only while the entry is still in flight from that send
    core::SteadyTime at;
    Seq seq;
    std::uint32_t sends;
  };

  Entry& Slot(Seq seq) { return ring_[seq & mask_]; }
  const Entry& Slot(Seq seq) const { return ring_[seq & mask_]; }
  Entry& Admit(std::string_view payload);
  Entry* Find(std::string_view id);
  void Settle(Entry& e);
  // Routes `e` from `from_hop` and puts it in its cell's send queue (state kQueued).
  void Enqueue(Entry& e, std::uint32_t from_hop);

  TrackerOptions options_;
  const core::Clock& clock_;
  std::vector<Entry> ring_;
  Seq mask_ = 0;
  Seq head_ = 1;  // oldest slot not yet freed
  Seq next_ = 1;  // sequence of the next admitted message
  std::size_t unsettled_ = 0;
  std::vector<std::deque<Seq>> send_queues_;  // per cell: entries in kQueued (stale skipped)
  std::deque<Deadline> confirm_deadlines_;    // in send order == deadline order
  std::vector<Deadline> backoff_heap_;        // min-heap on `at`
  std::unordered_map<std::string, Seq> explicit_ids_;
  core::SteadyTime paused_until_{};
  std::chrono::milliseconds backoff_;
  TrackerCounters counters_;
};

}  // namespace mandrill::publisher
