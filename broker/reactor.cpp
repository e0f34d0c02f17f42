#include "broker/reactor.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "broker/connection_events.h"
#include "shared/core/logging.h"
#include "shared/protocol/transport.h"
#include "shared/security/curve_keys.h"

namespace mandrill::broker {

Reactor::Reactor(BrokerOptions options, Storage& storage, zmq::context_t& context,
                 core::SignalFd* signals, std::function<void(int)> on_user_signal)
    : options_(std::move(options)),
      storage_(storage),
      context_(context),
      router_(context, zmq::socket_type::router),
      monitor_(context, zmq::socket_type::pair),
      signals_(signals),
      on_user_signal_(std::move(on_user_signal)),
      broker_(std::make_unique<Broker>(options_, storage_, clock_, *this)) {}

Reactor::~Reactor() = default;

core::Status Reactor::Start() {
  protocol::RouterOptions ro;
  ro.heartbeat_ms = static_cast<int>(options_.heartbeat.count());
  ro.max_frame_bytes = options_.limits.max_body_bytes;
  protocol::ConfigureRouter(router_, ro);
  if (auto st = StartSecurity(); !st.ok()) return st;
  // The monitor reports closed TCP connections at once; ZMQ_SRCFD on received frames maps a
  // connection to the worker that spoke on it.
  const std::string monitor_endpoint =
      "inproc://mandrill-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  if (zmq_socket_monitor(router_.handle(), monitor_endpoint.c_str(),
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    return core::Error{core::Errc::kInternal,
                       std::string("socket monitor: ") + zmq_strerror(zmq_errno())};
  }
  monitor_.connect(monitor_endpoint);
  // The data dir is locked and the new epoch durable before the socket is bound (fencing,
  // docs/broker.md): a broker that finds its data dir held by another never takes a
  // connection, and no peer can hear of an epoch that a crash could hand out again.
  auto epoch = broker_->Open();
  if (!epoch.ok()) return epoch.error();
  // Bind before recovery: a broker that cannot have its endpoint fails before it replays the
  // journal (having used up an epoch: epochs may skip, never repeat). Frames that arrive during
  // recovery wait in the socket.
  try {
    router_.bind(options_.bind);
  } catch (const zmq::error_t& e) {
    return core::Error{core::Errc::kUnavailable,
                       "cannot bind " + options_.bind + ": " + e.what() +
                           " (is another broker running? pick another --bind)"};
  }
  // Before recovery, so /healthz answers (and /readyz says why not) while a long journal is
  // replayed: a probe must not kill a broker for recovering.
  if (!options_.metrics_bind.empty()) {
    metrics_ = std::make_unique<MetricsEndpoint>(options_.metrics_bind, options_.metrics_interval,
                                                 options_.metrics_max_queues);
    if (auto st = metrics_->Start(); !st.ok()) return st;
    metrics_->SetNotReady("recovering storage");
  }
  if (auto st = broker_->Recover(); !st.ok()) return st;
  if (metrics_) {
    metrics_->MaybePublish(*broker_, clock_.Now());
    metrics_->SetReady();
  }
  spdlog::info("mandrill-broker {} listening on {} (epoch {}, lease {} ms, max deliveries {}, "
               "queue limit {}, heartbeat {} ms)",
               broker_->broker_id(), options_.bind, broker_->epoch(), options_.lease.count(),
               options_.max_deliveries, options_.queue_limit, options_.heartbeat.count());
  return core::Status::Ok();
}

protocol::SendResult Reactor::Send(const std::string& peer, const protocol::Message& m) {
  return protocol::Send(router_, m, peer);
}

protocol::SendResult Reactor::SendBody(const std::string& peer, protocol::Command command,
                                      msgpack::sbuffer&& body) {
  return protocol::SendBody(router_, command, std::move(body), peer);
}

void Reactor::DrainMonitor(bool notify_broker) {
  std::vector<ConnectionEvent> events;
  while (true) {
    zmq::message_t event, address;
    if (zmq_msg_recv(event.handle(), monitor_.handle(), ZMQ_DONTWAIT) < 0) break;
    if (event.more()) {
      zmq_msg_recv(address.handle(), monitor_.handle(), 0);
    }
    if (event.size() < 6) continue;
    std::uint16_t id;
    std::uint32_t value;
    std::memcpy(&id, event.data(), 2);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
    spdlog::debug("connection event {:#x} on fd {}", id, value);
    if (id == ZMQ_EVENT_ACCEPTED) {
      ++open_connections_;
      events.push_back({ConnectionEvent::kAccepted, static_cast<int>(value)});
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
      open_connections_ = std::max(0, open_connections_ - 1);
      events.push_back({ConnectionEvent::kClosed, static_cast<int>(value)});
    }
  }
  if (!notify_broker) return;
  for (const ConnectionClose& c : ClosesOf(events)) broker_->OnConnectionClosed(c.fd, c.fd_reused);
}

core::Status Reactor::StartSecurity() {
  if (options_.curve_key_file.empty()) {
    spdlog::warn("running without CURVE (no --curve-key/--auth-file): anyone who can reach {} "
                 "can publish, consume and administer; see docs/security.md",
                 options_.bind);
    return core::Status::Ok();
  }
  auto key = security::ReadSecretKey(options_.curve_key_file);
  if (!key.ok()) return key.error();
  auth_ = std::make_unique<auth::AuthStore>(options_.auth_file);
  if (auto st = auth_->Reload(); !st.ok()) return st;
  table_ = auth_->Get();
  zap_ = std::make_unique<auth::ZapHandler>(context_, *auth_);
  if (auto st = zap_->Start(); !st.ok()) return st;
  security::MakeCurveServer(router_, *key);
  spdlog::info("CURVE on: public key {}, {} client keys from {}", key->public_z85,
               table_->by_key.size(), options_.auth_file);
  return core::Status::Ok();
}

void Reactor::ReloadAuth() {
  if (auth_ == nullptr) return;
  if (auto st = auth_->Reload(); !st.ok()) {
    spdlog::error("SIGHUP: {}; the {} keys in force stay", st.message(), table_->by_key.size());
    return;
  }
  table_ = auth_->Get();
  spdlog::info("SIGHUP: auth file {} reloaded: {} keys", auth_->path(), table_->by_key.size());
}

const Principal* Reactor::PrincipalOf(const std::string& user_id) {
  if (auth_ == nullptr) return nullptr;
  if (const Principal* p = table_->FindName(user_id)) return p;
  // Admitted at the handshake, removed from the auth file since: no rights left.
  revoked_.name = user_id;
  return &revoked_;
}

bool Reactor::DrainRouter() {
  protocol::Received in;
  in.read_user_id = auth_ != nullptr;
  for (std::size_t n = 0; n < options_.max_messages_per_pass; ++n) {
    if (!protocol::Receive(router_, in)) return false;
    if (in.frames.empty()) continue;
    const std::string peer(protocol::View(in.frames[0]));
    auto decoded = protocol::DecodeReceived(in, 1, options_.limits);
    if (decoded.ok()) {
      broker_->OnFrame(peer, in.source_fd, std::move(decoded).value(), PrincipalOf(in.user_id));
    } else {
      std::uint8_t command = 0;
      if (in.frames.size() >= 3 && in.frames[2].size() == 1) {
        command = *static_cast<const std::uint8_t*>(in.frames[2].data());
      }
      broker_->OnBadFrame(peer, decoded.error(), command);
    }
  }
  return true;  // the pass's share is taken: more may be waiting
}

bool Reactor::HandleSignals() {
  if (signals_ == nullptr) return false;
  for (int sig : signals_->Read()) {
    switch (sig) {
      case SIGHUP:
        spdlog::info("SIGHUP: reopening log files");
        core::ReopenLogs();
        ReloadAuth();
        break;
      case SIGUSR1:
      case SIGUSR2:
        if (on_user_signal_) on_user_signal_(sig);
        break;
      case SIGQUIT:
        stop_reason_ = "SIGQUIT";
        graceful_ = false;
        return true;
      default:
        stop_reason_ = sig == SIGTERM ? "SIGTERM" : "SIGINT";
        return true;
    }
  }
  return false;
}

// The sockets are polled through their ZMQ_FD with poll(2) rather than zmq_poll: zmq_poll asks
// every socket for ZMQ_EVENTS twice per blocking call (before and after sleeping), and each ask
// costs a getpid and a poll syscall; at one message per pass that was most of the reactor's
// syscalls. ZMQ_FD only signals that something changed, so the router is asked once, just
// before sleeping (a send may have taken the signal), and drained until EAGAIN whenever it is
// asked; the monitor is only ever read here, to EAGAIN, so its fd alone is enough.
int Reactor::Run() {
  const int router_fd = router_.get(zmq::sockopt::fd);
  const int monitor_fd = monitor_.get(zmq::sockopt::fd);
  bool router_backlog = true;  // DrainRouter stopped at its per-pass bound
  // A pipe signals its reader only once the reader has found it empty: until the first read
  // that fails, monitor events would queue without waking us.
  DrainMonitor(true);
  bool stop = false;
  while (!stop) {
    pollfd fds[4] = {};
    int n = 0;
    fds[n++] = {router_fd, POLLIN, 0};
    fds[n++] = {monitor_fd, POLLIN, 0};
    const int storage_fd = storage_.WakeFd();
    const int storage_index = storage_fd >= 0 ? n : -1;
    if (storage_fd >= 0) fds[n++] = {storage_fd, POLLIN, 0};
    const int signal_index = signals_ != nullptr ? n : -1;
    if (signals_ != nullptr) fds[n++] = {signals_->fd(), POLLIN, 0};

    const bool router_ready =
        router_backlog || (router_.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
    const auto wait = broker_->NextWakeup() - clock_.Now();
    const int timeout_ms =
        router_ready ? 0
                     : static_cast<int>(std::clamp<long>(
                           static_cast<long>(core::ToMillis(wait)) + 1, 0, 1000));
    if (::poll(fds, static_cast<nfds_t>(n), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      spdlog::critical("poll failed: {}", std::strerror(errno));
      stop_reason_ = "poll failure";
      graceful_ = true;
      break;
    }
    // Closed connections first, so a worker's leases are released before anything it said
    // later over a new connection is handled.
    if (fds[1].revents & POLLIN) DrainMonitor(true);
    if (signal_index >= 0 && (fds[signal_index].revents & POLLIN)) stop = HandleSignals();
    router_backlog = (router_ready || (fds[0].revents & POLLIN)) && DrainRouter();
    if (storage_index >= 0 && (fds[storage_index].revents & POLLIN)) {
      broker_->OnStorageProgress(storage_.Poll());
    }
    broker_->OnTimers();
    if (auth_ != nullptr) {
      broker_->NoteAuthCounts(auth_->refused.load(std::memory_order_relaxed),
                              auth_->admitted.load(std::memory_order_relaxed));
    }
    broker_->EndPass();
    if (metrics_) metrics_->MaybePublish(*broker_, clock_.Now());
  }
  return Stop(graceful_);
}

int Reactor::Stop(bool graceful) {
  if (metrics_) metrics_->SetNotReady("shutting down (" + stop_reason_ + ")");
  broker_->BeginShutdown(stop_reason_);
  storage_.Commit();
  const auto closed = storage_.Close();
  if (!closed.ok()) spdlog::error("final journal sync failed: {}", closed.message());
  broker_->OnStorageProgress(storage_.Poll());
  if (graceful) {
    broker_->SayGoodbye(stop_reason_);
    Farewell();
  }
  spdlog::info("mandrill-broker stopped ({})", stop_reason_);
  return closed.ok() ? 0 : 1;
}

// libzmq ends a connection as soon as its session has pulled the last message from the pipe,
// which can be before the engine has written those bytes to the kernel: closing at once lost
// the DISCONNECT (and possibly last CONFIRMs) in about 1 shutdown in 15 under load. So the
// socket stays open until every peer has hung up or kFarewell has passed. Frames arriving
// meanwhile are answered by the shutting-down broker (publishes: SHUTTING_DOWN, READY:
// DISCONNECT); nothing they ask is made durable, the journal being closed.
void Reactor::Farewell() {
  constexpr std::chrono::milliseconds kFarewell{250};
  const auto deadline = std::chrono::steady_clock::now() + kFarewell;
  const auto answered_before = broker_->counters().frames_in + broker_->counters().bad_frames;
  DrainMonitor(false);
  while (open_connections_ > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    zmq_pollitem_t items[2] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 2, static_cast<long>(left.count())) < 0 && zmq_errno() != EINTR) break;
    if (items[1].revents & ZMQ_POLLIN) DrainMonitor(false);
    if (items[0].revents & ZMQ_POLLIN) {
      DrainRouter();
      broker_->EndPass();
    }
  }
  const auto answered =
      broker_->counters().frames_in + broker_->counters().bad_frames - answered_before;
  if (answered > 0) {
    spdlog::info("{} frames arriving after the goodbye were answered SHUTTING_DOWN", answered);
  }
}

}  // namespace mandrill::broker
