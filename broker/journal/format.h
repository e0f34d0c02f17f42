#pragma once
// The journal's on-disk layout. docs/journal.md is the prose version of this file; keep both
// in step. Everything is little-endian.
//
// A data dir holds segment files named journal-<number>.seg (number: decimal, zero-padded to 12
// digits, increasing by one per new segment) and a LOCK file. A segment is:
//
//   segment header (kSegmentHeaderBytes = 48)
//     [0,8)   magic "MDLJ\r\n\x1a\n"  (the \r\n and \x1a catch text-mode mangling, as PNG does)
//     [8,12)  u32 format version (kFormatVersion)
//     [12,16) u32 header size in bytes (48 in version 1)
//     [16,24) u64 segment number (matches the file name)
//     [24,32) u64 base seq: highest message seq assigned before this segment was created
//     [32,40) i64 created, Unix ms
//     [40,44) u32 masked CRC32C of bytes [0,40)
//     [44,48) u32 zero
//   then records, back to back, never spanning segments:
//     [0,4)   u32 body length n
//     [4]     u8 record type (RecordType)
//     [5]     u8 flags, zero in version 1
//     [6,8)   u16 header check: low 16 bits of the masked CRC32C of bytes [0,6)
//     [8,12)  u32 masked CRC32C of bytes [0,6) followed by the body
//     [12,12+n) body: one msgpack array (record_codec.h lists the fields per type)
//
// Every format version keeps the magic, the version at [8,12) and the header CRC at [40,44)
// (over [0,40)) where they are, so any reader can tell a newer segment from a damaged one.
//
// How to change the format: adding a trailing field to a record body or a new record type is
// compatible (readers ignore trailing fields and skip unknown types with a warning) and keeps
// kFormatVersion. Anything else (header layout, framing, meaning of a field) bumps
// kFormatVersion; a reader refuses segments whose version is newer than it knows, and must keep
// reading every older version it ever wrote.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mandrill::broker::journal {

inline constexpr char kSegmentMagic[8] = {'M', 'D', 'L', 'J', '\r', '\n', '\x1a', '\n'};
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kSegmentHeaderBytes = 48;
inline constexpr std::size_t kRecordHeaderBytes = 12;
// A body larger than this is corrupt by definition (the broker's own limits are far below).
inline constexpr std::uint32_t kMaxRecordBodyBytes = 256u << 20;

enum class RecordType : std::uint8_t {
  kPublish = 1,
  kDeliver = 2,
  kAck = 3,
  kNack = 4,
  kDeadLetter = 5,
  kRequeue = 6,
  kPurge = 7,
  kState = 8,      // written by compaction: the full state of a live message
  kSettledId = 9,  // written by compaction: a settled message's id, kept for deduplication
};
inline constexpr std::uint8_t kMaxKnownRecordType = 9;
const char* RecordTypeName(std::uint8_t type);

struct SegmentHeader {
  std::uint32_t version = kFormatVersion;
  std::uint64_t number = 0;
  std::uint64_t base_seq = 0;
  std::int64_t created_unix_ms = 0;
};

// Writes kSegmentHeaderBytes to `out`.
void EncodeSegmentHeader(const SegmentHeader& h, char* out);

enum class HeaderCheck { kOk, kTooShort, kBadMagic, kBadCrc, kNewerVersion };
// Parses the first bytes of a segment. On kOk fills *h; on kNewerVersion fills h->version only.
HeaderCheck DecodeSegmentHeader(std::string_view bytes, SegmentHeader* h);

// Record header helpers. `rec` points at a record header followed by its body.
void SetRecordHeader(char* rec, std::uint32_t body_len, RecordType type);
// Fills the header check and the CRC of a record whose length, type and body are in place.
void SealRecord(char* rec);
std::uint32_t RecordBodyLength(const char* rec);
// True when the 12 header bytes are self-consistent (flags zero, type non-zero, length
// bounded, header check matches). Cheap: used to resynchronise after corruption.
bool PlausibleRecordHeader(const char* rec);
// True when the record (header + body, `available` bytes readable) is complete and its CRC
// matches. Requires PlausibleRecordHeader(rec).
bool RecordComplete(const char* rec, std::size_t available);
bool RecordCrcMatches(const char* rec);

// "journal-000000000042.seg"; ParseSegmentFileName returns the number, or nullopt for any
// other name.
std::string SegmentFileName(std::uint64_t number);
std::optional<std::uint64_t> ParseSegmentFileName(std::string_view name);

// Little-endian helpers.
inline void PutU16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
inline void PutU32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline std::uint16_t GetU16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>(u[0] | (u[1] << 8));
}
inline std::uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint32_t>(u[0]) | (static_cast<std::uint32_t>(u[1]) << 8) |
         (static_cast<std::uint32_t>(u[2]) << 16) | (static_cast<std::uint32_t>(u[3]) << 24);
}
inline std::uint64_t GetU64(const char* p) {
  return static_cast<std::uint64_t>(GetU32(p)) | (static_cast<std::uint64_t>(GetU32(p + 4)) << 32);
}

}  // namespace mandrill::broker::journal
