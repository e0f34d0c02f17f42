#include "broker/journal/record_views.h"

#include "broker/journal/format.h"
#include "broker/journal/msgpack_reader.h"

namespace mandrill::broker::journal {
namespace {

// Skips the fields this version does not know; the body must end with the array.
bool CloseAtEnd(MsgpackReader& r, std::uint32_t n, std::uint32_t known) {
  return r.SkipUnknown(n, known) && r.AtEnd();
}
// The header map of a publish, checked for shape (str -> str) without keeping it.
bool SkipHeaders(MsgpackReader& r) {
  std::uint32_t n;
  if (!r.ReadMapHeader(&n)) return false;
  std::string_view k, v;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!r.ReadStr(&k) || !r.ReadStr(&v)) return false;
  }
  return true;
}

bool Publish(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  std::string_view payload;
  return r.OpenArray(6, &n) && r.ReadUint(&o->seq) && r.ReadStr(&o->queue) && r.ReadStr(&o->id) &&
         r.ReadBin(&payload) && SkipHeaders(r) && r.ReadInt(&o->time) && CloseAtEnd(r, n, 6);
}
bool SeqOnly(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  return r.OpenArray(1, &n) && r.ReadUint(&o->seq) && CloseAtEnd(r, n, 1);
}
bool Settle(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  return r.OpenArray(1, &n) && r.ReadUint(&o->seq) && r.ReadIntIfPresent(n, 2, &o->settled) &&
         CloseAtEnd(r, n, 2);
}
bool Deliver(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  return r.OpenArray(2, &n) && r.ReadUint(&o->seq) && r.ReadU32(&o->attempts) && CloseAtEnd(r, n, 2);
}
bool Nack(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  return r.OpenArray(4, &n) && r.ReadUint(&o->seq) && r.ReadU32(&o->attempts) && r.ReadInt(&o->time) &&
         r.ReadStr(&o->text) && CloseAtEnd(r, n, 4);
}
bool DeadLetter(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  return r.OpenArray(4, &n) && r.ReadUint(&o->seq) && r.ReadU32(&o->attempts) && r.ReadStr(&o->text) &&
         r.ReadInt(&o->time) && CloseAtEnd(r, n, 4);
}
bool State(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  std::uint64_t state;
  if (!r.OpenArray(6, &n) || !r.ReadUint(&o->seq) || !r.ReadUint(&state) || state > 2) return false;
  o->state = static_cast<std::uint8_t>(state);
  return r.ReadU32(&o->attempts) && r.ReadInt(&o->not_before) && r.ReadStr(&o->text) &&
         r.ReadInt(&o->time) && CloseAtEnd(r, n, 6);
}
bool SettledId(MsgpackReader& r, RecordView* o) {
  std::uint32_t n;
  return r.OpenArray(4, &n) && r.ReadUint(&o->seq) && r.ReadStr(&o->queue) && r.ReadStr(&o->id) &&
         r.ReadInt(&o->time) && r.ReadIntIfPresent(n, 5, &o->settled) && CloseAtEnd(r, n, 5);
}

}  // namespace

bool DecodeView(std::uint8_t type, std::string_view body, RecordView* out) {
  *out = RecordView{};
  MsgpackReader r(body);
  switch (static_cast<RecordType>(type)) {
    case RecordType::kPublish:
      return Publish(r, out);
    case RecordType::kDeliver:
      return Deliver(r, out);
    case RecordType::kAck:
    case RecordType::kPurge:
      return Settle(r, out);
    case RecordType::kRequeue:
      return SeqOnly(r, out);
    case RecordType::kNack:
      return Nack(r, out);
    case RecordType::kDeadLetter:
      return DeadLetter(r, out);
    case RecordType::kState:
      return State(r, out);
    case RecordType::kSettledId:
      return SettledId(r, out);
  }
  return false;
}

bool DecodePublishBody(std::string_view body, PublishBodyView* out, Headers* headers) {
  MsgpackReader r(body);
  std::uint32_t n, count;
  headers->clear();
  if (!r.OpenArray(6, &n) || !r.ReadUint(&out->seq) || !r.ReadStr(&out->queue) ||
      !r.ReadStr(&out->id) || !r.ReadBin(&out->payload) || !r.ReadMapHeader(&count)) {
    return false;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string_view k, v;
    if (!r.ReadStr(&k) || !r.ReadStr(&v)) return false;
    headers->emplace_back(std::string(k), std::string(v));
  }
  return r.ReadInt(&out->published_unix_ms) && CloseAtEnd(r, n, 6);
}

}  // namespace mandrill::broker::journal
