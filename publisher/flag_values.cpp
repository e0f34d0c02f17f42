#include "publisher/flag_values.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "shared/core/duration.h"

namespace mandrill::publisher {
namespace {
core::Error Bad(std::string_view flag, std::string_view text, std::string_view expected) {
  return core::Error{core::Errc::kInvalidArgument,
                     std::string(flag) + " '" + std::string(text) + "': " + std::string(expected)};
}
}  // namespace

core::Result<std::uint64_t> ParseUnsignedFlag(std::string_view flag, std::string_view text,
                                              std::uint64_t min, std::uint64_t max) {
  const std::string expected =
      "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return Bad(flag, text, expected);
  }
  std::uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < min || v > max) {
    return Bad(flag, text, expected);
  }
  return v;
}

core::Result<double> ParseNonNegativeFlag(std::string_view flag, std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const double v = s.empty() ? -1 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0 ||
      !(s.front() >= '0' && s.front() <= '9')) {
    return Bad(flag, text, "expected a number >= 0");
  }
  return v;
}

core::Result<std::chrono::milliseconds> ParseDurationFlag(std::string_view flag,
                                                          std::string_view text, bool allow_zero) {
  auto d = core::ParseDuration(text);
  if (!d.ok()) return core::Error{core::Errc::kInvalidArgument, std::string(flag) + ": " + d.error().message};
  if (!allow_zero && d->count() == 0) {
    return Bad(flag, text, "must be longer than zero (e.g. 250ms, 5s)");
  }
  return *d;
}

core::Result<std::pair<std::string, std::string>> ParseHeaderFlag(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Bad("--headers", text, "expected key=value");
  }
  return std::pair<std::string, std::string>(std::string(text.substr(0, eq)),
                                             std::string(text.substr(eq + 1)));
}

}  // namespace mandrill::publisher
