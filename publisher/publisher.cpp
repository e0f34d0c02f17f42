#include "publisher/publisher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "publisher/confirm_tracker.h"
#include "publisher/confirmed_log.h"
#include "publisher/pacer.h"
#include "publisher/publish_frame.h"
#include "shared/cells/rendezvous.h"
#include "shared/core/duration.h"
#include "shared/protocol/transport.h"

namespace mandrill::publisher {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Longest single poll: bounds how late a signal without a pipe, or a missed event, is seen.
constexpr milliseconds kMaxPoll{250};
// While a send would block, poll for POLLOUT but also retry at least this often.
constexpr milliseconds kBlockedRetry{50};
// An unreachable broker is worth a warning (not just an info line) after this long.
constexpr milliseconds kWarnBlockedAfter{2000};
// With cells, reconnect to a cell that went away at most this far apart, so a restarted cell
// takes its own messages again soon after it is back.
constexpr int kCellReconnectMaxMs = 500;

milliseconds Until(core::SteadyTime from, core::SteadyTime to) {
  if (to <= from) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(to - from);
}

}  // namespace

// Everything one run needs; lives on Run()'s stack.
class Publisher::Loop {
 public:
  Loop(const PublishOptions& o, MessageSource& source, zmq::context_t& context, StopSignal* stop,
       const core::Clock& clock)
      : o_(o),
        source_(source),
        stop_(stop),
        clock_(clock),
        names_(cells::TargetNames(o.targets)),
        tracker_(MakeTrackerOptions(o), clock),
        pacer_(o.rate, clock.Now()),
        frame_(o.queue, o.headers),
        // Several frames in flight keep the pipe full while the broker confirms earlier ones.
        batch_(std::max<std::size_t>(1, std::min(o.batch, o.window / 4))) {
    links_.reserve(o.targets.brokers.size());
    for (const auto& target : o.targets.brokers) {
      Link link;
      link.target = target;
      link.socket = zmq::socket_t(context, zmq::socket_type::dealer);
      links_.push_back(std::move(link));
    }
  }

  core::Status Start() {
    if (!o_.confirmed_out.empty()) {
      if (auto st = confirmed_.Open(o_.confirmed_out); !st) {
        return core::Error{core::Errc::kInvalidArgument, "--confirmed-out: " + st.message()};
      }
    }
    for (auto& link : links_) {
      protocol::DealerOptions dealer;
      if (cells()) dealer.reconnect_max_ms = kCellReconnectMaxMs;
      protocol::ConfigureDealer(link.socket, dealer);
      if (o_.targets.own_key) {
        security::MakeCurveClient(link.socket, *o_.targets.own_key, link.target.public_z85);
      }
      try {
        link.socket.connect(link.target.endpoint);
      } catch (const zmq::error_t& e) {
        const std::string flag = cells() ? "--cells: cell " + link.target.name : "--broker";
        return core::Error{core::Errc::kInvalidArgument,
                           flag + " '" + link.target.endpoint + "': " + e.what() +
                               " (use an endpoint like tcp://127.0.0.1:5555)"};
      }
      link.unwritable_since = clock_.Now();  // not connected until ZMQ_EVENTS says so
    }
    spdlog::info("publishing to queue '{}' at {} (ids {}-N, seed {}, window {}, batch {})",
                 o_.queue, o_.targets.describe(), o_.id_prefix, o_.seed, o_.window, batch_);
    return core::Status::Ok();
  }

  PublishReport Run() {
    start_ = clock_.Now();
    last_progress_ = start_;
    next_progress_line_ = start_ + o_.progress_interval;
    while (true) {
      auto now = clock_.Now();
      HandleStopSignals(now);
      if (forced_) break;
      if (cells()) WatchCells(now);
      if (!stopping_ && !input_done_) Admit(now);
      tracker_.Tick();
      SendAll();
      if (failed_) break;
      now = clock_.Now();
      if (tracker_.unsettled() == 0) Progress(now);
      if (input_done_ && tracker_.unsettled() == 0) break;
      if (stopping_ && (tracker_.unsettled() == 0 || now >= grace_deadline_)) break;
      if (now - last_progress_ >= o_.give_up) {
        ending_ = Ending::kGaveUp;
        GiveUpContext why{o_.give_up, tracker_.unsettled(), o_.targets.describe(),
                          heard_since_progress_, refusal_since_progress_};
        detail_ = DescribeGiveUp(why);
        break;
      }
      if (!Wait(now)) break;
      ReceiveAll();
      FlushConfirmed();
      MaybeProgressLine();
    }
    FlushConfirmed();
    for (auto& link : links_) link.socket.set(zmq::sockopt::linger, 0);  // nothing worth sending
    return Report();
  }

 private:
  // One broker: --broker, or a cell of --cells.
  struct Link {
    cells::BrokerTarget target;
    zmq::socket_t socket;
    // Since when ZMQ_EVENTS has not shown POLLOUT (with IMMEDIATE: no connection), if so.
    std::optional<core::SteadyTime> unwritable_since;
    bool down = false;     // unreachable for --cell-failover (or said it is going away)
    bool blocked = false;  // a send would block in this pass: poll for POLLOUT
  };

  bool cells() const { return links_.size() > 1; }

  // Called from the constructor: the route runs only once links_ is filled.
  TrackerOptions MakeTrackerOptions(const PublishOptions& o) {
    TrackerOptions t;
    t.window = o.window;
    t.confirm_timeout = o.confirm_timeout;
    t.id_prefix = o.id_prefix;
    t.cells = o.targets.brokers.size();
    if (t.cells > 1) {
      t.route = [this](std::string_view id, std::uint32_t hop) { return Route(id, hop); };
    }
    return t;
  }

  // The id's cell: its rendezvous order from `from_hop` on, skipping cells that are down; if
  // every cell is down, the one at `from_hop` (it waits there for a cell to come back).
  CellRoute Route(std::string_view id, std::uint32_t from_hop) {
    const std::size_t n = links_.size();
    if (from_hop == 0) {
      const std::size_t first = cells::RendezvousFirst(names_, id);
      if (!links_[first].down) return CellRoute{first, 0};
    }
    order_ = cells::RendezvousOrder(names_, id);
    for (std::uint32_t hop = from_hop; hop < from_hop + n; ++hop) {
      const std::size_t cell = order_[hop % n];
      if (!links_[cell].down) return CellRoute{cell, hop};
    }
    return CellRoute{order_[from_hop % n], from_hop, false};
  }

  // Cells come and go: a cell whose connection went has its messages in flight sent again (they
  // may be lost with the connection; a retry to the same cell is deduplicated there); one that
  // stays unreachable for --cell-failover is down: its messages go to their next cells, and new
  // ones skip it until it is back.
  void WatchCells(core::SteadyTime now) {
    bool revived = false;
    for (std::size_t c = 0; c < links_.size(); ++c) {
      Link& link = links_[c];
      const bool writable = (link.socket.get(zmq::sockopt::events) & ZMQ_POLLOUT) != 0;
      if (writable) {
        if (link.down) {
          spdlog::warn("cell {} ({}) is reachable again: it takes its own messages again",
                       link.target.name, link.target.endpoint);
          revived = true;
        }
        link.down = false;
        link.unwritable_since.reset();
        continue;
      }
      if (!link.unwritable_since) {
        link.unwritable_since = now;
        const auto n = tracker_.ResendInFlight(c);
        spdlog::info("cell {} ({}) not reachable; {} messages in flight to it will be sent again",
                     link.target.name, link.target.endpoint, n);
      }
      if (!link.down && now - *link.unwritable_since >= o_.cell_failover) {
        MarkDown(c, "unreachable for " + core::FormatDuration(o_.cell_failover));
      }
    }
    // Messages parked on down cells while no cell was up can move to the one that came back.
    if (revived) {
      for (std::size_t c = 0; c < links_.size(); ++c) {
        if (links_[c].down) tracker_.Evacuate(c);
      }
    }
  }

  void MarkDown(std::size_t c, const std::string& why) {
    Link& link = links_[c];
    if (link.down) return;
    link.down = true;
    if (!link.unwritable_since) link.unwritable_since = clock_.Now();
    const auto moved = tracker_.Evacuate(c);
    spdlog::warn(
        "cell {} ({}) is down ({}): {} of its messages go to their next cells (a "
        "failover can duplicate a message the cell had already stored)",
        link.target.name, link.target.endpoint, why, moved);
  }

  // What the give-up message says is about the time since the last progress only.
  void Progress(core::SteadyTime now) {
    last_progress_ = now;
    heard_since_progress_ = false;
    refusal_since_progress_.clear();
  }

  void HandleStopSignals(core::SteadyTime now) {
    if (stop_ == nullptr || stop_->count() == signals_seen_) return;
    signals_seen_ = stop_->count();
    stop_->Drain();
    if (!stopping_) {
      stopping_ = true;
      ending_ = Ending::kInterrupted;
      grace_deadline_ = now + o_.grace;
      spdlog::warn("stop requested: no new messages; waiting up to {} for {} confirms",
                   core::FormatDuration(o_.grace), tracker_.unsettled());
    }
    if (signals_seen_ >= 2) {
      spdlog::warn("second stop signal: exiting now");
      forced_ = true;
    }
  }

  // Takes messages from the source while the window and the rate allow.
  void Admit(core::SteadyTime now) {
    needs_input_ = false;
    std::uint64_t allowance = pacer_.Allowance(now);
    std::uint64_t admitted = 0;
    while (admitted < allowance && tracker_.HasRoom()) {
      switch (source_.Next(payload_)) {
        case SourceStatus::kMessage:
          if (o_.id && tracker_.counters().admitted == 0) {
            tracker_.AddWithId(*o_.id, payload_);
          } else {
            tracker_.Add(payload_);
          }
          ++admitted;
          break;
        case SourceStatus::kNeedInput:
          needs_input_ = true;
          pacer_.Consume(admitted);
          return;
        case SourceStatus::kEnd:
          input_done_ = true;
          pacer_.Consume(admitted);
          return;
        case SourceStatus::kTooLong:
          ++input_skipped_;
          Progress(now);  // a settled (refused) message is progress
          spdlog::error("{}", source_.error_text());
          break;
      }
    }
    pacer_.Consume(admitted);
  }

  void SendAll() {
    send_blocked_ = false;
    for (std::size_t c = 0; c < links_.size(); ++c) {
      links_[c].blocked = false;
      if (!SendTo(c)) return;
    }
  }

  // Sends everything queued for cell `c`. False when the run must end.
  bool SendTo(std::size_t c) {
    Link& link = links_[c];
    while (tracker_.HasSendable(c)) {
      tracker_.TakeSendable(c, batch_, o_.batch_bytes, seqs_);
      frame_.Begin(seqs_.size());
      for (const Seq seq : seqs_) frame_.Add(tracker_.id(seq), tracker_.payload(seq));
      const auto r = protocol::SendEncoded(link.socket, protocol::Command::kPublish, frame_.body());
      if (r == protocol::SendResult::kSent) {
        if (waiting_for_broker_ && !cells()) {
          spdlog::info("broker {} reachable: sending", link.target.endpoint);
          waiting_for_broker_ = false;
        }
        continue;
      }
      tracker_.ReturnUnsent(seqs_);
      if (r == protocol::SendResult::kWouldBlock) {
        send_blocked_ = true;
        link.blocked = true;
        if (!cells()) NoteBlocked(link);
        return true;
      }
      failed_ = true;
      ending_ = Ending::kFailed;
      detail_ = "sending to " + link.target.endpoint + " failed: " + zmq_strerror(zmq_errno());
      spdlog::error("{}", detail_);
      return false;
    }
    return true;
  }

  void NoteBlocked(const Link& link) {
    const auto now = clock_.Now();
    if (!waiting_for_broker_) {
      // The drills and tests wait for this line: the publisher is up and holding messages.
      spdlog::info("broker {} not reachable yet (or busy): holding {} messages until it is",
                   link.target.endpoint, tracker_.unsettled());
      waiting_for_broker_ = true;
      blocked_since_ = now;
      warned_blocked_ = false;
    } else if (!warned_blocked_ && now - blocked_since_ >= kWarnBlockedAfter) {
      spdlog::warn("broker {} still not reachable after {}; retrying until --give-up ({})",
                   link.target.endpoint, core::FormatDuration(kWarnBlockedAfter),
                   core::FormatDuration(o_.give_up));
      warned_blocked_ = true;
    }
  }

  // Polls until something happens or the next timer is due. False if the run must end.
  bool Wait(core::SteadyTime now) {
    std::optional<core::SteadyTime> wake = tracker_.NextDeadline();
    auto consider = [&](core::SteadyTime t) { wake = wake ? std::min(*wake, t) : t; };
    consider(last_progress_ + o_.give_up);
    if (stopping_) consider(grace_deadline_);
    if (o_.progress) consider(next_progress_line_);
    if (send_blocked_) consider(now + kBlockedRetry);
    for (const auto& link : links_) {
      if (cells() && !link.down && link.unwritable_since) {
        consider(*link.unwritable_since + o_.cell_failover);
      }
    }
    const bool can_admit = !stopping_ && !input_done_ && tracker_.HasRoom();
    if (can_admit && !needs_input_) {
      const auto next = pacer_.NextAllowed();
      consider(next ? *next : now);
    }
    milliseconds timeout = std::min(kMaxPoll, wake ? Until(now, *wake) : kMaxPoll);

    items_.clear();
    for (auto& link : links_) {
      items_.push_back(
          zmq_pollitem_t{link.socket.handle(), 0,
                         static_cast<short>(ZMQ_POLLIN | (link.blocked ? ZMQ_POLLOUT : 0)), 0});
    }
    const int input_index = (can_admit && needs_input_) ? static_cast<int>(items_.size()) : -1;
    if (input_index >= 0) items_.push_back({nullptr, source_.input_fd(), ZMQ_POLLIN, 0});
    if (stop_ != nullptr && stop_->read_fd() >= 0) {
      items_.push_back(zmq_pollitem_t{nullptr, stop_->read_fd(), ZMQ_POLLIN, 0});
    }
    auto& items = items_;
    const int rc = zmq_poll(items_.data(), static_cast<int>(items_.size()),
                            static_cast<long>(timeout.count()));
    if (rc < 0) {
      if (zmq_errno() == EINTR) return true;  // a signal: handled at the top of the loop
      failed_ = true;
      ending_ = Ending::kFailed;
      detail_ = std::string("poll failed: ") + zmq_strerror(zmq_errno());
      spdlog::error("{}", detail_);
      return false;
    }
    if (input_index >= 0 && (items[input_index].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) != 0) {
      if (auto st = source_.Fill(); !st) {
        spdlog::error("{}: no more input is read", st.message());
        input_done_ = true;
        input_failed_ = true;
        ending_ = Ending::kFailed;
        detail_ = st.message();
      }
    }
    return true;
  }

  void ReceiveAll() {
    for (std::size_t c = 0; c < links_.size(); ++c) ReceiveFrom(c);
  }

  void ReceiveFrom(std::size_t c) {
    while (protocol::Receive(links_[c].socket, received_)) {
      heard_since_progress_ = true;
      auto decoded = protocol::DecodeReceived(received_, 0, limits_);
      if (!decoded.ok()) {
        spdlog::warn("ignoring an undecodable frame from the broker: {}", decoded.error().message);
        continue;
      }
      auto& message = *decoded;
      if (auto* confirm = std::get_if<protocol::Confirm>(&message)) {
        Handle(*confirm);
      } else if (auto* error = std::get_if<protocol::Error>(&message)) {
        Handle(*error);
      } else if (auto* bye = std::get_if<protocol::Disconnect>(&message)) {
        if (cells()) {
          MarkDown(c, "going away: " + bye->reason);
        } else {
          spdlog::warn("broker is going away ({}); unconfirmed messages are re-sent after {}",
                       bye->reason, core::FormatDuration(o_.confirm_timeout));
        }
      } else if (!std::holds_alternative<protocol::Heartbeat>(message)) {
        spdlog::debug("ignoring an unexpected {} from the broker",
                      protocol::CommandName(protocol::CommandOf(message)));
      }
    }
  }

  void Handle(const protocol::Confirm& m) {
    const std::size_t outstanding = tracker_.unsettled();
    for (const auto& id : m.ids) {
      if (tracker_.OnConfirm(id) == ConfirmOutcome::kFirst) {
        confirmed_.Add(id);
        Progress(clock_.Now());
      }
    }
    if (tracker_.unsettled() < outstanding) NoteConfirmGap(outstanding);
  }

  // The stall figure: time between confirms while messages were outstanding.
  void NoteConfirmGap(std::size_t outstanding_before) {
    const auto now = clock_.Now();
    if (outstanding_before > 0 && last_confirm_) {
      longest_stall_ =
          std::max(longest_stall_, std::chrono::duration_cast<milliseconds>(now - *last_confirm_));
    }
    last_confirm_ = now;
  }

  void Handle(const protocol::Error& m) {
    const auto name = protocol::ErrorCodeName(m.code);
    if (m.answers != static_cast<std::uint8_t>(protocol::Command::kPublish) || m.ids.empty()) {
      spdlog::warn("broker error: {} (code {} {})", m.reason, static_cast<int>(m.code), name);
      return;
    }
    const auto out = tracker_.OnError(m.ids, m.code);
    if (out.refused > 0) {
      Progress(clock_.Now());
      spdlog::error("broker refused {} messages permanently (first {}): {} (code {} {})",
                    out.refused, m.ids.front(), m.reason, static_cast<int>(m.code), name);
    }
    if (out.moved_on > 0) {
      spdlog::info(
          "a cell refused {} messages for now: {} (code {} {}); their next cells take them",
          out.moved_on, m.reason, static_cast<int>(m.code), name);
    }
    if (out.retrying > 0) {
      refusal_since_progress_ = m.reason + " (" + std::string(name) + ")";
      spdlog::warn("broker refused {} messages for now: {} (code {} {}); retrying after backoff",
                   out.retrying, m.reason, static_cast<int>(m.code), name);
    }
  }

  void FlushConfirmed() {
    if (auto st = confirmed_.Flush(); !st) {
      if (!confirmed_failed_) spdlog::error("--confirmed-out: {}", st.message());
      confirmed_failed_ = true;
    }
  }

  void MaybeProgressLine() {
    if (!o_.progress) return;
    const auto now = clock_.Now();
    if (now < next_progress_line_) return;
    const auto& c = tracker_.counters();
    const double seconds = std::chrono::duration<double>(o_.progress_interval).count();
    std::cerr << "mandrill-publish: progress published=" << c.published
              << " confirmed=" << c.confirmed << " unconfirmed=" << tracker_.unsettled() << " rate="
              << static_cast<std::uint64_t>(
                     static_cast<double>(c.confirmed - confirmed_at_last_line_) / seconds)
              << "/s" << std::endl;
    confirmed_at_last_line_ = c.confirmed;
    next_progress_line_ = now + o_.progress_interval;
  }

  PublishReport Report() {
    PublishReport r;
    r.counters = tracker_.counters();
    r.unconfirmed = tracker_.unsettled();
    r.input_skipped = input_skipped_;
    r.input_complete = input_done_ && !input_failed_;
    r.ending = ending_;
    r.detail = detail_;
    if (confirmed_failed_ && r.ending == Ending::kCompleted) {
      r.ending = Ending::kFailed;
      r.detail = "could not write every confirmed id to " + o_.confirmed_out;
    }
    r.elapsed = std::chrono::duration_cast<milliseconds>(clock_.Now() - start_);
    r.longest_stall = longest_stall_;
    r.id_prefix = o_.id_prefix;
    r.seed = o_.seed;
    return r;
  }

  const PublishOptions& o_;
  MessageSource& source_;
  StopSignal* stop_;
  const core::Clock& clock_;
  std::vector<std::string> names_;  // the cells' names, in map order (for rendezvous)
  std::vector<Link> links_;         // one per broker; index = the tracker's cell
  std::vector<std::size_t> order_;  // scratch for Route
  ConfirmTracker tracker_;
  Pacer pacer_;
  PublishFrameBuilder frame_;
  ConfirmedLog confirmed_;
  std::size_t batch_;
  protocol::Limits limits_;
  protocol::Received received_;
  std::vector<Seq> seqs_;
  std::vector<zmq_pollitem_t> items_;
  std::string payload_;
  std::optional<core::SteadyTime> last_confirm_;
  milliseconds longest_stall_{0};

  core::SteadyTime start_, last_progress_, grace_deadline_, next_progress_line_, blocked_since_;
  std::uint64_t confirmed_at_last_line_ = 0;
  std::uint64_t input_skipped_ = 0;
  int signals_seen_ = 0;
  bool stopping_ = false, forced_ = false, failed_ = false;
  bool input_done_ = false, input_failed_ = false, needs_input_ = false;
  bool send_blocked_ = false, waiting_for_broker_ = false, warned_blocked_ = false;
  bool confirmed_failed_ = false;
  bool heard_since_progress_ = false;   // any frame from the broker since the last progress
  std::string refusal_since_progress_;  // its last "retry later" refusal since then
  Ending ending_ = Ending::kCompleted;
  std::string detail_;
};

Publisher::Publisher(const PublishOptions& options, MessageSource& source, zmq::context_t& context,
                     StopSignal* stop, const core::Clock& clock)
    : options_(options), source_(source), context_(context), stop_(stop), clock_(clock) {}

core::Result<PublishReport> Publisher::Run() {
  Loop loop(options_, source_, context_, stop_, clock_);
  if (auto st = loop.Start(); !st) return st.error();
  return loop.Run();
}

}  // namespace mandrill::publisher
