#pragma once
// Finds the records in a segment's bytes and steps over damage (the reader half of format.h).
//
// Resynchronisation: when the bytes at the current position are not a valid record (bad header
// check, bad CRC, or a length running past the end), the scanner looks at every following byte
// offset for the next valid record: a plausible 12-byte header (flags zero, type non-zero,
// length bounded, 16-bit header check matching) whose full CRC also matches. The bytes in
// between are reported as one corrupt region. The header check rejects almost every offset
// in O(1), so scanning garbage costs a few nanoseconds per byte; only a 1-in-65536 candidate
// pays for a full CRC. Compared with LevelDB's 32 KiB blocks this loses only the damaged bytes
// (not the rest of a block), needs no padding or fragmentation, and keeps each record
// contiguous, so compaction can copy it verbatim. A corrupt region with no valid record after
// it is a "tail" (what a torn write leaves at the end of the last segment).
//
// Not thread-safe; `bytes` must outlive the scanner and the views it returns.
#include <cstdint>
#include <string_view>

namespace mandrill::broker::journal {

struct ScannedRecord {
  std::uint64_t offset = 0;  // file offset of the record header
  std::uint8_t type = 0;
  std::string_view body;
  std::string_view framed;  // header + body, as on disk
};

struct CorruptRegion {
  std::uint64_t offset = 0;  // file offset of the first bad byte
  std::uint64_t length = 0;
  bool tail = false;  // nothing valid follows it in the bytes scanned
};

class RecordScanner {
 public:
  // `bytes` holds the file's bytes from offset `base`; `at_eof`: the file ends where they do.
  RecordScanner(std::string_view bytes, std::uint64_t base, bool at_eof)
      : bytes_(bytes), base_(base), at_eof_(at_eof) {}

  enum class Step {
    kRecord,    // *rec is the next record
    kCorrupt,   // *bad is a damaged region; scanning continues after it
    kNeedMore,  // !at_eof and the bytes from position() do not yet decide; supply more
    kEnd,       // everything consumed
  };
  Step Next(ScannedRecord* rec, CorruptRegion* bad);

  // File offset of the first byte not yet consumed.
  std::uint64_t position() const { return base_ + pos_; }

 private:
  enum class Check { kValid, kInvalid, kIncomplete };
  Check CheckAt(std::size_t at) const;

  std::string_view bytes_;
  std::uint64_t base_;
  bool at_eof_;
  std::size_t pos_ = 0;
};

}  // namespace mandrill::broker::journal
