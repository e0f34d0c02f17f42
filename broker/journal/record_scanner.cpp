#include "broker/journal/record_scanner.h"

#include "broker/journal/format.h"

namespace mandrill::broker::journal {

RecordScanner::Check RecordScanner::CheckAt(std::size_t at) const {
  const std::size_t avail = bytes_.size() - at;
  if (avail < kRecordHeaderBytes) return at_eof_ ? Check::kInvalid : Check::kIncomplete;
  const char* rec = bytes_.data() + at;
  if (!PlausibleRecordHeader(rec)) return Check::kInvalid;
  if (!RecordComplete(rec, avail)) return at_eof_ ? Check::kInvalid : Check::kIncomplete;
  return RecordCrcMatches(rec) ? Check::kValid : Check::kInvalid;
}

RecordScanner::Step RecordScanner::Next(ScannedRecord* rec, CorruptRegion* bad) {
  if (pos_ >= bytes_.size()) return Step::kEnd;
  switch (CheckAt(pos_)) {
    case Check::kValid: {
      const char* p = bytes_.data() + pos_;
      const std::uint32_t len = RecordBodyLength(p);
      rec->offset = base_ + pos_;
      rec->type = static_cast<std::uint8_t>(p[4]);
      rec->body = std::string_view(p + kRecordHeaderBytes, len);
      rec->framed = std::string_view(p, kRecordHeaderBytes + len);
      pos_ += kRecordHeaderBytes + len;
      return Step::kRecord;
    }
    case Check::kIncomplete:
      return Step::kNeedMore;
    case Check::kInvalid:
      break;
  }
  // Resynchronise: the next offset holding a valid record ends the corrupt region.
  for (std::size_t at = pos_ + 1; at < bytes_.size(); ++at) {
    const Check c = CheckAt(at);
    if (c == Check::kInvalid) continue;
    if (c == Check::kIncomplete) return Step::kNeedMore;  // decided once more bytes arrive
    bad->offset = base_ + pos_;
    bad->length = at - pos_;
    bad->tail = false;
    pos_ = at;
    return Step::kCorrupt;
  }
  if (!at_eof_) return Step::kNeedMore;
  bad->offset = base_ + pos_;
  bad->length = bytes_.size() - pos_;
  bad->tail = true;
  pos_ = bytes_.size();
  return Step::kCorrupt;
}

}  // namespace mandrill::broker::journal
