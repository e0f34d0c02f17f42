#include "publisher/top_command.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <ostream>
#include <thread>

#include "publisher/admin_client.h"
#include "publisher/stop_signal.h"
#include "publisher/top_fetcher.h"
#include "publisher/top_layout.h"
#include "publisher/top_terminal.h"
#include "shared/core/duration.h"

namespace mandrill::publisher {
namespace {

using Clock = std::chrono::steady_clock;

// "14:03:27", local time: when the screen was drawn.
std::string ClockNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  char buf[16] = "--:--:--";
  if (localtime_r(&now, &tm) != nullptr) std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// --once: two samples `interval` apart, one plain-text frame.
int RunOnce(const CtlOptions& ctl, const TopOptions& top, zmq::context_t& context,
            std::ostream& out, std::ostream& err) {
  TopSample samples[2];
  Clock::time_point first_at;
  for (int i = 0; i < 2; ++i) {
    // Rates need time between the samples; there is nothing to wait for but the clock.
    if (i == 1) std::this_thread::sleep_until(first_at + top.interval);
    auto sample = FetchTopSample(context, ctl);
    if (!sample.ok()) {
      err << "mandrill-ctl: " << sample.error().message << std::endl;
      return CtlExitCode(sample.error());
    }
    if (i == 0) first_at = Clock::now();
    samples[i] = std::move(sample).value();
  }
  const TerminalSize size =
      ::isatty(STDOUT_FILENO) == 1 ? QueryTerminalSize(STDOUT_FILENO) : TerminalSize{};
  const TopView view = BuildTopView(&samples[0], &samples[1]);
  // With --cells, cells that did not answer are on the status line and in the exit code.
  for (const auto& line :
       LayoutTop(view, ClockNow(), samples[1].problem, size.width, size.height)) {
    out << line << '\n';
  }
  out << std::flush;
  if (!samples[1].problem.empty()) err << "mandrill-ctl: " << samples[1].problem << std::endl;
  return samples[1].problem_exit;
}

// Full screen: one fetch per interval on the fetcher's thread, keys and signals in between.
class Session {
 public:
  Session(const CtlOptions& ctl, const TopOptions& top, zmq::context_t& context)
      : top_(top),
        screen_(STDIN_FILENO, STDOUT_FILENO),
        fetcher_(context, ctl),
        hint_("q quits; refresh every " + core::FormatDuration(top.interval)),
        status_(hint_) {}

  // The exit code; `failure` is set to the reason when it is not 0, to be printed once the
  // terminal is restored.
  int Run(std::string& failure) {
    if (auto st = screen_.Enter(); !st) {
      failure = "top cannot use the terminal: " + st.message();
      return kCtlBrokerError;
    }
    bool keys = screen_.keys();
    bool dirty = true;  // the screen is older than what it should show
    auto due = Clock::now();
    while (true) {
      if (!fetcher_.busy() && Clock::now() >= due) {
        fetcher_.Start();
        due = Clock::now() + top_.interval;
      }
      if (dirty) {
        if (auto st = Draw(); !st) {
          failure = st.message();
          return kCtlBrokerError;
        }
        dirty = false;
      }
      pollfd fds[3] = {{stop_.read_fd(), POLLIN, 0},
                       {fetcher_.fd(), POLLIN, 0},
                       {keys ? STDIN_FILENO : -1, POLLIN, 0}};  // poll skips a negative fd
      if (::poll(fds, 3, fetcher_.busy() ? -1 : MsUntil(due)) < 0) {
        if (errno == EINTR) continue;
        failure = std::string("poll: ") + std::strerror(errno);
        return kCtlBrokerError;
      }
      if (fds[0].revents != 0) return kCtlOk;  // SIGINT/SIGTERM
      if (fds[2].revents != 0) {
        switch (ReadKeys()) {
          case Keys::kQuit: return kCtlOk;
          case Keys::kClosed: keys = false; break;
          case Keys::kOther: dirty = true; break;  // any other key redraws (after a resize, say)
        }
      }
      if (fds[1].revents != 0) {
        if (auto code = TakeResult(failure)) return *code;
        dirty = true;
      }
    }
  }

 private:
  enum class Keys { kOther, kQuit, kClosed };

  static int MsUntil(Clock::time_point due) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(due - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
  }

  static Keys ReadKeys() {
    char buf[64];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return Keys::kOther;
    if (n <= 0) return Keys::kClosed;  // no more keys; signals still end top
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3 /* Ctrl-C */) return Keys::kQuit;
    }
    return Keys::kOther;
  }

  // A finished fetch into the view; an exit code only for an error no retry can fix.
  std::optional<int> TakeResult(std::string& failure) {
    auto result = fetcher_.Take();
    if (!result) return std::nullopt;
    if (result->ok()) {
      previous_ = std::move(current_);
      current_ = std::move(*result).value();
      status_ = current_->problem.empty() ? hint_ : current_->problem;
      return std::nullopt;
    }
    const core::Error& e = result->error();
    spdlog::debug("top: STATS failed: {}", e.message);
    if (e.code == CtlErrc::kUsage) {
      failure = e.message;
      return kCtlUsage;
    }
    // The last good sample stays on the screen under the error.
    status_ = (e.code == CtlErrc::kNoAnswer ? "broker not answering: " : "broker error: ") +
              e.message;
    return std::nullopt;
  }

  core::Status Draw() {
    // Asked every frame: the terminal may have been resized.
    const TerminalSize size = QueryTerminalSize(STDOUT_FILENO);
    const TopView view = BuildTopView(previous_ ? &*previous_ : nullptr,
                                      current_ ? &*current_ : nullptr);
    return screen_.Draw(LayoutTop(view, ClockNow(), status_, size.width, size.height), size);
  }

  const TopOptions top_;
  StopSignal stop_;         // outlives the screen: a signal during the restore is still caught
  TerminalScreen screen_;   // restored after the fetcher's thread has stopped
  TopFetcher fetcher_;
  const std::string hint_;
  std::string status_;
  std::optional<TopSample> previous_, current_;
};

}  // namespace

int RunTop(const CtlOptions& ctl, const TopOptions& top, zmq::context_t& context,
           std::ostream& out, std::ostream& err) {
  if (top.once) return RunOnce(ctl, top, context, out, err);
  if (::isatty(STDOUT_FILENO) != 1) {
    err << "mandrill-ctl: top needs a terminal on stdout; use 'top --once' for plain text"
        << std::endl;
    return kCtlNoAnswer;
  }
  std::string failure;
  int code = kCtlOk;
  {
    Session session(ctl, top, context);
    code = session.Run(failure);
  }  // the terminal is back to normal here
  if (code != kCtlOk) err << "mandrill-ctl: " << failure << std::endl;
  return code;
}

}  // namespace mandrill::publisher
