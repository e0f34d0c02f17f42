// Fuzz target for the journal's reader side on arbitrary segment bytes (issue 11). The first
// input byte picks the mode:
//   even: the record scanner over the rest, whole and in slices (as compaction reads), with
//         its contract checked: records and corrupt regions tile the bytes exactly, in order;
//         every record's CRC matches; the slice-wise scan finds the same records; and the
//         allocation-free decoder (record_views) accepts a body exactly when DecodeBody does.
//   odd:  recovery of a data dir made from the rest: up to three segments separated by the
//         byte sequence "\n--\n", each behind a valid segment header (unless bit 1 of the
//         mode byte is set: then the bytes are the whole file). Recover must not crash, must
//         hand over unique seqs in increasing order, none above the max seq it returns, and a
//         second recovery of the same dir (after the first one's repairs) must find the same.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "broker/journal/format.h"
#include "broker/journal/journal.h"
#include "broker/journal/record_codec.h"
#include "broker/journal/record_scanner.h"
#include "broker/journal/record_views.h"
#include "tests/fuzz/protocol/fuzz_support.h"

namespace {

using namespace mandrill::broker;
using namespace mandrill::broker::journal;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "journal fuzz: contract violated: %s\n", what);
  std::abort();
}

struct Seen {
  std::uint64_t offset, length;
  bool record;
};

std::vector<Seen> ScanWhole(std::string_view bytes) {
  std::vector<Seen> out;
  RecordScanner s(bytes, 0, true);
  ScannedRecord rec;
  CorruptRegion bad;
  for (;;) {
    const auto step = s.Next(&rec, &bad);
    if (step == RecordScanner::Step::kEnd) break;
    if (step == RecordScanner::Step::kNeedMore) Fail("kNeedMore at end of file");
    if (step == RecordScanner::Step::kRecord) {
      if (!PlausibleRecordHeader(rec.framed.data()) || !RecordCrcMatches(rec.framed.data())) {
        Fail("a returned record does not check");
      }
      out.push_back({rec.offset, rec.framed.size(), true});
      DiskRecord full;
      RecordView view;
      if (DecodeBody(rec.type, rec.body, &full) != DecodeView(rec.type, rec.body, &view)) {
        Fail("DecodeBody and DecodeView disagree");
      }
    } else {
      out.push_back({bad.offset, bad.length, false});
    }
  }
  std::uint64_t at = 0;
  for (const Seen& x : out) {
    if (x.offset != at || x.length == 0) Fail("records and corrupt regions do not tile");
    at += x.length;
  }
  if (at != bytes.size()) Fail("scan did not reach the end");
  return out;
}

// As the compactor reads: slices of `slice` bytes, keeping the unconsumed tail.
std::vector<std::uint64_t> ScanSlices(std::string_view bytes, std::size_t slice) {
  std::vector<std::uint64_t> records;
  std::string buf;
  std::uint64_t base = 0, read = 0;
  for (;;) {
    const std::size_t n = std::min<std::size_t>(slice, bytes.size() - read);
    buf.append(bytes.substr(read, n));
    read += n;
    const bool eof = read == bytes.size();
    RecordScanner s(buf, base, eof);
    ScannedRecord rec;
    CorruptRegion bad;
    for (;;) {
      const auto step = s.Next(&rec, &bad);
      if (step == RecordScanner::Step::kRecord) records.push_back(rec.offset);
      if (step == RecordScanner::Step::kEnd || step == RecordScanner::Step::kNeedMore) break;
    }
    const std::size_t used = static_cast<std::size_t>(s.position() - base);
    buf.erase(0, used);
    base += used;
    if (eof) return records;
  }
}

void FuzzScanner(std::string_view bytes, std::uint8_t mode) {
  const auto whole = ScanWhole(bytes);
  std::vector<std::uint64_t> records;
  for (const Seen& x : whole) {
    if (x.record) records.push_back(x.offset);
  }
  const std::size_t slice = 1 + (mode >> 1) % 64;
  // Slices may see a record the whole scan took as part of a corrupt region only if that
  // region ends in an incomplete record; every record of the whole scan must be found.
  const auto sliced = ScanSlices(bytes, slice);
  std::size_t j = 0;
  for (std::uint64_t off : records) {
    while (j < sliced.size() && sliced[j] < off) ++j;
    if (j == sliced.size() || sliced[j] != off) Fail("a slice-wise scan missed a record");
  }
}

std::string TempRoot() {
  const char* shm = "/dev/shm";
  return std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> RecoverOnce(const std::string& dir,
                                                                 std::uint64_t* max_seq) {
  JournalOptions o;
  o.data_dir = dir;
  o.fsync = ParseFsyncPolicy("never").value();
  o.compaction_threshold = 0;  // replay only: nothing moves between the two recoveries
  Journal j(o);
  auto r = RecoverAll(j);
  if (!r.ok()) return {};  // an I/O error or a newer version: a clean refusal is fine
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  std::uint64_t last = 0;
  for (const auto& m : r->messages) {
    if (m.publish.seq <= last && !out.empty()) Fail("recovered seqs not strictly increasing");
    if (m.publish.seq > r->max_seq) Fail("a recovered seq above max_seq");
    last = m.publish.seq;
    out.emplace_back(m.publish.seq, m.publish.payload.size() + m.attempts);
  }
  *max_seq = r->max_seq;
  (void)j.Close();
  return out;
}

void FuzzRecovery(std::string_view bytes, std::uint8_t mode) {
  static const std::string root = TempRoot();
  const std::string dir = root + "/mandrill-journal-fuzz-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const bool raw = (mode & 2) != 0;
  std::uint64_t number = 1;
  while (number <= 3) {
    const std::size_t cut = bytes.find("\n--\n");
    const std::string_view part = bytes.substr(0, cut);
    std::string file;
    if (!raw) {
      char h[kSegmentHeaderBytes];
      EncodeSegmentHeader(SegmentHeader{kFormatVersion, number, 0, 1'700'000'000'000}, h);
      file.assign(h, sizeof(h));
    }
    file.append(part);
    std::ofstream(dir + "/" + SegmentFileName(number), std::ios::binary) << file;
    ++number;
    if (cut == std::string_view::npos) break;
    bytes.remove_prefix(cut + 4);
  }
  std::uint64_t max1 = 0, max2 = 0;
  const auto first = RecoverOnce(dir, &max1);
  const auto second = RecoverOnce(dir, &max2);
  if (first != second || max1 != max2) Fail("a second recovery found something else");
  std::filesystem::remove_all(dir);
}

std::string Framed(const Record& r) {
  ByteBuffer b;
  AppendFramed(r, &b);
  SealRecord(b.data());
  return std::string(b.view());
}

}  // namespace

namespace mandrill::fuzz {
std::vector<std::string> TargetSeeds() {
  std::string records = Framed(PublishRecord{1, "restarts", "id-1", "payload", {}, 5}) +
                        Framed(PublishRecord{2, "restarts", "id-2", "p", {{"k", "v"}}, 6}) +
                        Framed(DeliverRecord{1, 1}) + Framed(NackRecord{2, 1, 9, "boom"}) +
                        Framed(AckRecord{1, 7}) + Framed(DeadLetterRecord{2, 5, "dead", 10}) +
                        Framed(RequeueRecord{2}) + Framed(PurgeRecord{2, 11});
  const std::string second = Framed(PublishRecord{3, "q", "id-3", "x", {}, 8});
  return {std::string("\x00", 1) + records, std::string("\x01", 1) + records,
          std::string("\x01", 1) + records + "\n--\n" + second,
          std::string("\x05", 1) + records.substr(0, records.size() - 3)};
}
}  // namespace mandrill::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // recovery reports every damaged byte it skips
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    FuzzScanner(bytes, data[0]);
  } else {
    FuzzRecovery(bytes, data[0]);
  }
  return 0;
}
