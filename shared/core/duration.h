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

// "1.5s", "250ms", "2m" — the short form used in logs and summaries.
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace mandrill::core
