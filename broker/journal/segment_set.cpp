#include "broker/journal/segment_set.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/journal/format.h"

namespace mandrill::broker::journal {

namespace {
constexpr auto kRollRetry = std::chrono::milliseconds(250);
constexpr auto kRollLogEvery = std::chrono::seconds(5);
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
    // One step now and more as the segment fills (Prepare): a segment closed early, or left by
    // a broker that died, then holds little more than it wrote.
    allocated = kSegmentHeaderBytes + std::min(kAllocateStep, options_.segment_bytes) + reserve;
    if (auto s = file->Allocate(0, allocated); !s.ok()) {
      // A failed fallocate may keep what it got (ext4 does): give it back before going on.
      if (auto t = file->Truncate(0); !t.ok()) {
        spdlog::warn("journal: cannot release the space of {}: {}", path, t.message());
      }
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
  CloseHead();
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
    // Without a usable head nothing can be written, so the roll is tried on every pass (the
    // disk may be back, or have room again); a roll that is only due because the head is full
    // waits a moment after failing, and the current head takes the writes meanwhile.
    if (must || now >= roll_retry_after_) {
      if (auto s = Roll(base_seq, now_ms, reserve, must); !s.ok()) {
        JournalStats::Add(stats_->write_errors, 1);
        roll_retry_after_ = now + kRollRetry;
        if (now >= roll_log_after_) {  // a dead disk must not fill the log either
          roll_log_after_ = now + kRollLogEvery;
          spdlog::error(
              "journal: cannot start a new segment: {} (retrying; logged at most "
              "every {} s)",
              s.message(), kRollLogEvery.count());
        }
        if (must) return s.error();
      }
    }
  }
  if (!options_.reserve_space) return Space::kOk;
  const std::uint64_t end = head_->bytes + bytes + reserve;
  if (end <= allocated_end_) return Space::kOk;
  if (Reserve(end + kAllocateStep).ok() || Reserve(end).ok()) return Space::kOk;
  return Space::kReserveOnly;
}

void SegmentSet::CloseHead() {
  if (head_file_ == nullptr) return;
  if (options_.reserve_space && allocated_end_ > head_->bytes) {
    // A closed segment is never written again: give its unused reservation back.
    if (auto s = head_file_->Truncate(head_->bytes); !s.ok()) {
      spdlog::warn("journal: cannot release the unused space of {}: {}", head_->path, s.message());
    } else if (syncs_enabled()) {
      if (auto t = head_file_->Sync(); !t.ok()) {
        spdlog::warn("journal: sync after releasing space of {} failed: {}", head_->path,
                     t.message());
      }
    }
  }
  head_file_.reset();
  head_ = nullptr;
  allocated_end_ = 0;
}

void SegmentSet::ReleaseClosedSpace() {
  for (const auto& [number, s] : segments_) {
    if (&s == head_) continue;
    // Cutting a file at its own length frees what was preallocated past it (a segment that
    // was the head when its broker died, or one written before segments were trimmed).
    if (auto t = TruncateFile(fs_, s.path, s.bytes, /*sync=*/false); !t.ok()) {
      spdlog::warn("journal: cannot release the unused space of {}: {}", s.path, t.message());
    }
  }
}

core::Status SegmentSet::Reserve(std::uint64_t end) {
  auto s = head_file_->Allocate(head_->bytes, end - head_->bytes);
  if (s.ok()) {
    allocated_end_ = end;
    return s;
  }
  if (s.error().code == kDiskFull) {
    // A failed fallocate may keep part of the range (ext4 does), leaving the disk full for
    // everyone. Give everything past the end back, then take the old reservation again.
    if (auto t = head_file_->Truncate(head_->bytes); !t.ok()) {
      spdlog::warn("journal: cannot release space of {}: {}", head_->path, t.message());
    } else if (allocated_end_ > head_->bytes &&
               !head_file_->Allocate(head_->bytes, allocated_end_ - head_->bytes).ok()) {
      allocated_end_ = head_->bytes;
    }
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
    stats_->sync_seconds.Observe(static_cast<double>(us) / 1e6);
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
    // The cut must be durable too: a power loss could otherwise bring back the failed bytes
    // behind records written after them.
    if (syncs_enabled()) {
      if (auto s = head_file_->Sync(); !s.ok()) {
        JournalStats::Add(stats_->write_errors, 1);
        broken_ = true;
        spdlog::error("journal: sync after cutting {} back failed ({}); starting a new segment",
                      head_->path, s.message());
      }
    }
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
  if (syncs_enabled()) {
    // Until the directory is synced a power loss can bring the file back; harmless for replay
    // (records about settled seqs), but the space would be taken again.
    if (auto s = fs_->SyncDir(options_.data_dir); !s.ok()) {
      spdlog::warn("journal: fsync of {} after deleting {} failed: {}", options_.data_dir,
                   oldest->path, s.message());
    }
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
  CloseHead();
  return result;
}

}  // namespace mandrill::broker::journal
