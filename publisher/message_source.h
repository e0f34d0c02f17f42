#pragma once
// Where mandrill-publish gets its payloads: command-line arguments, lines of a stream (stdin),
// or generated restart requests ("restart cattle-x7q2"). One thread (the publisher's) drives a
// source; none is thread-safe.
//
// A source never blocks: a stream source reports kNeedInput when it has no complete line, the
// publisher polls input_fd() alongside its socket and calls Fill() when it is readable, so a
// slow producer on stdin never stalls confirm handling or retries.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "publisher/host_names.h"
#include "shared/core/result.h"

namespace mandrill::publisher {

enum class SourceStatus {
  kMessage,    // `payload` holds the next message
  kNeedInput,  // nothing complete yet: poll input_fd(), then Fill()
  kEnd,        // no more messages, ever
  kTooLong,    // a line longer than the limit was skipped; error_text() says which
};

class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // Replaces `payload` with the next message (reusing its capacity) or says why there is none.
  virtual SourceStatus Next(std::string& payload) = 0;
  // The descriptor to poll for input after kNeedInput; -1 for sources that never need it.
  virtual int input_fd() const { return -1; }
  // Reads what is available from input_fd() once (call only when poll said readable).
  virtual core::Status Fill() { return core::Status::Ok(); }
  // Describes the last kTooLong.
  virtual std::string error_text() const { return {}; }
};

// One message per argument, in order.
class ArgsSource final : public MessageSource {
 public:
  explicit ArgsSource(std::vector<std::string> payloads) : payloads_(std::move(payloads)) {}
  SourceStatus Next(std::string& payload) override;

 private:
  std::vector<std::string> payloads_;
  std::size_t next_ = 0;
};

// `count` restart requests "restart cattle-xxxx", host names drawn from `seed`. When
// `payload_bytes` exceeds the natural length the payload is padded with '.' to that size
// (for throughput runs with a fixed message size).
class GeneratedSource final : public MessageSource {
 public:
  GeneratedSource(std::uint64_t count, std::uint64_t seed, std::size_t payload_bytes = 0)
      : remaining_(count), hosts_(seed), payload_bytes_(payload_bytes) {}
  SourceStatus Next(std::string& payload) override;

 private:
  std::uint64_t remaining_;
  HostNameGenerator hosts_;
  std::size_t payload_bytes_;
};

// Splits a byte stream into lines. A line ends at '\n'; a trailing '\r' is removed; empty
// lines are skipped (they carry no message); a last line without '\n' counts once Finish()
// was called. A line longer than `max_line` bytes is dropped whole and reported as kTooLong.
// Memory stays bounded by max_line plus one Feed() chunk.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : max_line_(max_line) {}
  void Feed(std::string_view bytes);
  // Appends room for `n` bytes and returns where to write them; then Commit(written).
  char* Reserve(std::size_t n);
  void Commit(std::size_t written);
  void Finish() { finished_ = true; }
  // kMessage, kNeedInput (no complete line and not finished), kEnd or kTooLong.
  SourceStatus Next(std::string& line);
  // 1-based number of the line last returned or skipped.
  std::uint64_t line_number() const { return line_number_; }
  std::size_t max_line() const { return max_line_; }

 private:
  void Compact();

  std::size_t max_line_;
  std::string buffer_;
  std::size_t start_ = 0;     // first unconsumed byte
  std::size_t scanned_ = 0;   // bytes from start_ already known to hold no '\n'
  std::size_t reserved_ = 0;  // bytes appended by Reserve() not yet committed
  bool discarding_ = false;   // inside an over-long line: drop up to the next '\n'
  bool finished_ = false;
  std::uint64_t line_number_ = 0;
};

// One message per line of the stream behind `fd` (not owned, not closed). Reads only when
// the publisher's poll said the descriptor is readable, so it never blocks and never changes
// the descriptor's flags (stdin may be the operator's terminal).
class LineSource final : public MessageSource {
 public:
  LineSource(int fd, std::size_t max_line) : fd_(fd), splitter_(max_line) {}
  SourceStatus Next(std::string& payload) override;
  int input_fd() const override { return eof_ ? -1 : fd_; }
  core::Status Fill() override;
  std::string error_text() const override;

 private:
  int fd_;
  LineSplitter splitter_;
  bool eof_ = false;
};

}  // namespace mandrill::publisher
