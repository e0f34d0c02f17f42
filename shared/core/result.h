#pragma once
// Expected failures as values (GCC 12 has no std::expected in C++20).
//
// An Error's code is a std::error_code: its category names the layer that produced it
// (protocol::ErrorCode, journal::JournalErrc, core::Errc, the OS's errno through
// std::system_category, ...), so a caller asks `error.code == journal::JournalErrc::kDiskFull`
// or `error.Is<protocol::ErrorCode>()` instead of comparing bare ints whose meaning depends on
// where they came from. Each layer's enum is registered with std::is_error_code_enum beside
// its definition.
#include <cassert>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace mandrill::core {

// Failures of the shared core (command-line values, files, logging) that belong to no
// narrower layer.
enum class Errc {
  kInvalidArgument = 1,  // a value given by a user or caller is not acceptable
  kIo = 2,               // a file or device could not be used (the message names it)
  kUnavailable = 3,      // a peer or resource is not there (yet)
  kInternal = 4,         // a bug: reported, never expected
};
const std::error_category& CoreCategory();
inline std::error_code make_error_code(Errc e) {  // NOLINT: found by ADL, std's spelling
  return {static_cast<int>(e), CoreCategory()};
}

}  // namespace mandrill::core

template <>
struct std::is_error_code_enum<mandrill::core::Errc> : std::true_type {};

namespace mandrill::core {

// An expected failure: a typed code and a one-line human reason.
struct Error {
  std::error_code code;
  std::string message;

  Error() = default;
  Error(std::error_code c, std::string m) : code(c), message(std::move(m)) {}
  template <typename E, std::enable_if_t<std::is_error_code_enum_v<E>, int> = 0>
  Error(E e, std::string m) : code(make_error_code(e)), message(std::move(m)) {}

  // Whether the code comes from the layer whose enum is E (e.g. protocol::ErrorCode).
  template <typename E>
  bool Is() const {
    return code.category() == make_error_code(E{}).category();
  }
};

// An Error for a failed system call: `err` is an errno value.
inline Error ErrnoError(int err, std::string message) {
  return Error{std::error_code(err, std::system_category()), std::move(message)};
}

// Either a T or an Error. Accessing the wrong side is a broken invariant (assert).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status Ok() { return {}; }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  const std::string& message() const { return error_.message; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace mandrill::core
