#include "broker/journal/recovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "broker/journal/format.h"
#include "broker/journal/record_scanner.h"
#include "broker/journal/replayer.h"

namespace mandrill::broker::journal {

namespace {

// The segment's bytes: mapped where the Fs can, else read into b->copy.
core::Result<std::string_view> LoadBytes(RecoveryResult::Bytes* b) {
  if (auto mapped = b->file->Map()) return *mapped;
  const std::uint64_t size = b->file->Size();
  b->copy.Clear();
  auto n = b->file->ReadAt(0, static_cast<std::size_t>(size),
                           b->copy.Extend(static_cast<std::size_t>(size)));
  if (!n.ok()) return n.error();
  b->copy.Truncate(*n);  // the file may have shrunk since stat
  return b->copy.view();
}
}  // namespace

RecoveryResult::RecoveryResult() = default;
RecoveryResult::~RecoveryResult() = default;
RecoveryResult::RecoveryResult(RecoveryResult&&) noexcept = default;
RecoveryResult& RecoveryResult::operator=(RecoveryResult&&) noexcept = default;

void RecoveryResult::Emit(RecoverySink& sink) {
  if (replayer != nullptr) replayer->Emit(sink);
  replayer.reset();
  bytes.clear();
}

core::Result<RecoveryResult> RecoverSegments(Fs* fs, const JournalOptions& options,
                                             std::int64_t now_ms, JournalStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  auto names = fs->ListDir(options.data_dir);
  if (!names.ok()) return names.error();
  std::vector<std::pair<std::uint64_t, std::string>> found;
  for (const std::string& name : *names) {
    if (auto n = ParseSegmentFileName(name)) found.emplace_back(*n, name);
  }
  std::sort(found.begin(), found.end());

  RecoveryResult result;
  result.segments = std::make_unique<SegmentSet>(fs, options, stats);
  result.replayer = std::make_unique<Replayer>(options, now_ms, stats);
  Replayer& replay = *result.replayer;
  // Sizes first: to reserve memory once, and to know which segment is really the last one (a
  // trailing file shorter than a header is the debris of a crash, not the last segment).
  std::vector<std::unique_ptr<ReadableFile>> files(found.size());
  std::uint64_t all_bytes = 0;
  std::size_t last_real = found.size();  // index of the last segment with a whole header
  for (std::size_t i = 0; i < found.size(); ++i) {
    auto f = fs->OpenReadable(options.data_dir + "/" + found[i].second);
    if (!f.ok()) {
      return core::Error{f.error().code, "cannot read journal segment: " + f.error().message};
    }
    all_bytes += (*f)->Size();
    if ((*f)->Size() >= kSegmentHeaderBytes) last_real = i;
    files[i] = std::move(*f);
  }
  replay.Reserve(all_bytes);
  result.bytes.reserve(found.size());
  std::uint64_t total_bytes = 0;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto& [number, name] = found[i];
    const std::string path = options.data_dir + "/" + name;
    if (result.segments->Find(number) != nullptr) {
      spdlog::warn("journal: ignoring {}: another file already has segment number {}", path,
                   number);
      continue;
    }
    RecoveryResult::Bytes& held = result.bytes.emplace_back();
    held.file = std::move(files[i]);
    auto loaded = LoadBytes(&held);
    if (!loaded.ok()) {
      return core::Error{loaded.error().code,
                         "cannot read journal segment: " + loaded.error().message};
    }
    const std::string_view buf = *loaded;
    const bool last = i + 1 == found.size() || i >= last_real;
    SegmentHeader header;
    const HeaderCheck check = DecodeSegmentHeader(buf, &header);
    if (check == HeaderCheck::kNewerVersion) {
      return core::Error{kUnsupportedVersion, path + " has journal format version " +
                                                  std::to_string(header.version) +
                                                  "; this broker reads versions up to " +
                                                  std::to_string(kFormatVersion) +
                                                  ": run a newer broker on this data dir"};
    }
    if (last && buf.size() < kSegmentHeaderBytes) {
      // Created, then the process died before its header was complete: nothing in it.
      spdlog::warn("journal: removing {}: {} bytes, shorter than a segment header", path,
                   buf.size());
      result.bytes.pop_back();
      if (auto s = fs->Remove(path); !s.ok()) return s.error();
      if (auto s = fs->SyncDir(options.data_dir); !s.ok()) return s.error();
      continue;
    }
    total_bytes += buf.size();
    SegmentInfo* seg = result.segments->AddClosed(number, path, buf.size());
    replay.BeginSegment(seg);
    if (check != HeaderCheck::kOk) {
      replay.Corrupt(path, 0, std::min<std::uint64_t>(buf.size(), kSegmentHeaderBytes),
                     "bad segment header");
    } else {
      if (header.number != number) {
        spdlog::warn("journal: {} says it is segment {} (file renamed?)", path, header.number);
      }
      replay.NoteBaseSeq(header.base_seq);
    }
    if (buf.size() <= kSegmentHeaderBytes) continue;
    RecordScanner scanner(buf.substr(kSegmentHeaderBytes), kSegmentHeaderBytes, true);
    ScannedRecord rec;
    CorruptRegion bad;
    for (;;) {
      const auto step = scanner.Next(&rec, &bad);
      if (step == RecordScanner::Step::kEnd) break;
      if (step == RecordScanner::Step::kRecord) {
        replay.Apply(rec);
        continue;
      }
      if (bad.tail && last) {
        spdlog::warn(
            "journal: {}: incomplete record at the end (offset {}, {} bytes, a torn "
            "write): truncated",
            path, bad.offset, bad.length);
        if (auto s = TruncateFile(fs, path, bad.offset, /*sync=*/true); !s.ok()) {
          return core::Error{s.error().code, "cannot truncate torn journal tail: " + s.message()};
        }
        seg->bytes = bad.offset;
        JournalStats::Add(stats->recovery_truncated_bytes, static_cast<std::int64_t>(bad.length));
        continue;
      }
      replay.Corrupt(path, bad.offset, bad.length,
                     bad.tail ? "corrupt bytes up to the end of the segment" : "corrupt bytes");
    }
  }

  result.live = replay.BuildLiveSet(result.segments.get());
  result.max_seq = replay.max_seq();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  using State = RecoveredMessage::State;
  if (replay.corrupt_reports() > Replayer::kDetailedReports) {
    spdlog::warn("journal: {} corrupt regions in all ({} bytes)", replay.corrupt_reports(),
                 stats->recovery_corrupt_bytes.load());
  }
  spdlog::info(
      "journal: recovered {} messages ({} ready, {} deferred, {} dead) and {} settled "
      "ids, max seq {}, from {} segments ({} bytes, {} records) in {} ms",
      replay.live_messages(), replay.CountInState(State::kReady),
      replay.CountInState(State::kDeferred), replay.CountInState(State::kDead),
      replay.settled_ids(), result.max_seq, found.size(), total_bytes, replay.records(), ms);
  JournalStats::Set(stats->recovery_ms, ms);
  JournalStats::Set(stats->recovered_messages, static_cast<std::int64_t>(replay.live_messages()));
  JournalStats::Set(stats->recovered_ids, static_cast<std::int64_t>(replay.settled_ids()));
  JournalStats::Set(stats->recovered_records, static_cast<std::int64_t>(replay.records()));
  return result;
}

}  // namespace mandrill::broker::journal
