#include "shared/core/byte_size.h"

#include <charconv>
#include <cstdio>
#include <limits>

namespace mandrill::core {
namespace {

Error Bad(std::string_view text, const char* why) {
  return Error{Errc::kInvalidArgument, "invalid size '" + std::string(text) + "': " + why +
                                           " (write e.g. 1048576, 512MiB, 4GiB or 2GB)"};
}

}  // namespace

Result<std::uint64_t> ParseByteSize(std::string_view text) {
  std::uint64_t n = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto [p, ec] = std::from_chars(begin, end, n);
  if (ec == std::errc::result_out_of_range) return Bad(text, "too large");
  if (ec != std::errc() || p == begin) return Bad(text, "not a whole number of bytes");
  const std::string_view unit(p, static_cast<std::size_t>(end - p));
  struct Unit {
    std::string_view name;
    std::uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},          {"B", 1},
      {"K", 1ull << 10}, {"KiB", 1ull << 10}, {"KB", 1000},
      {"M", 1ull << 20}, {"MiB", 1ull << 20}, {"MB", 1000'000},
      {"G", 1ull << 30}, {"GiB", 1ull << 30}, {"GB", 1000'000'000},
      {"T", 1ull << 40}, {"TiB", 1ull << 40}, {"TB", 1000'000'000'000}};
  for (const auto& u : kUnits) {
    if (u.name != unit) continue;
    if (n > std::numeric_limits<std::uint64_t>::max() / u.factor) return Bad(text, "too large");
    return n * u.factor;
  }
  return Bad(text, "unknown unit");
}

std::string FormatByteSize(std::uint64_t bytes) {
  static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  if (i == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kNames[i]);
  }
  return buf;
}

}  // namespace mandrill::core
