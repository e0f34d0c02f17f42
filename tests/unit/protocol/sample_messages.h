#pragma once
// Valid messages of every command with non-trivial field values, shared by the codec tests, the
// fuzz targets and the fuzz corpus generator (tests/fuzz/protocol), so all of them exercise the
// same shapes. Every sample decodes under the default protocol::Limits.
#include <string>
#include <vector>

#include "shared/protocol/messages.h"

namespace mandrill::protocol::samples {

// Exactly one message per alternative of protocol::Message, in variant order (index i holds
// alternative i), with non-trivial values: binary payloads with NUL and 0xff bytes, headers,
// max-length queue names and ids, extreme integers (max uint64 lease ids, negative deadlines).
std::vector<Message> OnePerCommand();

// Edge shapes that are still valid: empty strings, empty batches where a command allows them,
// absent headers, zero and maximum counters, strings exactly at the decoder's limits.
std::vector<Message> EdgeCases();

// OnePerCommand() followed by EdgeCases().
std::vector<Message> All();

// The msgpack body of `m` (protocol::EncodeBody) as bytes.
std::string EncodeToString(const Message& m);

// A string of `n` bytes cycling through every byte value, NUL and 0xff included.
std::string BinaryBytes(std::size_t n);
// A valid queue name / message id of exactly `n` bytes.
std::string QueueName(std::size_t n);
std::string MessageId(std::size_t n);

}  // namespace mandrill::protocol::samples
