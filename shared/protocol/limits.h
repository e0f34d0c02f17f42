#pragma once
// Hard bounds the decoder enforces before it allocates. Peers must stay inside them.
#include <cstddef>
#include <cstdint>

namespace mandrill::protocol {

struct Limits {
  std::size_t max_payload_bytes = 1 << 20;       // one message's payload (default 1 MiB)
  std::size_t max_batch = 10'000;                // items in one PUBLISH/DELIVER/ACK/... frame
  std::size_t max_string_bytes = 4096;           // ids, queue names, reasons, header values
  std::size_t max_headers = 64;                  // per message
  // Whole body frame: a full batch of maximum payloads would be absurd, so the body is
  // bounded separately (64 MiB); a batch must fit.
  std::size_t max_body_bytes = 64u << 20;
  // msgpack elements in one body, counted before any is built (each costs ~24 bytes decoded).
  // A full DELIVER batch with 64 headers per item is ~1.4 million; 2 Mi bounds a decode at
  // ~100 MiB however the body is shaped.
  std::size_t max_elements = 2u << 20;
};

inline constexpr std::size_t kMaxQueueNameBytes = 128;
inline constexpr std::size_t kMaxMessageIdBytes = 256;

}  // namespace mandrill::protocol
