#include "publisher/top_terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace mandrill::publisher {
namespace {

constexpr const char* kEnter = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";  // alt screen, hide cursor
constexpr const char* kLeave = "\x1b[?25h\x1b[?1049l";                // show cursor, main screen

}  // namespace

TerminalSize QueryTerminalSize(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) return {};
  return {ws.ws_col, ws.ws_row};
}

TerminalScreen::TerminalScreen(int in_fd, int out_fd) : in_fd_(in_fd), out_fd_(out_fd) {}

core::Status TerminalScreen::Enter() {
  if (::isatty(in_fd_) == 1) {
    if (::tcgetattr(in_fd_, &saved_) != 0) return core::ErrnoError(errno, "tcgetattr(stdin)");
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
    raw.c_cc[VMIN] = 1;  // read() only after poll() said a byte is there
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(in_fd_, TCSAFLUSH, &raw) != 0) {
      return core::ErrnoError(errno, "tcsetattr(stdin, raw)");
    }
    raw_ = true;
  }
  entered_ = true;
  return Write(kEnter);
}

TerminalScreen::~TerminalScreen() {
  // Best effort: there is no one left to tell if the terminal is gone.
  if (entered_) (void)Write(kLeave);
  if (raw_) ::tcsetattr(in_fd_, TCSAFLUSH, &saved_);
}

core::Status TerminalScreen::Draw(const std::vector<std::string>& lines, TerminalSize size) {
  std::string frame = "\x1b[H";
  for (std::size_t row = 0; row < size.height; ++row) {
    const std::string* line = row < lines.size() ? &lines[row] : nullptr;
    if (line != nullptr) frame += *line;
    // Not after a full-width line: the cursor then still sits on its last character (the
    // pending wrap), which ESC[K would erase.
    if (line == nullptr || line->size() < size.width) frame += "\x1b[K";
    // No newline after the bottom row: it would scroll the screen.
    if (row + 1 < size.height) frame += "\r\n";
  }
  return Write(frame);
}

core::Status TerminalScreen::Write(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(out_fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::ErrnoError(errno, "writing to the terminal");
    }
    done += static_cast<std::size_t>(n);
  }
  return core::Status::Ok();
}

}  // namespace mandrill::publisher
