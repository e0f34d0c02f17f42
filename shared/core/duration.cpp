#include "shared/core/duration.h"

#include <charconv>
#include <cstdint>
#include <limits>

namespace mandrill::core {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&](const char* why) {
    return Error{Errc::kInvalidArgument, "invalid duration '" + std::string(text) + "': " + why +
                        " (use e.g. 250ms, 30s, 5m, 1h; a bare number is milliseconds)"};
  };
  if (text.empty()) return bad("empty");
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc::result_out_of_range) return bad("too large");
  if (ec != std::errc() || end == text.data()) return bad("must start with a non-negative integer");
  std::string_view unit(end, text.data() + text.size() - end);
  // Scale as (multiplier / divisor) milliseconds, checking overflow of the product.
  std::uint64_t mul = 1, div = 1;
  if (unit.empty() || unit == "ms") {
  } else if (unit == "us") {
    div = 1000;
  } else if (unit == "s") {
    mul = 1000;
  } else if (unit == "m") {
    mul = 60'000;
  } else if (unit == "h") {
    mul = 3'600'000;
  } else {
    return bad("unknown unit");
  }
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (number > kMax / mul) return bad("too large");
  return std::chrono::milliseconds(static_cast<std::int64_t>(number * mul / div));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0 && ms != 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace mandrill::core
