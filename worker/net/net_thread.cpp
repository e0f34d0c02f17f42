#include "worker/net/net_thread.h"

#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "shared/core/thread_name.h"
#include "shared/protocol/transport.h"

namespace mandrill::worker {
namespace {

// 128 random bits: the broker recognises this process by it across reconnects, so it must not
// be guessable (it is never printed or sent anywhere but READY).
std::string MakeInstance() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

core::SteadyTime Now() { return std::chrono::steady_clock::now(); }

std::int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint64_t SeedOrRandom(std::uint64_t seed) {
  return seed != 0 ? seed : (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ getpid();
}

}  // namespace

NetThread::NetThread(NetOptions options, zmq::context_t& context, Settlements& settlements,
                     DeliverySink& sink)
    : options_(std::move(options)),
      context_(context),
      settlements_(settlements),
      sink_(sink),
      instance_(MakeInstance()),
      credit_wanted_(options_.credit),
      heartbeat_(options_.heartbeat),
      backoff_(options_.reconnect_min, options_.reconnect_max, SeedOrRandom(options_.seed)) {}

NetThread::~NetThread() { Join(); }

void NetThread::Start() {
  thread_ = std::thread([this] { Run(); });
}

void NetThread::Join() {
  if (thread_.joinable()) thread_.join();
}

void NetThread::StopMonitor() {
  // libzmq's I/O thread writes monitor events with a blocking send. Were the reader closed while
  // the DEALER still monitors, an event emitted in between (a disconnect, a handshake) would
  // block that thread for good: the only I/O thread, so no socket would ever reconnect and the
  // context could not terminate. Stopping the monitor first means no event can be emitted once
  // the reader is gone.
  if (socket_ && monitor_) zmq_socket_monitor(socket_->handle(), nullptr, 0);
  monitor_.reset();
}

void NetThread::CloseSocket() {
  if (socket_) socket_->set(zmq::sockopt::linger, 0);
  StopMonitor();
  socket_.reset();
  connected_ = false;
  welcomed_ = false;
}

void NetThread::OpenSocket() {
  CloseSocket();
  socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
  protocol::DealerOptions o;
  o.heartbeat_ms = static_cast<int>(options_.heartbeat.count());
  // A random base per socket: ZeroMQ adds at most one base interval of jitter to its own
  // exponential re-dial, so workers that lost the same broker would otherwise retry together.
  std::uniform_int_distribution<int> base(static_cast<int>(options_.reconnect_min.count()),
                                          static_cast<int>(options_.reconnect_min.count()) * 2);
  std::mt19937 rng(static_cast<unsigned>(SeedOrRandom(options_.seed) + monitor_generation_));
  o.reconnect_ms = base(rng);
  o.reconnect_max_ms = static_cast<int>(options_.reconnect_max.count());
  protocol::ConfigureDealer(*socket_, o);
  // On every socket: a re-created connection must authenticate like the first.
  if (options_.curve) {
    security::MakeCurveClient(*socket_, options_.curve->own, options_.curve->broker_public_z85);
  }
  // Unique in the process: a worker of several cells has one network thread per cell.
  static std::atomic<std::uint64_t> monitors{0};
  ++monitor_generation_;
  const std::string endpoint = "inproc://worker-monitor-" + std::to_string(getpid()) + "-" +
                               std::to_string(monitors.fetch_add(1) + 1);
  zmq_socket_monitor(socket_->handle(), endpoint.c_str(),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED);
  monitor_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
  monitor_->connect(endpoint);
  try {
    socket_->connect(options_.broker);
  } catch (const zmq::error_t& e) {
    // The flags were checked (protocol::CheckEndpoint); what ZeroMQ still refuses stops us.
    fatal_ = "cannot connect to --broker '" + options_.broker + "': " + e.what();
    CloseSocket();
    return;
  }
  last_heard_ = Now();
}

bool NetThread::SendNow(const protocol::Message& m) {
  if (!socket_) return false;
  const auto r = protocol::Send(*socket_, m);
  if (r == protocol::SendResult::kSent) {
    last_sent_ = Now();
    return true;
  }
  if (r == protocol::SendResult::kFailed) {
    ++counters_.errors;
    spdlog::error("sending {} to the broker failed: {}",
                  protocol::CommandName(protocol::CommandOf(m)), zmq_strerror(zmq_errno()));
  }
  return false;
}

void NetThread::SendReady() {
  protocol::Ready ready{options_.name, options_.queues, EffectiveCredit(), instance_};
  last_ready_ = Now();
  if (SendNow(ready)) {
    credit_announced_ = ready.credit;
    spdlog::debug("READY sent to {} (credit {})", options_.broker, ready.credit);
  }
}

void NetThread::ReportTasks(core::SteadyTime now) {
  if (!options_.task_reports || now - last_report_ < heartbeat_) return;
  last_report_ = now;
  protocol::Heartbeat h{options_.task_reports()};
  const bool any = !h.tasks.empty();
  if ((any || reported_tasks_) && SendNow(h)) reported_tasks_ = any;
}

void NetThread::PublishState() {
  counters_.welcomed.store(welcomed_, std::memory_order_relaxed);
  counters_.credit.store(welcomed_ ? credit_announced_ : 0, std::memory_order_relaxed);
}

void NetThread::DrainMonitor() {
  while (monitor_) {
    zmq::message_t event, address;
    if (zmq_msg_recv(event.handle(), monitor_->handle(), ZMQ_DONTWAIT) < 0) return;
    if (event.more()) zmq_msg_recv(address.handle(), monitor_->handle(), 0);
    if (event.size() < 6) continue;
    std::uint16_t id;
    std::memcpy(&id, event.data(), 2);
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      connected_ = true;
      welcomed_ = false;
      last_heard_ = Now();
      spdlog::info("connected to broker {}; announcing worker {}", options_.broker, options_.name);
      SendReady();
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
      connected_ = false;
      welcomed_ = false;
      ++counters_.reconnects;
      spdlog::warn("lost connection to broker {}; ZeroMQ re-dials it (backoff up to {} ms)",
                   options_.broker, options_.reconnect_max.count());
    }
  }
}

void NetThread::SyncCredit() {
  const std::uint32_t want = EffectiveCredit();
  if (want == credit_announced_) return;
  if (SendNow(protocol::Credit{want})) {
    spdlog::debug("CREDIT {} sent (was {})", want, credit_announced_);
    credit_announced_ = want;
  }
}

void NetThread::SendSettlements() {
  // Whatever cannot be sent stays in unsent_ for the next try.
  Settlements::Batch& b = unsent_;
  if (!b.acks.empty() && SendNow(protocol::Ack{b.acks})) {
    counters_.acks_sent += b.acks.size();
    b.acks.clear();
  }
  if (!b.nacks.empty() && SendNow(protocol::Nack{b.nacks})) {
    counters_.nacks_sent += b.nacks.size();
    b.nacks.clear();
  }
  for (auto it = b.extends.begin(); it != b.extends.end();) {
    if (!SendNow(protocol::Extend{it->first, it->second})) break;
    counters_.extends_sent += it->second.size();
    it = b.extends.erase(it);
  }
}

void NetThread::Run() {
  core::SetThreadName("net");
  OpenSocket();
  std::string stop_reason = "closed on request";
  bool failed = false;
  while (true) {
    if (!fatal_.empty()) {
      stop_reason = fatal_;
      failed = true;
      spdlog::critical("network thread stops: {}", stop_reason);
      break;
    }
    zmq_pollitem_t items[4];
    int n = 0;
    int socket_at = -1, monitor_at = -1, room_at = -1;
    if (socket_) {
      socket_at = n;
      items[n++] = {socket_->handle(), 0, ZMQ_POLLIN, 0};
      monitor_at = n;
      items[n++] = {monitor_->handle(), 0, ZMQ_POLLIN, 0};
    }
    const int settlements_at = n;
    items[n++] = {nullptr, settlements_.fd(), ZMQ_POLLIN, 0};
    if (!backlog_.empty() && sink_.room_fd() >= 0) {
      room_at = n;
      items[n++] = {nullptr, sink_.room_fd(), ZMQ_POLLIN, 0};
    }
    long timeout = std::max<long>(1, heartbeat_.count() / 4);
    if (!socket_) {
      timeout = std::clamp<long>(core::ToMillis(reopen_at_ - Now()), 0, timeout);
    }
    const int polled = zmq_poll(items, n, timeout);
    if (polled < 0 && zmq_errno() != EINTR) {
      stop_reason = std::string("zmq_poll failed: ") + zmq_strerror(zmq_errno());
      failed = true;
      spdlog::critical("network thread stops: {}", stop_reason);
      break;
    }
    if (monitor_at >= 0 && (items[monitor_at].revents & ZMQ_POLLIN)) DrainMonitor();
    if (socket_at >= 0 && (items[socket_at].revents & ZMQ_POLLIN)) DrainSocket();
    // Also on a timeout: when several network threads share one sink (a worker of several
    // cells), another one may have consumed the room signal this one waited for.
    if (room_at >= 0 && (polled == 0 || (items[room_at].revents & ZMQ_POLLIN))) RetryBacklog();
    if (items[settlements_at].revents & ZMQ_POLLIN) {
      auto fresh = settlements_.Take();
      if (fresh.close) closing_ = true;
      if (fresh.credit) credit_wanted_ = *fresh.credit;
      fresh.credit.reset();
      unsent_.Merge(std::move(fresh));
    }
    if (closing_ && !backlog_.empty()) {
      // The loop takes nothing more (its bridge is closed): these go back now, ahead of the
      // DISCONNECT, rather than wait for the broker to notice the connection is gone.
      NackOnClose(backlog_);
      backlog_.clear();
      paused_ = false;
    }
    if (welcomed_) {
      SyncCredit();
      SendSettlements();
    }
    PublishState();

    const auto now = Now();
    if (closing_) {
      // Flushed what could be flushed. Before closing the connection, make sure the broker has
      // processed it: it handles a closed connection before frames still queued from it, so
      // acks sent just before the close would be lost and their messages redelivered. A STATS
      // request is a round trip; its reply (in order on this connection) is the proof.
      if (!sync_sent_ && welcomed_) {
        sync_sent_ = SendNow(protocol::StatsRequest{kCloseSyncRequest});
        sync_deadline_ = now + std::min<std::chrono::milliseconds>(heartbeat_ * options_.liveness,
                                                                   std::chrono::seconds(5));
      }
      if (sync_sent_ && !sync_done_ && connected_ && now < sync_deadline_) continue;
      if (sync_sent_ && !sync_done_) {
        spdlog::warn("the broker did not confirm our last settlements before we stopped");
      }
      // Say goodbye so the broker releases at once whatever this worker still held.
      if (connected_) SendNow(protocol::Disconnect{"worker stopping"});
      if (!unsent_.acks.empty() || !unsent_.nacks.empty()) {
        spdlog::warn("{} acks and {} nacks could not be sent before stopping; the broker will "
                     "redeliver those messages",
                     unsent_.acks.size(), unsent_.nacks.size());
      }
      break;
    }
    if (!socket_) {
      if (now >= reopen_at_) {
        spdlog::info("re-creating the connection to {}", options_.broker);
        OpenSocket();
      }
      continue;
    }
    if (connected_ && !welcomed_ && now - last_ready_ > std::chrono::milliseconds(500)) {
      SendReady();
    }
    if (welcomed_) ReportTasks(now);
    if (connected_ && now - last_sent_ >= heartbeat_) SendNow(protocol::Heartbeat{});
    if (connected_ && now - last_heard_ > heartbeat_ * options_.liveness) {
      ++counters_.reconnects;
      const auto delay = backoff_.Next();
      spdlog::warn("broker silent for {} ms; re-creating the connection in {} ms (attempt {})",
                   core::ToMillis(now - last_heard_), delay.count(), backoff_.attempts());
      CloseSocket();
      reopen_at_ = now + delay;
    }
  }
  // Linger (set by ConfigureDealer) lets the DISCONNECT and last acks leave.
  StopMonitor();
  socket_.reset();
  counters_.cpu_ns = ThreadCpuNs();
  welcomed_ = false;  // gone: /readyz and mandrill_worker_connected say so at once
  PublishState();
  sink_.OnNetStopped(stop_reason, failed);
}

}  // namespace mandrill::worker
