#include "broker/journal/writer.h"

#include <spdlog/spdlog.h>

#include "broker/journal/format.h"
#include "broker/journal/record_codec.h"
#include "shared/core/thread_name.h"

namespace mandrill::broker::journal {

namespace {

constexpr auto kDeleteRetry = std::chrono::seconds(1);
// fsync=always: how long a record nobody waits on (a delivery, ack or nack) may stay written but
// unsynced when no publish comes to sync it. Leases are not durable anyway: such a record lost
// to a power cut only brings its message back once more (at-least-once).
constexpr auto kUnawaitedSyncBound = std::chrono::milliseconds(100);
constexpr auto kDiskFullLogEvery = std::chrono::seconds(5);

// Appends ticket t to the failure list, merging with the last range when contiguous.
void AddFailure(std::vector<StorageProgress::Failure>* f, Ticket t, const std::string& why) {
  if (!f->empty() && f->back().last + 1 == t && f->back().error == why) {
    f->back().last = t;
    return;
  }
  f->push_back(StorageProgress::Failure{t, t, why});
}

bool IsSettle(std::uint8_t type) {
  return type == static_cast<std::uint8_t>(RecordType::kAck) ||
         type == static_cast<std::uint8_t>(RecordType::kPurge);
}

const std::string kTooLarge = "record too large for the journal";

}  // namespace

Writer::Writer(const JournalOptions& options, Fs* fs, Handoff* handoff, JournalStats* stats,
               std::unique_ptr<SegmentSet> segments, std::unique_ptr<LiveSet> live,
               std::uint64_t max_seq, std::int64_t now_ms)
    : options_(options),
      handoff_(handoff),
      stats_(stats),
      segments_(std::move(segments)),
      live_(std::move(live)),
      compactor_(fs, options, segments_.get(), live_.get(), stats),
      max_seq_(max_seq),
      now_ms_(now_ms) {}

Writer::~Writer() = default;

std::uint64_t Writer::SettleReserve() const {
  return options_.reserve_space ? live_->size() * std::uint64_t{kMaxSettleRecordBytes} : 0;
}

void Writer::Run() {
  core::SetThreadName("journal");
  // Unsynced bytes in the head wait for next_sync_: every record under fsync=interval, the
  // unawaited ones under fsync=always.
  const bool deferring = options_.fsync.mode != FsyncPolicy::Mode::kNever;
  next_sync_ = std::chrono::steady_clock::now() + options_.fsync.interval;
  segments_->ReleaseClosedSpace();  // here, off the reactor's restart path
  segments_->PublishStats(now_ms_, options_.dedup_window.count(),
                          static_cast<std::int64_t>(live_->size()));
  std::vector<Batch> batches;
  bool busy = false;
  for (;;) {
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (deferring && SyncPending()) deadline = next_sync_;
    if (handoff_->Take(&batches, /*block=*/!busy, deadline)) break;
    if (!batches.empty()) Pass(batches);
    MaybeDeferredSync();
    busy = Maintain();
    handoff_->Recycle(&batches);
    if (!busy && !(deferring && SyncPending())) handoff_->SetIdle();
  }
  compactor_.Abandon("shutting down", /*failure=*/false);
  final_status_ = segments_->Close();
  if (!final_status_.ok()) {
    spdlog::error("journal: final sync failed: {}", final_status_.message());
  }
  handoff_->SetIdle();
}

void Writer::Pass(std::vector<Batch>& batches) {
  Ticket first = 0, last = 0;
  std::uint64_t bytes = 0, publishes = 0;
  // A segment started for this pass says in its header the highest seq assigned before it.
  const std::uint64_t base_seq = max_seq_;
  std::vector<StorageProgress::Failure> failures;
  bool awaited = false;  // the reactor is woken only for progress it waits on (or failures)
  for (Batch& b : batches) {
    if (b.now_unix_ms > now_ms_) now_ms_ = b.now_unix_ms;
    if (b.empty()) continue;
    awaited = awaited || b.awaited;
    if (first == 0) first = b.first_ticket;
    last = b.last_ticket;
    bytes += b.data.size();
    char* p = b.data.data();
    for (std::size_t i = 0; i < b.events.size(); ++i) {
      const RecordEvent& e = b.events[i];
      if (e.seq > max_seq_) max_seq_ = e.seq;
      if (e.bytes == 0) {
        AddFailure(&failures, b.first_ticket + i, kTooLarge);
        continue;
      }
      if (e.type == static_cast<std::uint8_t>(RecordType::kPublish)) ++publishes;
      SealRecord(p);
      p += e.bytes;
    }
  }
  if (last == 0) return;  // clock ticks only
  if (bytes == 0) {
    handoff_->Report(last, &failures, awaited);
    return;
  }
  const auto fail_all = [&](const std::string& why) {
    failures.clear();
    failures.push_back(StorageProgress::Failure{first, last, why});
    JournalStats::Add(stats_->failed_records, static_cast<std::int64_t>(last - first + 1));
    handoff_->Report(last, &failures, awaited);
  };
  // Reserve room to settle every message live after this pass, including its publishes.
  const std::uint64_t reserve =
      options_.reserve_space ? SettleReserve() + publishes * kMaxSettleRecordBytes : 0;
  auto space = segments_->Prepare(bytes, reserve, base_seq, now_ms_);
  if (!space.ok()) {
    fail_all("journal cannot write: " + space.error().message);
    return;
  }
  if (*space == SegmentSet::Space::kReserveOnly) {
    WriteReserveOnly(batches, &failures);
    return;
  }
  const bool unsynced_before = segments_->head_unsynced();
  deferred_sync_failed_ = false;  // new bytes: worth trying again
  std::vector<struct iovec> iov;
  iov.reserve(batches.size());
  for (Batch& b : batches) {
    if (!b.data.empty()) iov.push_back({b.data.data(), b.data.size()});
  }
  const std::uint64_t before = segments_->head().bytes;
  if (auto s = segments_->Append(iov.data(), static_cast<int>(iov.size())); !s.ok()) {
    spdlog::error("journal: write of tickets {}..{} failed: {}", first, last, s.message());
    fail_all("journal write failed: " + s.message());
    return;
  }
  if (options_.fsync.mode == FsyncPolicy::Mode::kAlways) {
    // Group commit for what is waited on; the rest rides on the next such sync or the bound.
    const auto now = std::chrono::steady_clock::now();
    if (awaited || (unsynced_before && now >= next_sync_)) {
      if (auto s = segments_->Sync(); !s.ok()) {
        spdlog::error("journal: sync of tickets {}..{} failed: {}{}", first, last, s.message(),
                      unsynced_before ? " (acks and deliveries written since the last sync may "
                                        "not survive a power loss: their messages come back)"
                                      : "");
        segments_->CutHead(before);
        fail_all("journal sync failed: " + s.message());
        return;
      }
    } else if (!unsynced_before) {
      next_sync_ = now + kUnawaitedSyncBound;
    }
  }
  for (const Batch& b : batches) Apply(b, nullptr);
  handoff_->Report(last, &failures, awaited);
}

void Writer::WriteReserveOnly(std::vector<Batch>& batches,
                              std::vector<StorageProgress::Failure>* failures) {
  // Only settle records go out, into the space reserved for them; the rest fail.
  std::vector<std::vector<bool>> written(batches.size());
  std::vector<struct iovec> iov;
  Ticket last = 0;
  std::size_t refused = 0;
  for (std::size_t bi = 0; bi < batches.size(); ++bi) {
    Batch& b = batches[bi];
    written[bi].assign(b.events.size(), false);
    if (b.empty()) continue;
    last = b.last_ticket;
    char* p = b.data.data();
    for (std::size_t i = 0; i < b.events.size(); ++i) {
      const RecordEvent& e = b.events[i];
      if (e.bytes == 0) continue;
      if (IsSettle(e.type)) {
        iov.push_back({p, e.bytes});
        written[bi][i] = true;
      } else {
        ++refused;
      }
      p += e.bytes;
    }
  }
  std::string error;
  if (!iov.empty()) {
    const std::uint64_t before = segments_->head().bytes;
    auto s = segments_->Append(iov.data(), static_cast<int>(iov.size()));
    if (s.ok() && options_.fsync.mode == FsyncPolicy::Mode::kAlways) {
      s = segments_->Sync();
      if (!s.ok()) segments_->CutHead(before);
    }
    if (!s.ok()) {
      error = "journal write failed: " + s.message();
      for (auto& w : written) w.assign(w.size(), false);
    }
  }
  const std::string full = "disk full: journal space is reserved for acks, record refused";
  failures->clear();
  std::int64_t failed = 0;
  for (std::size_t bi = 0; bi < batches.size(); ++bi) {
    const Batch& b = batches[bi];
    for (std::size_t i = 0; i < b.events.size(); ++i) {
      if (written[bi][i]) continue;
      ++failed;
      const RecordEvent& e = b.events[i];
      AddFailure(failures, b.first_ticket + i,
                 e.bytes == 0 ? kTooLarge : (!error.empty() && IsSettle(e.type) ? error : full));
    }
  }
  for (std::size_t bi = 0; bi < batches.size(); ++bi) Apply(batches[bi], &written[bi]);
  JournalStats::Add(stats_->failed_records, failed);
  JournalStats::Add(stats_->disk_full_passes, 1);
  const auto now = std::chrono::steady_clock::now();
  if (now >= last_disk_full_log_ + kDiskFullLogEvery) {
    last_disk_full_log_ = now;
    spdlog::error("journal: disk full: refused {} records, wrote {} acks/purges into the reserve",
                  refused, iov.size());
  }
  handoff_->Report(last, failures, /*awaited=*/true);
}

void Writer::Apply(const Batch& b, const std::vector<bool>* written) {
  const char* p = b.data.data();
  std::int64_t applied = 0;
  for (std::size_t i = 0; i < b.events.size(); ++i) {
    const RecordEvent& e = b.events[i];
    if (e.bytes == 0) continue;
    const char* rec = p;
    p += e.bytes;
    if (written != nullptr && !(*written)[i]) continue;
    ++applied;
    switch (static_cast<RecordType>(e.type)) {
      case RecordType::kPublish:
        live_->Publish(e.seq, &segments_->head(), e.bytes, e.id_bytes, e.time);
        break;
      case RecordType::kDeliver:
        live_->Deliver(e.seq, e.attempt);
        break;
      case RecordType::kAck:
      case RecordType::kPurge:
        live_->Settle(e.seq, e.time);
        break;
      case RecordType::kNack:
      case RecordType::kDeadLetter: {
        std::string_view reason;
        DecodeReason(e.type,
                     std::string_view(rec + kRecordHeaderBytes, e.bytes - kRecordHeaderBytes),
                     &reason);
        if (e.type == static_cast<std::uint8_t>(RecordType::kNack)) {
          live_->Nack(e.seq, e.attempt, e.time, reason);
        } else {
          live_->DeadLetter(e.seq, e.attempt, reason, e.time);
        }
        break;
      }
      case RecordType::kRequeue:
        live_->Requeue(e.seq);
        break;
      case RecordType::kState:
      case RecordType::kSettledId:
        break;  // never appended by the reactor
    }
  }
  JournalStats::Add(stats_->records, applied);
}

void Writer::MaybeDeferredSync() {
  if (options_.fsync.mode == FsyncPolicy::Mode::kNever || !SyncPending()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_sync_) return;
  const bool interval = options_.fsync.mode == FsyncPolicy::Mode::kInterval;
  // Also after a failure: a dead disk must not turn this into a busy loop.
  next_sync_ = now + (interval ? options_.fsync.interval
                               : std::chrono::milliseconds(kUnawaitedSyncBound));
  if (auto s = segments_->Sync(); !s.ok()) {
    // Those records were reported done after their write; the OS may now have dropped them.
    // Nothing can be taken back: log, and move new writes to a fresh segment.
    spdlog::error("journal: deferred sync failed ({} may not survive a power loss): {}",
                  interval ? "recent confirms" : "recent acks and deliveries", s.message());
    segments_->RetireHead();
    deferred_sync_failed_ = true;  // not again until something new is written
  }
}

bool Writer::ShouldCompact(const SegmentInfo& oldest) const {
  const double t = options_.compaction_threshold;
  const std::int64_t window = options_.dedup_window.count();
  if (oldest.bytes <= kSegmentHeaderBytes) return false;
  if (static_cast<double>(oldest.NeededBytes(now_ms_, window)) <
      t * static_cast<double>(oldest.bytes)) {
    return true;
  }
  // A large, mostly live oldest segment must not pin all the garbage behind it either.
  std::uint64_t bytes = 0, needed = 0, closed = 0;
  for (const auto& [number, s] : segments_->segments()) {
    if (segments_->has_head() && &s == &segments_->head()) continue;
    bytes += s.bytes;
    needed += s.NeededBytes(now_ms_, window);
    ++closed;
  }
  return closed >= 2 && static_cast<double>(needed) < t * static_cast<double>(bytes);
}

void Writer::DeleteUnneeded() {
  const std::int64_t window = options_.dedup_window.count();
  const auto now = std::chrono::steady_clock::now();
  while (now >= delete_retry_after_) {
    SegmentInfo* oldest = segments_->OldestClosed();
    if (oldest == nullptr || !oldest->Unneeded(now_ms_, window)) break;
    if (!segments_->has_head() && segments_->segments().size() == 1) {
      // The last segment carries the seq numbering (its header and records): start the head,
      // whose header takes it over, before deleting it.
      if (auto s = segments_->Roll(max_seq_, now_ms_, SettleReserve()); !s.ok()) {
        spdlog::error("journal: cannot start a segment to replace {}: {}", oldest->path,
                      s.message());
        delete_retry_after_ = now + kDeleteRetry;
        break;
      }
      continue;  // the map changed: look again
    }
    if (compactor_.active() && compactor_.segment() == oldest->number) {
      compactor_.Abandon("nothing left to carry", /*failure=*/false);
    }
    const std::uint64_t number = oldest->number;
    if (auto s = segments_->DeleteOldest(); !s.ok()) {
      spdlog::error("journal: cannot delete segment {}: {}", number, s.message());
      delete_retry_after_ = now + kDeleteRetry;
      break;
    }
    live_->SegmentGone(number);
  }
}

bool Writer::Maintain() {
  const std::size_t segments_before = segments_->segments().size();
  DeleteUnneeded();
  if (compactor_.active()) {
    compactor_.Step(now_ms_, max_seq_);
    if (!compactor_.active()) DeleteUnneeded();  // the run just finished
  }
  if (!compactor_.active() && options_.compaction_threshold > 0 &&
      std::chrono::steady_clock::now() >= compactor_.retry_after()) {
    SegmentInfo* oldest = segments_->OldestClosed();
    // An unneeded oldest segment is deleted (above, or after a failed unlink's pause), never
    // compacted.
    if (oldest != nullptr && !oldest->Unneeded(now_ms_, options_.dedup_window.count()) &&
        ShouldCompact(*oldest)) {
      compactor_.Start(*oldest);
      if (compactor_.active()) {
        compactor_.Step(now_ms_, max_seq_);
        if (!compactor_.active()) DeleteUnneeded();
      }
    }
  }
  segments_->PublishStats(now_ms_, options_.dedup_window.count(),
                          static_cast<std::int64_t>(live_->size()));
  // More to do without waiting for a batch: a run in progress, or segments just went (the
  // next oldest may want compacting too).
  return compactor_.active() || segments_->segments().size() < segments_before;
}

}  // namespace mandrill::broker::journal
