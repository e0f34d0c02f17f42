#pragma once
// Applies replayed records (recovery.h has the rules) to flat, seq-indexed bookkeeping that
// points into the segment bytes instead of copying them: a live message is a 48-byte slot
// holding a pointer to its publish body in the mapped segment, and a settled id is two views.
// Payloads, queue names and ids are decoded in place only when the messages are handed to
// the broker (Emit), so replay allocates per message nothing but its slot.
//
// The segment bytes every view points into must stay mapped until Emit returns.
// Thread: the reactor thread, during Journal::Recover.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/journal/live_set.h"
#include "broker/journal/options.h"
#include "broker/journal/record_scanner.h"
#include "broker/journal/record_views.h"
#include "broker/journal/segment_info.h"
#include "broker/journal/segment_set.h"
#include "broker/journal/seq_table.h"
#include "broker/journal/stats.h"
#include "broker/storage.h"

namespace mandrill::broker::journal {

class Replayer {
 public:
  // Corrupt regions and conflicts reported one by one; past this many only counted (and
  // summarised at the end).
  static constexpr int kDetailedReports = 20;

  Replayer(const JournalOptions& options, std::int64_t now_ms, JournalStats* stats);

  // Registers the segment whose records come next (in file order, oldest segment first).
  void BeginSegment(SegmentInfo* seg);
  void Apply(const ScannedRecord& rec);
  void Corrupt(const std::string& path, std::uint64_t offset, std::uint64_t length,
               const std::string& what);
  void NoteBaseSeq(std::uint64_t base) { max_seq_ = std::max(max_seq_, base); }
  // Sizes the slot array once from the bytes about to be replayed.
  void Reserve(std::uint64_t total_bytes);

  // After the last segment: the journal's own live set (which the writer takes over).
  std::unique_ptr<LiveSet> BuildLiveSet(SegmentSet* segments);
  // Hands every live message (seq order), then every settled id in the dedup window (seq
  // order), to the sink.
  void Emit(RecoverySink& sink);

  std::uint64_t max_seq() const { return max_seq_; }
  std::uint64_t records() const { return records_; }
  int corrupt_reports() const { return corrupt_reports_; }
  std::size_t live_messages() const { return live_; }
  std::size_t settled_ids() const { return ids_.size(); }
  std::size_t CountInState(RecoveredMessage::State s) const;

 private:
  struct Slot {
    const char* body = nullptr;  // latest publish copy's body, in the segment bytes
    std::uint64_t seq = 0;
    std::int64_t published = 0;
    std::uint32_t body_len = 0;
    std::uint32_t segment = 0;  // index into segments_
    std::uint32_t bytes = 0;    // publish copy (+ state record) bytes in that segment
    std::uint32_t attempts = 0;
    std::uint32_t extra = 0;  // index + 1 into extras_, 0 if none
    std::uint16_t id_bytes = 0;
    std::uint8_t state = 0;  // RecoveredMessage::State
    bool live = false;
  };
  struct Extra {
    std::int64_t not_before = 0;
    std::int64_t dead_at = 0;
    std::string_view last_error;
  };
  struct Id {
    std::uint64_t seq = 0;
    std::string_view queue, id;
    std::int64_t since = 0;  // where its dedup window starts (WindowStart)
  };

  Slot* LiveSlot(std::uint64_t seq);
  Extra& ExtraOf(Slot& s);
  void OnPublish(const ScannedRecord& rec);
  void OnSettledId(std::uint32_t bytes);
  void Settle(std::uint64_t seq, std::int64_t settled_ms);
  // A publish of a known seq whose body differs from the first one's: a second writer.
  void Conflict(const Slot& first, const ScannedRecord& rec);

  const std::int64_t window_ms_;
  const std::int64_t now_ms_;
  JournalStats* stats_;
  std::vector<SegmentInfo*> segments_;
  SegmentInfo* seg_ = nullptr;  // the segment being replayed
  RecordView r_;                // the record being applied
  std::vector<Slot> slots_;     // in order of first publish
  std::vector<Extra> extras_;
  SeqTable<std::uint32_t> index_;  // seq -> slot + 1, or kSettled
  std::vector<Id> ids_;
  std::vector<Slot> conflicts_;  // live under new seqs once replay is over
  std::set<std::uint8_t> unknown_types_;
  std::uint64_t max_seq_ = 0;
  std::uint64_t last_new_seq_ = 0;
  bool slots_sorted_ = true;
  bool ids_sorted_ = true;
  std::uint64_t records_ = 0;
  std::size_t live_ = 0;
  int corrupt_reports_ = 0;
};

}  // namespace mandrill::broker::journal
