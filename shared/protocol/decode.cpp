// Strict decoding. msgpack-c parses into an object tree bounded by unpack_limit (so a declared
// size can never make it allocate more than a small multiple of the body), then each command's
// fields are checked (decode_bodies.cpp) before anything is copied out.
#include <algorithm>
#include <limits>

#include "shared/protocol/codec.h"
#include "shared/protocol/decode_bodies.h"

namespace mandrill::protocol {
namespace {

core::Error Err(ErrorCode code, std::string reason) {
  return core::Error{code, std::move(reason)};
}
// Counts the elements a body declares, building nothing, so a body of millions of tiny elements
// is refused before msgpack-c allocates a 24-byte object for each (and before it spends seconds
// doing so). Stops at the first container past either bound.
class Census : public msgpack::null_visitor {
 public:
  Census(std::size_t max_elements, std::size_t max_depth)
      : max_elements_(max_elements), max_depth_(max_depth) {}
  bool start_array(std::uint32_t n) { return Enter(n); }
  bool start_map(std::uint32_t n) { return Enter(2 * std::size_t{n}); }
  bool end_array() { return Leave(); }
  bool end_map() { return Leave(); }
  bool too_deep() const { return too_deep_; }
  bool too_many() const { return too_many_; }

 private:
  bool Enter(std::size_t n) {
    elements_ += n;
    too_deep_ = ++depth_ > max_depth_;
    too_many_ = elements_ > max_elements_;
    return !too_deep_ && !too_many_;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  std::size_t max_elements_, max_depth_;
  std::size_t elements_ = 0, depth_ = 0;
  bool too_deep_ = false, too_many_ = false;
};

}  // namespace

core::Result<Message> Decode(std::string_view version, std::string_view command,
                             std::string_view body, const Limits& limits) {
  if (version.size() != 4 || version.substr(0, 3) != kVersionMagic) {
    return Err(ErrorCode::kMalformed, "first frame is not a Mandrill version frame (\"MDL\" + version byte)");
  }
  if (static_cast<std::uint8_t>(version[3]) != kProtocolVersion) {
    return Err(ErrorCode::kUnsupportedVersion,
               "protocol version " + std::to_string(static_cast<std::uint8_t>(version[3])) +
                   " is not supported; this peer speaks version " + std::to_string(kProtocolVersion));
  }
  if (command.size() != 1) return Err(ErrorCode::kMalformed, "command frame must be exactly 1 byte");
  const auto byte = static_cast<std::uint8_t>(command[0]);
  if (!IsKnownCommand(byte)) {
    return Err(ErrorCode::kUnknownCommand, "unknown command byte " + std::to_string(byte));
  }
  if (body.size() > limits.max_body_bytes) {
    return Err(ErrorCode::kTooLarge, "body of " + std::to_string(body.size()) + " bytes exceeds " +
                                         std::to_string(limits.max_body_bytes));
  }
  constexpr std::size_t kMaxDepth = 8;
  {
    Census census(limits.max_elements, kMaxDepth);
    std::size_t offset = 0;
    msgpack::parse(body.data(), body.size(), offset, census);
    if (census.too_deep()) {
      return Err(ErrorCode::kTooLarge, "body nesting depth exceeds " + std::to_string(kMaxDepth));
    }
    if (census.too_many()) {
      return Err(ErrorCode::kTooLarge, "body declares more than " +
                                           std::to_string(limits.max_elements) + " elements");
    }
  }
  // Arrays and maps may not declare more elements than the body has bytes (each element takes
  // at least one): past that bound the body is cut short, past the limits it is too large.
  const std::size_t cap = std::max<std::size_t>(1, body.size());
  msgpack::object_handle handle;
  try {
    const auto array_limit = static_cast<std::size_t>(std::min(cap, limits.max_batch + 16));
    const auto map_limit = static_cast<std::size_t>(std::min(cap, limits.max_headers));
    const msgpack::unpack_limit unpack_limits(array_limit, map_limit, limits.max_string_bytes,
                                              limits.max_payload_bytes, 0, kMaxDepth);
    std::size_t offset = 0;
    handle = msgpack::unpack(
        body.data(), body.size(), offset,
        [](msgpack::type::object_type, std::size_t, void*) { return true; }, nullptr,
        unpack_limits);
    if (offset != body.size()) {
      return Err(ErrorCode::kMalformed, std::to_string(body.size() - offset) +
                                            " bytes of garbage after the msgpack body");
    }
  } catch (const msgpack::array_size_overflow&) {
    if (cap < limits.max_batch + 16) {
      return Err(ErrorCode::kMalformed,
                 "msgpack body is truncated: an array declares more elements than it has bytes");
    }
    return Err(ErrorCode::kTooLarge, "an array in the body has more than " +
                                         std::to_string(limits.max_batch + 16) + " elements");
  } catch (const msgpack::map_size_overflow&) {
    if (cap < limits.max_headers) {
      return Err(ErrorCode::kMalformed,
                 "msgpack body is truncated: a map declares more entries than it has bytes");
    }
    return Err(ErrorCode::kTooLarge, "a map in the body has more than " +
                                         std::to_string(limits.max_headers) + " entries");
  } catch (const msgpack::ext_size_overflow&) {
    return Err(ErrorCode::kMalformed, "msgpack extension types are not part of the protocol");
  } catch (const msgpack::size_overflow& e) {
    return Err(ErrorCode::kTooLarge, std::string("body declares a size over a limit: ") + e.what());
  } catch (const msgpack::insufficient_bytes&) {
    return Err(ErrorCode::kMalformed, "msgpack body is truncated");
  } catch (const std::exception& e) {
    // Parse errors and allocation failure are both answers about this input, not crashes.
    return Err(ErrorCode::kMalformed, std::string("body is not valid msgpack: ") + e.what());
  }  return detail::ParseBody(static_cast<Command>(byte), handle.get(), limits);
}

}  // namespace mandrill::protocol
