#include "shared/core/text_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mandrill::core {

Result<std::string> ReadTextFile(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    const int err = errno;
    return Error{Errc::kIo, "cannot read " + std::string(what) + " " + path + ": " +
                                std::strerror(err != 0 ? err : EIO)};
  }
  return text.str();
}

}  // namespace mandrill::core
