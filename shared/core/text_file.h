#pragma once
// A whole small text file (an auth file, a key file, a cell map) read at start-up or on SIGHUP.
#include <string>
#include <string_view>

#include "shared/core/result.h"

namespace mandrill::core {

// The file's bytes; Errc::kIo "cannot read WHAT PATH: REASON" when it cannot be opened or read.
Result<std::string> ReadTextFile(const std::string& path, std::string_view what);

}  // namespace mandrill::core
