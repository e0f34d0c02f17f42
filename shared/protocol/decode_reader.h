#pragma once
// Field-by-field checks of a decoded msgpack object tree, shared by the body parsers
// (decode_bodies.cpp). Internal to shared/protocol: the first failure's code and reason are
// kept and become Decode's error.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "shared/protocol/error_code.h"
#include "shared/protocol/limits.h"

namespace mandrill::protocol::detail {

using Obj = msgpack::object;

class Reader {
 public:
  explicit Reader(const Limits& limits) : limits_(limits) {}

  bool Fail(ErrorCode code, std::string what) {
    if (reason_.empty()) {
      code_ = code;
      reason_ = std::move(what);
    }
    return false;
  }
  ErrorCode code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const Limits& limits() const { return limits_; }

  // An array of at least `min` elements. Extra trailing elements are allowed (forward compat).
  bool Array(const Obj& o, std::size_t min, const char* what, const Obj** items,
             std::size_t* size) {
    if (o.type != msgpack::type::ARRAY) return Fail(ErrorCode::kMalformed, std::string(what) + ": expected an array");
    if (o.via.array.size < min) {
      return Fail(ErrorCode::kMalformed, std::string(what) + ": expected at least " +
                                              std::to_string(min) + " fields, got " +
                                              std::to_string(o.via.array.size));
    }
    *items = o.via.array.ptr;
    *size = o.via.array.size;
    return true;
  }
  bool Batch(const Obj& o, const char* what, const Obj** items, std::size_t* size) {
    if (!Array(o, 0, what, items, size)) return false;
    if (*size > limits_.max_batch) {
      return Fail(ErrorCode::kTooLarge, std::string(what) + ": batch of " + std::to_string(*size) +
                                            " exceeds " + std::to_string(limits_.max_batch));
    }
    return true;
  }
  bool Str(const Obj& o, const char* what, std::string* out, std::size_t max = 0) {
    if (max == 0) max = limits_.max_string_bytes;
    if (o.type != msgpack::type::STR) return Fail(ErrorCode::kMalformed, std::string(what) + ": expected a string");
    if (o.via.str.size > max) {
      return Fail(ErrorCode::kTooLarge, std::string(what) + ": " + std::to_string(o.via.str.size) +
                                            " bytes exceeds " + std::to_string(max));
    }
    out->assign(o.via.str.ptr, o.via.str.size);
    return true;
  }
  bool Bin(const Obj& o, const char* what, std::string* out, std::size_t max) {
    if (o.type != msgpack::type::BIN) return Fail(ErrorCode::kMalformed, std::string(what) + ": expected binary");
    if (o.via.bin.size > max) {
      return Fail(ErrorCode::kTooLarge, std::string(what) + ": " + std::to_string(o.via.bin.size) +
                                            " bytes exceeds " + std::to_string(max));
    }
    out->assign(o.via.bin.ptr, o.via.bin.size);
    return true;
  }
  template <typename U>
  bool Uint(const Obj& o, const char* what, U* out) {
    static_assert(std::is_unsigned_v<U>);
    if (o.type != msgpack::type::POSITIVE_INTEGER) {
      return Fail(ErrorCode::kMalformed, std::string(what) + ": expected a non-negative integer");
    }
    if (o.via.u64 > std::numeric_limits<U>::max()) {
      return Fail(ErrorCode::kMalformed, std::string(what) + ": " + std::to_string(o.via.u64) + " out of range");
    }
    *out = static_cast<U>(o.via.u64);
    return true;
  }
  bool Int(const Obj& o, const char* what, std::int64_t* out) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      if (o.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Fail(ErrorCode::kMalformed, std::string(what) + ": out of range");
      }
      *out = static_cast<std::int64_t>(o.via.u64);
      return true;
    }
    if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      *out = o.via.i64;
      return true;
    }
    return Fail(ErrorCode::kMalformed, std::string(what) + ": expected an integer");
  }
  bool Strings(const Obj& o, const char* what, std::vector<std::string>* out, std::size_t max = 0) {
    const Obj* items;
    std::size_t n;
    if (!Batch(o, what, &items, &n)) return false;
    out->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!Str(items[i], what, &(*out)[i], max)) return false;
    }
    return true;
  }
  bool Uints(const Obj& o, const char* what, std::vector<std::uint64_t>* out) {
    const Obj* items;
    std::size_t n;
    if (!Batch(o, what, &items, &n)) return false;
    out->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!Uint(items[i], what, &(*out)[i])) return false;
    }
    return true;
  }
  bool HeaderMap(const Obj& o, Headers* out) {
    if (o.type == msgpack::type::NIL) return true;
    if (o.type != msgpack::type::MAP) return Fail(ErrorCode::kMalformed, "headers: expected a map");
    if (o.via.map.size > limits_.max_headers) {
      return Fail(ErrorCode::kTooLarge, "headers: more than " + std::to_string(limits_.max_headers));
    }
    out->resize(o.via.map.size);
    for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
      if (!Str(o.via.map.ptr[i].key, "header name", &(*out)[i].first) ||
          !Str(o.via.map.ptr[i].val, "header value", &(*out)[i].second)) {
        return false;
      }
    }
    return true;
  }

 private:
  const Limits& limits_;
  ErrorCode code_ = ErrorCode::kNone;
  std::string reason_;
};

}  // namespace mandrill::protocol::detail
