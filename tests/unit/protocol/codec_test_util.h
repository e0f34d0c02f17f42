#pragma once
// Helpers for the codec tests: decode a body as a given command, build malformed bodies by hand,
// and assert on errors with a readable failure message.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

#include <msgpack.hpp>

#include "shared/protocol/codec.h"

namespace mandrill::protocol::testutil {

using Packer = msgpack::packer<msgpack::sbuffer>;

inline std::string CommandFrame(Command c) { return std::string(1, static_cast<char>(c)); }

// Decodes `body` as command `c` with a valid version frame.
inline core::Result<Message> DecodeAs(Command c, std::string_view body, const Limits& limits = {}) {
  const std::string command = CommandFrame(c);
  return Decode(VersionFrame(), command, body, limits);
}

// Encodes `m` and decodes it again with `limits`.
inline core::Result<Message> RoundTrip(const Message& m, const Limits& limits = {}) {
  msgpack::sbuffer buffer;
  EncodeBody(m, buffer);
  return DecodeAs(CommandOf(m), std::string_view(buffer.data(), buffer.size()), limits);
}

// A body written by `write(packer)`, for inputs EncodeBody would never produce.
template <typename F>
std::string Body(F&& write) {
  msgpack::sbuffer buffer;
  Packer packer(buffer);
  std::forward<F>(write)(packer);
  return std::string(buffer.data(), buffer.size());
}

inline void PackStr(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
inline void PackBin(Packer& p, std::string_view s) {
  p.pack_bin(static_cast<std::uint32_t>(s.size()));
  p.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

inline std::string Describe(const core::Result<Message>& r) {
  if (r.ok()) return "success (" + std::string(CommandName(CommandOf(*r))) + ")";
  return "error " + std::to_string(r.error().code.value()) + " (" +
         r.error().code.category().name() + " " + r.error().code.message() + "): " +
         r.error().message;
}

// Success if `r` is an error with `code`, a non-empty message, and `needle` in the message.
inline ::testing::AssertionResult IsError(const core::Result<Message>& r, ErrorCode code,
                                          std::string_view needle = {}) {
  if (r.ok()) return ::testing::AssertionFailure() << "expected an error, got " << Describe(r);
  const auto& e = r.error();
  if (e.code != code) {
    return ::testing::AssertionFailure()
           << "expected code " << static_cast<int>(code) << " (" << ErrorCodeName(code)
           << "), got " << Describe(r);
  }
  if (e.message.empty()) return ::testing::AssertionFailure() << "error has an empty reason";
  if (e.message.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "reason \"" << e.message << "\" lacks \"" << needle
                                         << "\"";
  }
  return ::testing::AssertionSuccess();
}

// Success if `r` is an error with any of the codes Decode may return and a non-empty reason.
inline ::testing::AssertionResult IsAnyDecodeError(const core::Result<Message>& r) {
  if (r.ok()) return ::testing::AssertionFailure() << "expected an error, got " << Describe(r);
  if (!r.error().Is<ErrorCode>()) {
    return ::testing::AssertionFailure() << "not a protocol error: " << Describe(r);
  }
  switch (static_cast<ErrorCode>(r.error().code.value())) {
    case ErrorCode::kMalformed:
    case ErrorCode::kUnsupportedVersion:
    case ErrorCode::kUnknownCommand:
    case ErrorCode::kTooLarge:
    case ErrorCode::kInvalidArgument:
      break;
    default:
      return ::testing::AssertionFailure() << "unexpected code: " << Describe(r);
  }
  if (r.error().message.empty()) return ::testing::AssertionFailure() << "empty reason";
  return ::testing::AssertionSuccess();
}

}  // namespace mandrill::protocol::testutil
