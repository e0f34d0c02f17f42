#include "broker/message.h"

#include <cstring>
#include <new>

#include <msgpack.hpp>

namespace mandrill::broker {

void Message::SetLastError(std::string_view reason) {
  if (extra == nullptr) extra = new MessageExtra;
  extra->last_error.assign(reason);
}

std::size_t Message::footprint() const {
  std::size_t n = sizeof(Message) + id_size + payload_size + headers_size;
  if (extra != nullptr) n += sizeof(MessageExtra) + extra->last_error.capacity();
  return n;
}

std::string EncodeHeaders(const protocol::Headers& headers) {
  if (headers.empty()) return {};
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> p(buf);
  p.pack_map(static_cast<std::uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    p.pack_str(static_cast<std::uint32_t>(k.size()));
    p.pack_str_body(k.data(), static_cast<std::uint32_t>(k.size()));
    p.pack_str(static_cast<std::uint32_t>(v.size()));
    p.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
  }
  return std::string(buf.data(), buf.size());
}

std::size_t HeaderBytes(const protocol::Headers& headers) {
  std::size_t n = 0;
  for (const auto& [k, v] : headers) n += k.size() + v.size();
  return n;
}

Message* NewMessage(std::uint64_t seq, std::string_view id, std::string_view payload,
                    std::string_view encoded_headers, std::int64_t published_unix_ms) {
  const std::size_t bytes = sizeof(Message) + id.size() + payload.size() + encoded_headers.size();
  void* raw = ::operator new(bytes);
  Message* m = new (raw) Message;
  m->seq = seq;
  m->published_unix_ms = published_unix_ms;
  m->id_size = static_cast<std::uint16_t>(id.size());
  m->payload_size = static_cast<std::uint32_t>(payload.size());
  m->headers_size = static_cast<std::uint32_t>(encoded_headers.size());
  char* p = reinterpret_cast<char*>(m + 1);
  if (!id.empty()) std::memcpy(p, id.data(), id.size());
  if (!payload.empty()) std::memcpy(p + id.size(), payload.data(), payload.size());
  if (!encoded_headers.empty()) {
    std::memcpy(p + id.size() + payload.size(), encoded_headers.data(), encoded_headers.size());
  }
  return m;
}

void FreeMessage(Message* m) {
  delete m->extra;
  m->~Message();
  ::operator delete(m);
}

}  // namespace mandrill::broker
