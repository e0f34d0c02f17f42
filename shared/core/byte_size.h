#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/core/result.h"

namespace mandrill::core {

// Parses a size: a number of bytes with an optional unit, binary (K, KiB, M, MiB, G, GiB, T,
// TiB: powers of 1024) or decimal (KB, MB, GB, TB: powers of 1000); a bare number is bytes.
// Rejects negatives, fractions, junk and overflow with a message naming the bad text.
Result<std::uint64_t> ParseByteSize(std::string_view text);

// "512 B", "64.0 MiB", "1.5 GiB": for logs.
std::string FormatByteSize(std::uint64_t bytes);

}  // namespace mandrill::core
