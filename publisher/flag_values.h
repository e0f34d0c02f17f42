#pragma once
// Strict parsing of command-line values shared by mandrill-publish and mandrill-ctl. CLI11
// alone would accept "-1" for an unsigned flag (wrapping to 2^64-1) and saturate overflow,
// so numeric flags are taken as text and parsed here. Every error message names the flag,
// the bad text and what is expected, ready for a one-line usage error.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "shared/core/result.h"

namespace mandrill::publisher {

// A whole number in [min, max]; digits only (no sign, no exponent).
core::Result<std::uint64_t> ParseUnsignedFlag(std::string_view flag, std::string_view text,
                                              std::uint64_t min, std::uint64_t max);
// A finite decimal number >= 0 ("250", "0.5").
core::Result<double> ParseNonNegativeFlag(std::string_view flag, std::string_view text);
// A duration per the project convention (core::ParseDuration: 250ms, 5s, bare = ms), > 0
// unless `allow_zero`.
core::Result<std::chrono::milliseconds> ParseDurationFlag(std::string_view flag,
                                                          std::string_view text,
                                                          bool allow_zero = false);
// "key=value" with a non-empty key.
core::Result<std::pair<std::string, std::string>> ParseHeaderFlag(std::string_view text);

}  // namespace mandrill::publisher
