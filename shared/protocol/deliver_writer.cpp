#include "shared/protocol/deliver_writer.h"

#include <cstring>

namespace mandrill::protocol {
namespace {
// [fixarray(1)] [array32 marker] [4-byte big-endian count, patched in Finish]
constexpr std::size_t kCountOffset = 2;
}  // namespace

DeliverWriter::DeliverWriter() : buffer_(4096) {
  const char header[] = {static_cast<char>(0x91), static_cast<char>(0xdd), 0, 0, 0, 0};
  buffer_.write(header, sizeof header);
}

void DeliverWriter::AddEncoded(std::uint64_t lease_id, std::string_view id,
                               std::string_view queue, std::string_view payload,
                               std::uint32_t attempt, std::uint32_t lease_ms,
                               std::int64_t deadline_unix_ms, std::string_view encoded_headers) {
  PackFixed(lease_id, id, queue, payload, attempt, lease_ms, deadline_unix_ms);
  buffer_.write(encoded_headers.data(), encoded_headers.size());
  ++count_;
}

void DeliverWriter::PackFixed(std::uint64_t lease_id, std::string_view id, std::string_view queue,
                              std::string_view payload, std::uint32_t attempt,
                              std::uint32_t lease_ms, std::int64_t deadline_unix_ms) {
  msgpack::packer<msgpack::sbuffer> p(buffer_);
  p.pack_array(8);
  p.pack_uint64(lease_id);
  p.pack_str(static_cast<std::uint32_t>(id.size()));
  p.pack_str_body(id.data(), static_cast<std::uint32_t>(id.size()));
  p.pack_str(static_cast<std::uint32_t>(queue.size()));
  p.pack_str_body(queue.data(), static_cast<std::uint32_t>(queue.size()));
  p.pack_bin(static_cast<std::uint32_t>(payload.size()));
  p.pack_bin_body(payload.data(), static_cast<std::uint32_t>(payload.size()));
  p.pack_uint32(attempt);
  p.pack_uint32(lease_ms);
  p.pack_int64(deadline_unix_ms);
}

void DeliverWriter::Add(std::uint64_t lease_id, std::string_view id, std::string_view queue,
                        std::string_view payload, std::uint32_t attempt, std::uint32_t lease_ms,
                        std::int64_t deadline_unix_ms, const Headers& headers) {
  PackFixed(lease_id, id, queue, payload, attempt, lease_ms, deadline_unix_ms);
  msgpack::packer<msgpack::sbuffer> p(buffer_);
  p.pack_map(static_cast<std::uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    p.pack_str(static_cast<std::uint32_t>(k.size()));
    p.pack_str_body(k.data(), static_cast<std::uint32_t>(k.size()));
    p.pack_str(static_cast<std::uint32_t>(v.size()));
    p.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
  }
  ++count_;
}

msgpack::sbuffer DeliverWriter::Finish() {
  const unsigned char be[4] = {static_cast<unsigned char>(count_ >> 24),
                               static_cast<unsigned char>(count_ >> 16),
                               static_cast<unsigned char>(count_ >> 8),
                               static_cast<unsigned char>(count_)};
  std::memcpy(buffer_.data() + kCountOffset, be, sizeof be);
  msgpack::sbuffer out(std::move(buffer_));
  *this = DeliverWriter();
  return out;
}

}  // namespace mandrill::protocol
