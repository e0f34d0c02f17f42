#include "publisher/message_source.h"

#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

namespace mandrill::publisher {
namespace {
constexpr std::size_t kReadChunk = 256 * 1024;
constexpr std::size_t kCompactAbove = 64 * 1024;
}  // namespace

SourceStatus ArgsSource::Next(std::string& payload) {
  if (next_ >= payloads_.size()) return SourceStatus::kEnd;
  payload.assign(payloads_[next_++]);
  return SourceStatus::kMessage;
}

SourceStatus GeneratedSource::Next(std::string& payload) {
  if (remaining_ == 0) return SourceStatus::kEnd;
  --remaining_;
  payload.assign("restart ");
  hosts_.AppendNext(payload);
  if (payload.size() < payload_bytes_) {
    payload.push_back(' ');
    payload.resize(payload_bytes_, '.');
  }
  return SourceStatus::kMessage;
}

void LineSplitter::Feed(std::string_view bytes) {
  std::memcpy(Reserve(bytes.size()), bytes.data(), bytes.size());
  Commit(bytes.size());
}

char* LineSplitter::Reserve(std::size_t n) {
  assert(reserved_ == 0);
  const std::size_t old = buffer_.size();
  buffer_.resize(old + n);
  reserved_ = n;
  return buffer_.data() + old;
}

void LineSplitter::Commit(std::size_t written) {
  assert(written <= reserved_);
  buffer_.resize(buffer_.size() - reserved_ + written);
  reserved_ = 0;
}

void LineSplitter::Compact() {
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ >= kCompactAbove) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
}

SourceStatus LineSplitter::Next(std::string& line) {
  assert(reserved_ == 0);
  while (true) {
    const char* data = buffer_.data();
    const std::size_t end = buffer_.size();
    const std::size_t from = start_ + scanned_;
    const void* nl = from < end ? std::memchr(data + from, '\n', end - from) : nullptr;
    std::size_t line_start = start_;
    std::size_t len = 0;
    if (nl != nullptr) {
      const auto line_end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
      len = line_end - start_;
      start_ = line_end + 1;
      scanned_ = 0;
      if (discarding_) {  // the tail of a line already reported as too long
        discarding_ = false;
        continue;
      }
    } else {
      scanned_ = end - start_;
      if (discarding_) {
        start_ = end;
        scanned_ = 0;
        if (finished_) return SourceStatus::kEnd;
        Compact();
        return SourceStatus::kNeedInput;
      }
      if (!finished_) {
        // +1: the line may still end in "\r\n", and the '\r' does not count.
        if (scanned_ > max_line_ + 1) {
          ++line_number_;
          discarding_ = true;
          start_ = end;
          scanned_ = 0;
          Compact();
          return SourceStatus::kTooLong;
        }
        Compact();
        return SourceStatus::kNeedInput;
      }
      if (start_ == end) return SourceStatus::kEnd;
      len = end - start_;  // the last line, unterminated
      start_ = end;
      scanned_ = 0;
    }
    ++line_number_;
    if (len > 0 && data[line_start + len - 1] == '\r') --len;
    if (len == 0) continue;
    if (len > max_line_) return SourceStatus::kTooLong;
    line.assign(data + line_start, len);
    return SourceStatus::kMessage;
  }
}

SourceStatus LineSource::Next(std::string& payload) { return splitter_.Next(payload); }

core::Status LineSource::Fill() {
  if (eof_) return core::Status::Ok();
  char* at = splitter_.Reserve(kReadChunk);
  const ssize_t n = ::read(fd_, at, kReadChunk);
  if (n < 0) {
    const int err = errno;
    splitter_.Commit(0);
    if (err == EINTR || err == EAGAIN) return core::Status::Ok();
    return core::ErrnoError(err, std::string("cannot read input: ") + std::strerror(err));
  }
  splitter_.Commit(static_cast<std::size_t>(n));
  if (n == 0) {
    eof_ = true;
    splitter_.Finish();
  }
  return core::Status::Ok();
}

std::string LineSource::error_text() const {
  return "input line " + std::to_string(splitter_.line_number()) + " is longer than " +
         std::to_string(splitter_.max_line()) + " bytes (the payload limit): skipped";
}

}  // namespace mandrill::publisher
