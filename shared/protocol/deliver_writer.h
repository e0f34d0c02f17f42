#pragma once
// Encodes a DELIVER body item by item straight from the sender's own storage, so the broker
// copies each payload once (into the frame) instead of into a DeliverItem first. The bytes decode
// exactly like EncodeBody(Deliver{...}); the item count is written as a msgpack array32 (valid
// msgpack for any count) and patched by Finish().
#include <cstdint>
#include <string_view>

#include <msgpack.hpp>

#include "shared/protocol/messages.h"

namespace mandrill::protocol {

class DeliverWriter {
 public:
  DeliverWriter();
  DeliverWriter(DeliverWriter&&) = default;
  DeliverWriter& operator=(DeliverWriter&&) = default;

  void Add(std::uint64_t lease_id, std::string_view id, std::string_view queue,
           std::string_view payload, std::uint32_t attempt, std::uint32_t lease_ms,
           std::int64_t deadline_unix_ms, const Headers& headers);
  // Same, with the headers already encoded as a msgpack map (copied as they are).
  void AddEncoded(std::uint64_t lease_id, std::string_view id, std::string_view queue,
                  std::string_view payload, std::uint32_t attempt, std::uint32_t lease_ms,
                  std::int64_t deadline_unix_ms, std::string_view encoded_headers);
  std::uint32_t count() const { return count_; }
  std::size_t size() const { return buffer_.size(); }  // bytes so far
  // The finished body; the writer is empty afterwards.
  msgpack::sbuffer Finish();

 private:
  // Everything but the headers map.
  void PackFixed(std::uint64_t lease_id, std::string_view id, std::string_view queue,
                 std::string_view payload, std::uint32_t attempt, std::uint32_t lease_ms,
                 std::int64_t deadline_unix_ms);
  msgpack::sbuffer buffer_;
  std::uint32_t count_ = 0;
};

}  // namespace mandrill::protocol
