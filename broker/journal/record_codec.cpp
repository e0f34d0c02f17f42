#include "broker/journal/record_codec.h"

#include <msgpack.hpp>

#include "broker/journal/msgpack_reader.h"

namespace mandrill::broker::journal {
namespace {

using Packer = msgpack::packer<ByteBuffer>;

void Str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
void Bin(Packer& p, std::string_view s) {
  p.pack_bin(static_cast<std::uint32_t>(s.size()));
  p.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void Body(Packer& p, const PublishRecord& r) {
  p.pack_array(6);
  p.pack_uint64(r.seq);
  Str(p, r.queue);
  Str(p, r.id);
  Bin(p, r.payload);
  p.pack_map(static_cast<std::uint32_t>(r.headers.size()));
  for (const auto& [k, v] : r.headers) {
    Str(p, k);
    Str(p, v);
  }
  p.pack_int64(r.published_unix_ms);
}
void Body(Packer& p, const DeliverRecord& r) {
  p.pack_array(2);
  p.pack_uint64(r.seq);
  p.pack_uint32(r.attempt);
}
void Body(Packer& p, const AckRecord& r) {
  p.pack_array(2);
  p.pack_uint64(r.seq);
  p.pack_int64(r.settled_unix_ms);
}
void Body(Packer& p, const NackRecord& r) {
  p.pack_array(4);
  p.pack_uint64(r.seq);
  p.pack_uint32(r.attempt);
  p.pack_int64(r.not_before_unix_ms);
  Str(p, r.reason);
}
void Body(Packer& p, const DeadLetterRecord& r) {
  p.pack_array(4);
  p.pack_uint64(r.seq);
  p.pack_uint32(r.attempts);
  Str(p, r.reason);
  p.pack_int64(r.dead_at_unix_ms);
}
void Body(Packer& p, const RequeueRecord& r) {
  p.pack_array(1);
  p.pack_uint64(r.seq);
}
void Body(Packer& p, const PurgeRecord& r) {
  p.pack_array(2);
  p.pack_uint64(r.seq);
  p.pack_int64(r.settled_unix_ms);
}
void Body(Packer& p, const StateRecord& r) {
  p.pack_array(6);
  p.pack_uint64(r.seq);
  p.pack_uint8(static_cast<std::uint8_t>(r.state));
  p.pack_uint32(r.attempts);
  p.pack_int64(r.not_before_unix_ms);
  Str(p, r.last_error);
  p.pack_int64(r.dead_at_unix_ms);
}
void Body(Packer& p, const SettledIdRecord& r) {
  p.pack_array(5);
  p.pack_uint64(r.seq);
  Str(p, r.queue);
  Str(p, r.id);
  p.pack_int64(r.published_unix_ms);
  p.pack_int64(r.settled_unix_ms);
}

template <typename R>
std::size_t Frame(const R& r, RecordType type, ByteBuffer* out) {
  const std::size_t start = out->size();
  out->Extend(kRecordHeaderBytes);
  Packer p(*out);
  Body(p, r);
  const std::size_t body = out->size() - start - kRecordHeaderBytes;
  SetRecordHeader(out->data() + start, static_cast<std::uint32_t>(body), type);
  return out->size() - start;
}

bool Str(MsgpackReader& r, std::string* s) {
  std::string_view v;
  if (!r.ReadStr(&v)) return false;
  s->assign(v);
  return true;
}

bool Decode(MsgpackReader& r, PublishRecord* out) {
  std::uint32_t n, headers;
  std::string_view payload;
  if (!r.OpenArray(6, &n) || !r.ReadUint(&out->seq) || !Str(r, &out->queue) || !Str(r, &out->id) ||
      !r.ReadBin(&payload) || !r.ReadMapHeader(&headers)) {
    return false;
  }
  out->payload.assign(payload);
  out->headers.clear();
  out->headers.reserve(headers);
  for (std::uint32_t i = 0; i < headers; ++i) {
    std::string_view k, v;
    if (!r.ReadStr(&k) || !r.ReadStr(&v)) return false;
    out->headers.emplace_back(std::string(k), std::string(v));
  }
  return r.ReadInt(&out->published_unix_ms) && r.SkipUnknown(n, 6);
}
bool Decode(MsgpackReader& r, DeliverRecord* out) {
  std::uint32_t n;
  return r.OpenArray(2, &n) && r.ReadUint(&out->seq) && r.ReadU32(&out->attempt) && r.SkipUnknown(n, 2);
}
bool Decode(MsgpackReader& r, AckRecord* out) {
  std::uint32_t n;
  return r.OpenArray(1, &n) && r.ReadUint(&out->seq) && r.ReadIntIfPresent(n, 2, &out->settled_unix_ms) &&
         r.SkipUnknown(n, 2);
}
bool Decode(MsgpackReader& r, NackRecord* out) {
  std::uint32_t n;
  return r.OpenArray(4, &n) && r.ReadUint(&out->seq) && r.ReadU32(&out->attempt) &&
         r.ReadInt(&out->not_before_unix_ms) && Str(r, &out->reason) && r.SkipUnknown(n, 4);
}
bool Decode(MsgpackReader& r, DeadLetterRecord* out) {
  std::uint32_t n;
  return r.OpenArray(4, &n) && r.ReadUint(&out->seq) && r.ReadU32(&out->attempts) &&
         Str(r, &out->reason) && r.ReadInt(&out->dead_at_unix_ms) && r.SkipUnknown(n, 4);
}
bool Decode(MsgpackReader& r, RequeueRecord* out) {
  std::uint32_t n;
  return r.OpenArray(1, &n) && r.ReadUint(&out->seq) && r.SkipUnknown(n, 1);
}
bool Decode(MsgpackReader& r, PurgeRecord* out) {
  std::uint32_t n;
  return r.OpenArray(1, &n) && r.ReadUint(&out->seq) && r.ReadIntIfPresent(n, 2, &out->settled_unix_ms) &&
         r.SkipUnknown(n, 2);
}
bool Decode(MsgpackReader& r, StateRecord* out) {
  std::uint32_t n;
  std::uint64_t state;
  if (!r.OpenArray(6, &n) || !r.ReadUint(&out->seq) || !r.ReadUint(&state) || state > 2) return false;
  out->state = static_cast<RecoveredMessage::State>(state);
  return r.ReadU32(&out->attempts) && r.ReadInt(&out->not_before_unix_ms) &&
         Str(r, &out->last_error) && r.ReadInt(&out->dead_at_unix_ms) && r.SkipUnknown(n, 6);
}
bool Decode(MsgpackReader& r, SettledIdRecord* out) {
  std::uint32_t n;
  return r.OpenArray(4, &n) && r.ReadUint(&out->seq) && Str(r, &out->queue) && Str(r, &out->id) &&
         r.ReadInt(&out->published_unix_ms) && r.ReadIntIfPresent(n, 5, &out->settled_unix_ms) &&
         r.SkipUnknown(n, 5);
}

template <std::size_t I>
bool DecodeAs(std::string_view body, DiskRecord* out) {
  MsgpackReader r(body);
  auto& v = out->emplace<I>();
  return Decode(r, &v) && r.AtEnd();
}

}  // namespace

std::size_t AppendFramed(const Record& r, ByteBuffer* out) {
  return std::visit([&](const auto& rec) { return AppendFramed(rec, out); }, r);
}
std::size_t AppendFramed(const PublishRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kPublish, out);
}
std::size_t AppendFramed(const DeliverRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kDeliver, out);
}
std::size_t AppendFramed(const AckRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kAck, out);
}
std::size_t AppendFramed(const NackRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kNack, out);
}
std::size_t AppendFramed(const DeadLetterRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kDeadLetter, out);
}
std::size_t AppendFramed(const RequeueRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kRequeue, out);
}
std::size_t AppendFramed(const PurgeRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kPurge, out);
}
std::size_t AppendFramed(const StateRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kState, out);
}
std::size_t AppendFramed(const SettledIdRecord& r, ByteBuffer* out) {
  return Frame(r, RecordType::kSettledId, out);
}

bool DecodeBody(std::uint8_t type, std::string_view body, DiskRecord* out) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::kPublish:
      return DecodeAs<0>(body, out);
    case RecordType::kDeliver:
      return DecodeAs<1>(body, out);
    case RecordType::kAck:
      return DecodeAs<2>(body, out);
    case RecordType::kNack:
      return DecodeAs<3>(body, out);
    case RecordType::kDeadLetter:
      return DecodeAs<4>(body, out);
    case RecordType::kRequeue:
      return DecodeAs<5>(body, out);
    case RecordType::kPurge:
      return DecodeAs<6>(body, out);
    case RecordType::kState:
      return DecodeAs<7>(body, out);
    case RecordType::kSettledId:
      return DecodeAs<8>(body, out);
  }
  return false;
}

bool DecodePublishView(std::string_view body, PublishView* out) {
  MsgpackReader r(body);
  std::uint32_t n;
  std::string_view payload;
  if (!r.OpenArray(6, &n) || !r.ReadUint(&out->seq) || !r.ReadStr(&out->queue) ||
      !r.ReadStr(&out->id) || !r.ReadBin(&payload) || !r.Skip()) {
    return false;
  }
  return r.ReadInt(&out->published_unix_ms);
}

bool DecodeReason(std::uint8_t type, std::string_view body, std::string_view* reason) {
  MsgpackReader r(body);
  std::uint32_t n;
  std::uint64_t u;
  std::int64_t i;
  *reason = {};
  if (!r.OpenArray(4, &n) || !r.ReadUint(&u) || !r.ReadUint(&u)) return false;
  if (type == static_cast<std::uint8_t>(RecordType::kNack)) {
    return r.ReadInt(&i) && r.ReadStr(reason);
  }
  return r.ReadStr(reason);
}

std::uint32_t SettledIdRecordBytes(std::size_t queue_len, std::size_t id_len) {
  // header + array(1) + seq(<=9) + str headers(<=5 each) + strings + two int64(<=9 each)
  return static_cast<std::uint32_t>(kRecordHeaderBytes + 1 + 9 + 5 + queue_len + 5 + id_len + 18);
}

}  // namespace mandrill::broker::journal
