#include "broker/journal/format.h"

#include <cstdio>
#include <cstring>

#include "broker/journal/crc32c.h"

namespace mandrill::broker::journal {

const char* RecordTypeName(std::uint8_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::kPublish:
      return "publish";
    case RecordType::kDeliver:
      return "deliver";
    case RecordType::kAck:
      return "ack";
    case RecordType::kNack:
      return "nack";
    case RecordType::kDeadLetter:
      return "dead-letter";
    case RecordType::kRequeue:
      return "requeue";
    case RecordType::kPurge:
      return "purge";
    case RecordType::kState:
      return "state";
    case RecordType::kSettledId:
      return "settled-id";
  }
  return "unknown";
}

void EncodeSegmentHeader(const SegmentHeader& h, char* out) {
  std::memset(out, 0, kSegmentHeaderBytes);
  std::memcpy(out, kSegmentMagic, sizeof(kSegmentMagic));
  PutU32(out + 8, h.version);
  PutU32(out + 12, static_cast<std::uint32_t>(kSegmentHeaderBytes));
  PutU64(out + 16, h.number);
  PutU64(out + 24, h.base_seq);
  PutU64(out + 32, static_cast<std::uint64_t>(h.created_unix_ms));
  PutU32(out + 40, crc32c::Mask(crc32c::Value(out, 40)));
}

HeaderCheck DecodeSegmentHeader(std::string_view bytes, SegmentHeader* h) {
  if (bytes.size() < sizeof(kSegmentMagic)) return HeaderCheck::kTooShort;
  if (std::memcmp(bytes.data(), kSegmentMagic, sizeof(kSegmentMagic)) != 0) {
    return HeaderCheck::kBadMagic;
  }
  if (bytes.size() < kSegmentHeaderBytes) return HeaderCheck::kTooShort;
  const char* p = bytes.data();
  // The CRC is checked first so that a damaged version field reads as damage, not as a
  // segment from the future.
  if (crc32c::Unmask(GetU32(p + 40)) != crc32c::Value(p, 40)) return HeaderCheck::kBadCrc;
  const std::uint32_t version = GetU32(p + 8);
  h->version = version;
  if (version > kFormatVersion) return HeaderCheck::kNewerVersion;
  if (version == 0 || GetU32(p + 12) != kSegmentHeaderBytes) return HeaderCheck::kBadCrc;
  h->number = GetU64(p + 16);
  h->base_seq = GetU64(p + 24);
  h->created_unix_ms = static_cast<std::int64_t>(GetU64(p + 32));
  return HeaderCheck::kOk;
}

void SetRecordHeader(char* rec, std::uint32_t body_len, RecordType type) {
  PutU32(rec, body_len);
  rec[4] = static_cast<char>(type);
  rec[5] = 0;
  std::memset(rec + 6, 0, kRecordHeaderBytes - 6);  // checksums: filled by SealRecord
}

namespace {
std::uint16_t HeaderCheckOf(const char* rec) {
  return static_cast<std::uint16_t>(crc32c::Mask(crc32c::Value(rec, 6)));
}
std::uint32_t CrcOf(const char* rec, std::uint32_t len) {
  return crc32c::Extend(crc32c::Value(rec, 6), rec + kRecordHeaderBytes, len);
}
}  // namespace

void SealRecord(char* rec) {
  const std::uint32_t head = crc32c::Value(rec, 6);
  PutU16(rec + 6, static_cast<std::uint16_t>(crc32c::Mask(head)));
  PutU32(rec + 8, crc32c::Mask(crc32c::Extend(head, rec + kRecordHeaderBytes, GetU32(rec))));
}

std::uint32_t RecordBodyLength(const char* rec) { return GetU32(rec); }

bool PlausibleRecordHeader(const char* rec) {
  if (rec[5] != 0 || rec[4] == 0) return false;
  if (GetU32(rec) > kMaxRecordBodyBytes) return false;
  return GetU16(rec + 6) == HeaderCheckOf(rec);
}

bool RecordComplete(const char* rec, std::size_t available) {
  return available >= kRecordHeaderBytes &&
         available - kRecordHeaderBytes >= static_cast<std::size_t>(GetU32(rec));
}

bool RecordCrcMatches(const char* rec) {
  return crc32c::Unmask(GetU32(rec + 8)) == CrcOf(rec, GetU32(rec));
}

std::string SegmentFileName(std::uint64_t number) {
  char name[48];
  std::snprintf(name, sizeof(name), "journal-%012llu.seg", static_cast<unsigned long long>(number));
  return name;
}

std::optional<std::uint64_t> ParseSegmentFileName(std::string_view name) {
  constexpr std::string_view kPrefix = "journal-";
  constexpr std::string_view kSuffix = ".seg";
  if (name.size() <= kPrefix.size() + kSuffix.size()) return std::nullopt;
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  const std::string_view digits =
      name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

}  // namespace mandrill::broker::journal
