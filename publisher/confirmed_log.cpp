#include "publisher/confirmed_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mandrill::publisher {

ConfirmedLog::~ConfirmedLog() {
  if (fd_ >= 0) ::close(fd_);
}

core::Status ConfirmedLog::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return core::ErrnoError(errno, "cannot open '" + path + "': " + std::strerror(errno));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  path_ = path;
  return core::Status::Ok();
}

void ConfirmedLog::Add(std::string_view id) {
  if (fd_ < 0) return;
  buffer_.append(id);
  buffer_.push_back('\n');
}

core::Status ConfirmedLog::Flush() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      buffer_.erase(0, done);
      return core::ErrnoError(err, "cannot write '" + path_ + "': " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
  return core::Status::Ok();
}

}  // namespace mandrill::publisher
