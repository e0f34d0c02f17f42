#include "broker/journal/segment_set.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/journal/format.h"

namespace mandrill::broker::journal {

namespace {
constexpr auto kRollRetry = std::chrono::milliseconds(250);
constexpr std::uint64_t kAllocateStep = 1u << 20;
}  // namespace

SegmentSet::SegmentSet(Fs* fs, const JournalOptions& options, JournalStats* stats)
    : fs_(fs), options_(options), stats_(stats) {}

SegmentSet::~SegmentSet() = default;

SegmentInfo* SegmentSet::AddClosed(std::uint64_t number, const std::string& path,
                                   std::uint64_t bytes) {
  SegmentInfo& s = segments_[number];
  s.number = number;
  s.path = path;
  s.bytes = bytes;
  return &s;
}

SegmentInfo* SegmentSet::Find(std::uint64_t number) {
  auto it = segments_.find(number);
  return it == segments_.end() ? nullptr : &it->second;
}

core::Status SegmentSet::Roll(std::uint64_t base_seq, std::int64_t now_ms, std::uint64_t reserve,
                              bool must) {
  if (head_file_ != nullptr && syncs_enabled() && head_unsynced()) {
    // A failure here is counted (compaction then distrusts its copies) but does not stop the
    // roll: the records concerned were either reported durable already (interval) or are
    // compaction copies that will be made again.
    if (auto s = Sync(); !s.ok()) {
      spdlog::error("journal: sync before closing segment {} failed: {}", head_->path, s.message());
    }
  }
  const std::uint64_t number = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
  const std::string path = options_.data_dir + "/" + SegmentFileName(number);
  auto opened = fs_->OpenWritable(path, /*create_new=*/true);
  if (!opened.ok()) return opened.error();
  std::unique_ptr<WritableFile> file = std::move(*opened);
  const auto abandon = [&](const core::Status& why) {
    file.reset();
    if (auto r = fs_->Remove(path); !r.ok()) {
      spdlog::warn("journal: could not remove abandoned segment {}: {}", path, r.message());
    }
    return why;
  };
  std::uint64_t allocated = 0;
  if (options_.reserve_space) {
    allocated = options_.segment_bytes + reserve;
    if (auto s = file->Allocate(0, allocated); !s.ok()) {
      if (!must || s.error().code != kDiskFull) return abandon(s);
      spdlog::error("journal: no space to preallocate {}: {}; using it unreserved", path,
                    s.message());
      allocated = 0;
    }
  }
  char header[kSegmentHeaderBytes];
  EncodeSegmentHeader(SegmentHeader{kFormatVersion, number, base_seq, now_ms}, header);
  if (auto s = file->Append(std::string_view(header, sizeof(header))); !s.ok()) return abandon(s);
  if (syncs_enabled()) {
    // The directory entry must be durable before any record synced into the file counts.
    if (auto s = fs_->SyncDir(options_.data_dir); !s.ok()) return abandon(s);
  }
  head_file_.reset();  // closes the previous head
  SegmentInfo& info = segments_[number];
  info.number = number;
  info.path = path;
  info.bytes = file->Size();
  head_ = &info;
  head_file_ = std::move(file);
  synced_bytes_ = 0;
  allocated_end_ = allocated;
  broken_ = false;
  spdlog::debug("journal: opened segment {}", path);
  return core::Status::Ok();
}

core::Result<SegmentSet::Space> SegmentSet::Prepare(std::uint64_t bytes, std::uint64_t reserve,
                                                    std::uint64_t base_seq, std::int64_t now_ms) {
  const bool full = head_ != nullptr && head_->bytes > kSegmentHeaderBytes &&
                    head_->bytes + bytes > options_.segment_bytes;
  if (head_ == nullptr || broken_ || full) {
    const bool must = head_ == nullptr || broken_;
    const auto now = std::chrono::steady_clock::now();
    if (now < roll_retry_after_) {
      // A roll failed moments ago: do not hammer a failing disk (or the log) on every pass.
      if (must) return roll_error_;
    } else if (auto s = Roll(base_seq, now_ms, reserve, must); !s.ok()) {
      JournalStats::Add(stats_->write_errors, 1);
      roll_retry_after_ = now + kRollRetry;
      roll_error_ = s.error();
      spdlog::error("journal: cannot start a new segment: {}", s.message());
      if (must) return s.error();
    }
  }
  if (!options_.reserve_space) return Space::kOk;
  const std::uint64_t end = head_->bytes + bytes + reserve;
  if (end <= allocated_end_) return Space::kOk;
  if (Reserve(end + kAllocateStep).ok() || Reserve(end).ok()) return Space::kOk;
  return Space::kReserveOnly;
}

core::Status SegmentSet::Reserve(std::uint64_t end) {
  auto s = head_file_->Allocate(head_->bytes, end - head_->bytes);
  if (s.ok()) {
    allocated_end_ = end;
    return s;
  }
  if (s.error().code != kDiskFull) {
    // Not a space problem (e.g. EIO): the write itself will tell.
    spdlog::warn("journal: fallocate on {} failed: {}", head_->path, s.message());
    allocated_end_ = end;
    return core::Status::Ok();
  }
  return s;
}

core::Status SegmentSet::Append(const struct iovec* iov, int count) {
  const std::uint64_t before = head_file_->Size();
  auto s = head_file_->Append(iov, count);
  if (!s.ok()) {
    JournalStats::Add(stats_->write_errors, 1);
    if (head_file_->Size() != before) CutHead(before);
  }
  head_->bytes = head_file_->Size();
  return s;
}

core::Status SegmentSet::Sync() {
  if (head_file_ == nullptr) return core::Status::Ok();
  const auto t0 = std::chrono::steady_clock::now();
  auto s = head_file_->Sync();
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (s.ok()) {
    synced_bytes_ = head_->bytes;
    JournalStats::Add(stats_->syncs, 1);
    JournalStats::Set(stats_->last_sync_us, us);
  } else {
    JournalStats::Add(stats_->write_errors, 1);
    ++sync_failures_;
  }
  return s;
}

void SegmentSet::CutHead(std::uint64_t size) {
  if (head_file_ == nullptr || size >= head_file_->Size()) return;
  if (auto t = head_file_->Truncate(size); !t.ok()) {
    JournalStats::Add(stats_->write_errors, 1);
    broken_ = true;
    spdlog::error("journal: cannot cut {} back to {} bytes ({}); starting a new segment",
                  head_->path, size, t.message());
  } else {
    allocated_end_ = std::min(allocated_end_, size);  // truncation frees preallocated blocks
  }
  head_->bytes = head_file_->Size();
  synced_bytes_ = std::min(synced_bytes_, head_->bytes);
}

SegmentInfo* SegmentSet::OldestClosed() {
  if (segments_.empty()) return nullptr;
  SegmentInfo* oldest = &segments_.begin()->second;
  return oldest == head_ ? nullptr : oldest;
}

core::Status SegmentSet::DeleteOldest() {
  SegmentInfo* oldest = OldestClosed();
  if (oldest == nullptr) return core::Status::Ok();
  if (auto s = fs_->Remove(oldest->path); !s.ok()) {
    JournalStats::Add(stats_->write_errors, 1);
    return s;
  }
  spdlog::debug("journal: deleted segment {}", oldest->path);
  segments_.erase(segments_.begin());
  JournalStats::Add(stats_->segments_deleted, 1);
  return core::Status::Ok();
}

std::uint64_t SegmentSet::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& [number, s] : segments_) n += s.bytes;
  return n;
}

void SegmentSet::PublishStats(std::int64_t now_ms, std::int64_t window_ms,
                              std::int64_t live_messages) {
  std::uint64_t bytes = 0, needed = 0;
  for (const auto& [number, s] : segments_) {
    bytes += s.bytes;
    needed += s.NeededBytes(now_ms, window_ms);
  }
  JournalStats::Set(stats_->segments, static_cast<std::int64_t>(segments_.size()));
  JournalStats::Set(stats_->bytes, static_cast<std::int64_t>(bytes));
  JournalStats::Set(
      stats_->live_permille,
      bytes == 0 ? 1000 : static_cast<std::int64_t>(std::min(needed, bytes) * 1000 / bytes));
  JournalStats::Set(stats_->live_messages, live_messages);
}

core::Status SegmentSet::Close() {
  core::Status result;
  if (head_file_ != nullptr && head_unsynced()) result = Sync();  // even with fsync=never
  head_file_.reset();
  head_ = nullptr;
  return result;
}

}  // namespace mandrill::broker::journal
