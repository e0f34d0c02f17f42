#pragma once
// The terminal side of `mandrill-ctl top`: its size, and a full-screen session that puts the
// terminal back as it found it however top ends (return, exception, or a SIGINT/SIGTERM the
// caller turns into a return).
#include <termios.h>

#include <cstddef>
#include <string>
#include <vector>

#include "shared/core/result.h"

namespace mandrill::publisher {

struct TerminalSize {
  std::size_t width = 80;
  std::size_t height = 24;
};

// The size of the terminal on `fd` (TIOCGWINSZ), or 80x24 when `fd` is not a terminal or
// reports a zero size.
TerminalSize QueryTerminalSize(int fd);

// While alive: `in_fd` (when it is a terminal) is raw — no echo, bytes as typed, and no
// signal keys, so Ctrl-C arrives as byte 3 and Ctrl-Z cannot stop top with the terminal left
// raw — and `out_fd` shows the alternate screen (ESC[?1049h) with the cursor hidden. The
// destructor undoes both. One per process; the fds must outlive it.
class TerminalScreen {
 public:
  TerminalScreen(int in_fd, int out_fd);
  ~TerminalScreen();
  TerminalScreen(const TerminalScreen&) = delete;
  TerminalScreen& operator=(const TerminalScreen&) = delete;

  // Takes the terminal over. On failure nothing is left changed.
  core::Status Enter();
  // Whether keys can be read from in_fd (it is a terminal in raw mode).
  bool keys() const { return raw_; }
  // Draws `lines` from the top left, each row overwritten to its end and the rows below the
  // last line cleared, so nothing of the previous frame remains. Lines must fit `size`.
  core::Status Draw(const std::vector<std::string>& lines, TerminalSize size);

 private:
  core::Status Write(const std::string& bytes);

  int in_fd_;
  int out_fd_;
  bool raw_ = false;
  bool entered_ = false;
  termios saved_{};
};

}  // namespace mandrill::publisher
