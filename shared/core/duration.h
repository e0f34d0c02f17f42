#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "shared/core/result.h"

namespace mandrill::core {

// Parses a duration with a unit suffix: "250ms", "30s", "5m", "1h", "1500us"; a bare number
// means milliseconds (the project's command-line convention). Rejects negatives, junk and
// overflow with a message naming the bad text.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// "250ms", "30s", "2m", "1h" — the largest whole unit; used in logs and summaries.
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace mandrill::core
