#pragma once
// Encoding and strict decoding of Mandrill frames. Pure functions: no sockets, no threads, so
// they are unit-tested and fuzzed directly. Transport (transport.h) adds ZeroMQ.
//
// A message on the wire is three frames (after the ROUTER's routing-id frame):
//   [version: "MDL" + version byte] [command: 1 byte] [body: one msgpack array]
#include <cstddef>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "shared/core/result.h"
#include "shared/protocol/limits.h"
#include "shared/protocol/messages.h"

namespace mandrill::protocol {

inline constexpr std::string_view kVersionMagic = "MDL";
// The version frame every sender writes: "MDL\x01".
std::string_view VersionFrame();

// Writes the msgpack body of `m` to `out` (appends).
void EncodeBody(const Message& m, msgpack::sbuffer& out);

// Decodes the three frames. Never throws, never reads out of bounds, never allocates more
// than a small multiple of body.size(): malformed, truncated, oversized or wrong-version input
// yields an Error whose code is a protocol::ErrorCode and whose message says what was wrong.
core::Result<Message> Decode(std::string_view version, std::string_view command,
                             std::string_view body, const Limits& limits);

// Checks a queue name: 1..128 bytes of [A-Za-z0-9._:-]. Returns an empty string when valid,
// else the reason.
std::string CheckQueueName(std::string_view name);
// Checks a message id: 1..256 printable, non-space ASCII bytes.
std::string CheckMessageId(std::string_view id);
// Checks a ZeroMQ endpoint as our programs accept it: tcp://HOST:PORT (PORT 1..65535, or * to
// bind any), ipc://PATH or inproc://NAME. Returns an empty string when valid, else the reason.
std::string CheckEndpoint(std::string_view endpoint);

}  // namespace mandrill::protocol
