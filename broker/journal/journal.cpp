#include "broker/journal/journal.h"

#include <spdlog/spdlog.h>

#include "broker/journal/epoch_file.h"
#include "broker/journal/format.h"
#include "broker/journal/record_codec.h"
#include "broker/journal/recovery.h"
#include "broker/journal/writer.h"

namespace mandrill::broker::journal {

namespace {
constexpr std::int64_t kTickMs = 1000;

// Fills the event the writer uses to track liveness.
struct EventFiller {
  RecordEvent* e;
  void operator()(const PublishRecord& r) const {
    e->time = r.published_unix_ms;
    e->id_bytes = static_cast<std::uint16_t>(
        std::min<std::uint32_t>(SettledIdRecordBytes(r.queue.size(), r.id.size()), 0xffff));
  }
  void operator()(const DeliverRecord& r) const { e->attempt = r.attempt; }
  void operator()(const AckRecord& r) const { e->time = r.settled_unix_ms; }
  void operator()(const NackRecord& r) const {
    e->attempt = r.attempt;
    e->time = r.not_before_unix_ms;
  }
  void operator()(const DeadLetterRecord& r) const {
    e->attempt = r.attempts;
    e->time = r.dead_at_unix_ms;
  }
  void operator()(const RequeueRecord&) const {}
  void operator()(const PurgeRecord& r) const { e->time = r.settled_unix_ms; }
};
}  // namespace

Journal::Journal(JournalOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &system_clock_),
      fs_(options_.fs != nullptr ? options_.fs : PosixFs()) {}

Journal::~Journal() {
  if (auto s = Close(); !s.ok()) {
    spdlog::error("journal: close on destruction failed: {}", s.message());
  }
}

core::Result<std::uint64_t> Journal::Open() {
  if (state_ != State::kNew) {
    return core::Error{kClosed, "journal Open() called after Recover() or Close()"};
  }
  if (epoch_ != 0) return epoch_;
  if (auto s = ValidateOptions(options_); !s.ok()) return s.error();
  if (!handoff_.init_status().ok()) return handoff_.init_status().error();
  if (auto s = fs_->CreateDirs(options_.data_dir); !s.ok()) {
    return core::Error{s.error().code, "cannot create journal dir: " + s.message()};
  }
  // The dir itself is what is locked (a LOCK file can be deleted from under a running broker,
  // letting a second one in); LOCK is still taken too, so that a broker of an older version,
  // which only knows LOCK, is kept out as well.
  auto dir_lock = fs_->Lock(options_.data_dir);
  if (!dir_lock.ok()) return dir_lock.error();
  auto lock = fs_->Lock(options_.data_dir + "/LOCK");
  if (!lock.ok()) return lock.error();
  // Under the lock, so two brokers never advance it together; before Recover, so a start that
  // then fails on a segment still used up its epoch (epochs may skip, never repeat).
  auto epoch = AdvanceEpoch(fs_, options_.data_dir);
  if (!epoch.ok()) return epoch.error();
  dir_lock_ = std::move(*dir_lock);
  lock_ = std::move(*lock);
  epoch_ = *epoch;
  spdlog::info("journal: data dir {} locked; epoch {} (kept in {}/{})", options_.data_dir, epoch_,
               options_.data_dir, kEpochFileName);
  return epoch_;
}

core::Result<std::uint64_t> Journal::Recover(RecoverySink& sink) {
  if (state_ != State::kNew) {
    return core::Error{kClosed, "journal Recover() called twice or after Close()"};
  }
  if (epoch_ == 0) {
    if (auto epoch = Open(); !epoch.ok()) return epoch.error();
  }

  const std::int64_t now_ms = clock_->WallMs();
  auto result = RecoverSegments(fs_, options_, now_ms, &stats_);
  if (!result.ok()) {
    lock_.reset();
    dir_lock_.reset();
    epoch_ = 0;  // unlocked: a retry must lock and advance again
    return result.error();
  }
  RecoveryResult& r = *result;
  // No head segment yet: the writer creates it on the first write, so a start that fails
  // (or a broker that never writes) leaves nothing behind.
  writer_ = std::make_unique<Writer>(options_, fs_, &handoff_, &stats_, std::move(r.segments),
                                     std::move(r.live), r.max_seq, now_ms);
  thread_ = std::thread([w = writer_.get()] { w->Run(); });
  state_ = State::kOpen;
  last_handoff_ms_ = now_ms;
  spdlog::info("journal: open in {} (fsync {}, segments of {} bytes)", options_.data_dir,
               options_.fsync.ToString(), options_.segment_bytes);
  // The writer owns the segments and the live set now; what the sink gets are views into the
  // segment bytes recovery mapped, which stay valid (even if the writer deletes a file) until
  // Emit releases them.
  r.Emit(sink);
  return r.max_seq;
}

Ticket Journal::Append(const Record& record) {
  const Ticket t = next_ticket_++;
  if (batch_.first_ticket == 0) batch_.first_ticket = t;
  batch_.last_ticket = t;
  RecordEvent& e = batch_.events.emplace_back();
  e.type = static_cast<std::uint8_t>(TypeOf(record));
  if (std::holds_alternative<PublishRecord>(record) ||
      std::holds_alternative<RequeueRecord>(record) || std::holds_alternative<PurgeRecord>(record)) {
    batch_.awaited = true;
  }
  const std::size_t start = batch_.data.size();
  std::visit(
      [&](const auto& r) {
        e.seq = r.seq;
        const std::size_t n = AppendFramed(r, &batch_.data);
        EventFiller{&e}(r);
        if (n - kRecordHeaderBytes > kMaxRecordBodyBytes) {
          spdlog::error(
              "journal: {} record for seq {} is {} bytes, over the {} byte limit: "
              "refused",
              RecordTypeName(e.type), e.seq, n, kMaxRecordBodyBytes);
          batch_.data.Truncate(start);
          e.bytes = 0;
        } else {
          e.bytes = static_cast<std::uint32_t>(n);
        }
      },
      record);
  return t;
}

void Journal::CommitPass() {
  if (state_ == State::kOpen && !batch_.empty() && !batch_.awaited &&
      batch_.data.size() < kHoldBytes) {
    const core::SteadyTime now = clock_->Now();
    if (!held_since_) held_since_ = now;
    if (now - *held_since_ < kHold) return;
  }
  Commit();
}

void Journal::Commit() {
  held_since_.reset();
  const std::int64_t now_ms = clock_->WallMs();
  if (batch_.empty()) {
    // An idle reactor still moves the writer's clock now and then.
    if (state_ != State::kOpen || now_ms - last_handoff_ms_ < kTickMs) return;
  }
  if (state_ != State::kOpen) {
    handoff_.ReportLocalFailure(StorageProgress::Failure{
        batch_.first_ticket, batch_.last_ticket,
        state_ == State::kNew ? "journal not recovered yet" : "journal closed"});
    batch_.Clear();
    return;
  }
  batch_.now_unix_ms = now_ms;
  last_handoff_ms_ = now_ms;
  handoff_.Submit(&batch_);
}

core::Status Journal::Close() {
  if (state_ == State::kNew) {
    state_ = State::kClosed;
    lock_.reset();  // Open() without Recover()
    dir_lock_.reset();
    return core::Status::Ok();
  }
  if (state_ == State::kClosed) return core::Status::Ok();
  Commit();
  handoff_.RequestStop();
  thread_.join();
  state_ = State::kClosed;
  core::Status result = writer_->final_status();
  writer_.reset();
  lock_.reset();
  dir_lock_.reset();
  spdlog::info("journal: closed {}", options_.data_dir);
  return result;
}

protocol::Counters Journal::Stats() const {
  const auto get = [](const std::atomic<std::int64_t>& c) {
    return c.load(std::memory_order_relaxed);
  };
  return protocol::Counters{
      {"journal.segments", get(stats_.segments)},
      {"journal.bytes", get(stats_.bytes)},
      {"journal.live_permille", get(stats_.live_permille)},
      {"journal.live_messages", get(stats_.live_messages)},
      {"journal.last_sync_us", get(stats_.last_sync_us)},
      {"journal.syncs", get(stats_.syncs)},
      {"journal.records", get(stats_.records)},
      {"journal.write_errors", get(stats_.write_errors)},
      {"journal.failed_records", get(stats_.failed_records)},
      {"journal.disk_full_passes", get(stats_.disk_full_passes)},
      {"journal.compactions", get(stats_.compactions)},
      {"journal.compacted_bytes", get(stats_.compacted_bytes)},
      {"journal.segments_deleted", get(stats_.segments_deleted)},
      {"journal.recovery_ms", get(stats_.recovery_ms)},
      {"journal.recovered_messages", get(stats_.recovered_messages)},
      {"journal.recovered_ids", get(stats_.recovered_ids)},
      {"journal.recovered_records", get(stats_.recovered_records)},
      {"journal.recovery_corrupt_regions", get(stats_.recovery_corrupt_regions)},
      {"journal.recovery_corrupt_bytes", get(stats_.recovery_corrupt_bytes)},
      {"journal.recovery_truncated_bytes", get(stats_.recovery_truncated_bytes)},
      {"journal.recovery_conflicts", get(stats_.recovery_conflicts)},
  };
}

std::unique_ptr<Storage> OpenJournal(const JournalOptions& options) {
  return std::make_unique<Journal>(options);
}

}  // namespace mandrill::broker::journal
