#pragma once
// --confirmed-out: the ids of confirmed messages, one per line, appended to a file. The chaos
// drill reads it after killing publishers, so every id handed to Add() reaches the kernel at
// the next Flush() (the publisher flushes after each pass over received confirms; the page
// cache survives a SIGKILL). The file is opened O_APPEND and each Flush() is one write() of
// whole lines, so successive runs (or several publishers) can append to the same file without
// overwriting each other. Not thread-safe.
#include <string>
#include <string_view>

#include "shared/core/result.h"

namespace mandrill::publisher {

class ConfirmedLog {
 public:
  ConfirmedLog() = default;  // disabled: Add/Flush do nothing
  ~ConfirmedLog();
  ConfirmedLog(const ConfirmedLog&) = delete;
  ConfirmedLog& operator=(const ConfirmedLog&) = delete;

  // Opens (creating, appending) `path`. Error when it cannot be opened.
  core::Status Open(const std::string& path);
  bool enabled() const { return fd_ >= 0; }
  void Add(std::string_view id);
  // Writes everything added since the last Flush(). Error (errno text) when the write fails;
  // the unwritten ids stay buffered.
  core::Status Flush();

 private:
  int fd_ = -1;
  std::string path_;
  std::string buffer_;
};

}  // namespace mandrill::publisher
