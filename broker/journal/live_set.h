#pragma once
// The journal's own view of which messages are live and where their records are, kept from the
// records it writes (and, at start, from recovery), so that segment deletion and compaction need
// nothing from the broker.
//
// Per live seq: the segment holding its latest publish copy, the bytes that copy (plus any
// state record written with it) occupies, and its current state (attempts, ready / deferred /
// dead, last error). Per segment (SegmentInfo): live count and bytes, and the settled ids it
// still holds for deduplication. A seq leaves the set when settled (ack or purge); its id is
// then counted against the segment holding its publish until that segment goes.
//
// Thread: the writer thread only (recovery builds it before the writer starts).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker/journal/record_codec.h"
#include "broker/journal/segment_info.h"
#include "broker/journal/seq_table.h"

namespace mandrill::broker::journal {

class LiveSet {
 public:
  struct Entry {
    std::uint64_t segment = 0;
    std::uint32_t bytes = 0;  // bytes counted in segment->live_bytes
    std::uint32_t attempts = 0;
    std::uint16_t id_bytes = 0;  // settled-id record size, counted once settled
    RecoveredMessage::State state = RecoveredMessage::State::kReady;
  };
  // Only for messages that are deferred, dead or carry an error: kept apart to keep Entry small.
  struct Extra {
    std::int64_t not_before_unix_ms = 0;
    std::int64_t dead_at_unix_ms = 0;
    std::string last_error;
  };

  // Resolves a segment number to its accounting (owned by SegmentSet); nullptr if unknown.
  using SegmentLookup = std::function<SegmentInfo*(std::uint64_t)>;
  explicit LiveSet(SegmentLookup lookup) : lookup_(std::move(lookup)) {}

  // A publish record of `bytes` landed in `seg`. A seq already live is left alone (duplicate).
  void Publish(std::uint64_t seq, SegmentInfo* seg, std::uint32_t bytes, std::uint32_t id_bytes,
               std::int64_t published_unix_ms);
  void Deliver(std::uint64_t seq, std::uint32_t attempt);
  void Nack(std::uint64_t seq, std::uint32_t attempt, std::int64_t not_before_unix_ms,
            std::string_view reason);
  void DeadLetter(std::uint64_t seq, std::uint32_t attempts, std::string_view reason,
                  std::int64_t dead_at_unix_ms);
  void Requeue(std::uint64_t seq);
  // Replaces the whole state (a compaction state record).
  void SetState(const StateRecord& s);
  // Ack or purge at `settled_unix_ms`: the seq leaves the set; its id is counted as held by its
  // segment, which must then keep it for a dedup window from the settle.
  void Settle(std::uint64_t seq, std::int64_t settled_unix_ms);
  // Compaction copied the seq's publish (and a state record, `bytes` in all) into `to`.
  void Moved(std::uint64_t seq, SegmentInfo* to, std::uint32_t bytes);

  // Recovery: adds a live message as replay left it.
  void Restore(std::uint64_t seq, SegmentInfo* seg, std::uint32_t bytes, std::uint32_t id_bytes,
               std::int64_t published_unix_ms, std::uint32_t attempts,
               RecoveredMessage::State state, std::int64_t not_before_unix_ms,
               std::int64_t dead_at_unix_ms, std::string_view last_error);

  // Null if not live.
  const Entry* Find(std::uint64_t seq) { return table_.Find(seq); }
  // The state compaction writes for a live seq.
  StateRecord StateOf(std::uint64_t seq);
  // True when the seq's state is just "published": ready, no attempts, no error.
  bool IsPristine(std::uint64_t seq);

  std::size_t size() const { return table_.size(); }
  // The segment is being deleted: forget any cached pointer to it.
  void SegmentGone(std::uint64_t number) {
    if (cached_number_ == number) cached_ = nullptr;
  }

 private:
  SegmentInfo* Seg(std::uint64_t number);
  Extra& ExtraFor(std::uint64_t seq) { return extras_[seq]; }

  SegmentLookup lookup_;
  SeqTable<Entry> table_;
  std::unordered_map<std::uint64_t, Extra> extras_;
  std::uint64_t cached_number_ = 0;
  SegmentInfo* cached_ = nullptr;
};

}  // namespace mandrill::broker::journal
