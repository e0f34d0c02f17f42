#pragma once
// A message the broker holds: one allocation carrying a small fixed header and, after it, the
// id, the payload and the headers (as the msgpack map DELIVER sends), so a queued 100-byte
// message costs its bytes plus ~80 B (issue 10: ≤ 200 B + payload with the journal on).
//
// Ownership: exactly one place holds each message — the pending-durability list, its queue's
// ready or dead list, a lease (and its worker's lease list), or the deferred set. Whoever takes
// it out of the last of them frees it (FreeMessage). Reactor thread only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/core/intrusive_list.h"
#include "shared/core/clock.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class Queue;
struct Lease;

enum class MessageState : std::uint8_t {
  kPending,   // appended to storage, not yet durable: not deliverable, not confirmed
  kReady,     // in its queue's ready list
  kLeased,    // delivered: a Lease holds it
  kDeferred,  // nacked with a delay; in the deferred set
  kDead,      // in its queue's dead list
};

// What only a message that failed needs (most never do).
struct MessageExtra {
  std::string last_error;
  std::int64_t dead_at_unix_ms = 0;
};

// The hook is the one list the message is on while ready or dead: its queue's. A leased
// message is held by its Lease (lease_table.h), a deferred one by the deferred set.
struct Message : core::ListHook {
  Queue* queue = nullptr;
  std::uint64_t seq = 0;
  std::int64_t published_unix_ms = 0;
  MessageExtra* extra = nullptr;  // null until the message fails once
  std::uint32_t attempts = 0;     // deliveries so far
  std::uint32_t payload_size = 0;
  std::uint32_t headers_size = 0;  // bytes of the encoded headers map; 0: no headers
  // The worker session that last let this message go (lease expired, nack, worker gone): the
  // dispatcher offers it to another worker first. 0: none.
  std::uint32_t avoid_session = 0;
  std::uint16_t id_size = 0;
  MessageState state = MessageState::kPending;

  std::string_view id() const { return {Bytes(), id_size}; }
  std::string_view payload() const { return {Bytes() + id_size, payload_size}; }
  // The headers as a msgpack map ("\x80" when there are none).
  std::string_view encoded_headers() const {
    if (headers_size == 0) return {"\x80", 1};
    return {Bytes() + id_size + payload_size, headers_size};
  }
  std::string_view last_error() const {
    return extra == nullptr ? std::string_view() : std::string_view(extra->last_error);
  }
  std::int64_t dead_at_unix_ms() const { return extra == nullptr ? 0 : extra->dead_at_unix_ms; }
  void SetLastError(std::string_view reason);
  // Bytes this message accounts for in the memory budget.
  std::size_t footprint() const;

 private:
  const char* Bytes() const { return reinterpret_cast<const char*>(this + 1); }
  friend Message* NewMessage(std::uint64_t, std::string_view, std::string_view,
                             std::string_view, std::int64_t);
};

// The msgpack map of `headers`, as stored in a Message ("" for none).
std::string EncodeHeaders(const protocol::Headers& headers);
// Bytes the headers count against the payload limit: every key and value.
std::size_t HeaderBytes(const protocol::Headers& headers);

// Allocates a message (state kPending, queue unset). `encoded_headers` is EncodeHeaders' output.
Message* NewMessage(std::uint64_t seq, std::string_view id, std::string_view payload,
                    std::string_view encoded_headers, std::int64_t published_unix_ms);
void FreeMessage(Message* m);

using MessageList = core::IntrusiveList<Message>;

}  // namespace mandrill::broker
