#include "worker/net_thread.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "shared/core/thread_name.h"
#include "shared/protocol/transport.h"

namespace mandrill::worker {
namespace {

std::string MakeIdentity(const std::string& name) {
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return name + "/" + std::to_string(getpid()) + "/" + suffix;
}

core::SteadyTime Now() { return std::chrono::steady_clock::now(); }

void Merge(Settlements::Batch& into, Settlements::Batch&& from) {
  into.acks.insert(into.acks.end(), from.acks.begin(), from.acks.end());
  for (auto& n : from.nacks) into.nacks.push_back(std::move(n));
  for (auto& [d, ids] : from.extends) {
    auto& v = into.extends[d];
    v.insert(v.end(), ids.begin(), ids.end());
  }
  if (from.credit) into.credit = from.credit;
  into.close = into.close || from.close;
}

}  // namespace

NetThread::NetThread(NetOptions options, zmq::context_t& context, Settlements& settlements,
                     DeliverySink& sink)
    : options_(std::move(options)),
      context_(context),
      settlements_(settlements),
      sink_(sink),
      identity_(MakeIdentity(options_.name)),
      credit_(options_.credit),
      heartbeat_(options_.heartbeat) {}

NetThread::~NetThread() { Join(); }

void NetThread::Start() {
  thread_ = std::thread([this] { Run(); });
}

void NetThread::Join() {
  if (thread_.joinable()) thread_.join();
}

void NetThread::OpenSocket() {
  if (socket_) {
    socket_->set(zmq::sockopt::linger, 0);
    socket_.reset();
    monitor_.reset();
  }
  socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
  protocol::DealerOptions o;
  o.identity = identity_;
  o.heartbeat_ms = static_cast<int>(options_.heartbeat.count());
  o.reconnect_max_ms = static_cast<int>(options_.reconnect_max.count());
  protocol::ConfigureDealer(*socket_, o);
  const std::string endpoint = "inproc://worker-monitor-" + std::to_string(getpid()) + "-" +
                               std::to_string(++monitor_generation_);
  zmq_socket_monitor(socket_->handle(), endpoint.c_str(),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED);
  monitor_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
  monitor_->connect(endpoint);
  socket_->connect(options_.broker);
  connected_ = false;
  welcomed_ = false;
  last_heard_ = Now();
}

bool NetThread::SendNow(const protocol::Message& m) {
  const auto r = protocol::Send(*socket_, m);
  if (r == protocol::SendResult::kSent) {
    last_sent_ = Now();
    return true;
  }
  return false;
}

void NetThread::SendReady() {
  protocol::Ready ready{options_.name, options_.queues, closing_ ? 0u : credit_};
  last_ready_ = Now();
  if (SendNow(ready)) {
    spdlog::debug("READY sent to {} (credit {})", options_.broker, ready.credit);
  }
}

void NetThread::DrainMonitor() {
  while (true) {
    zmq::message_t event, address;
    if (zmq_msg_recv(event.handle(), monitor_->handle(), ZMQ_DONTWAIT) < 0) return;
    if (event.more()) zmq_msg_recv(address.handle(), monitor_->handle(), 0);
    if (event.size() < 6) continue;
    std::uint16_t id;
    std::memcpy(&id, event.data(), 2);
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      connected_ = true;
      last_heard_ = Now();
      spdlog::info("connected to broker {}", options_.broker);
      SendReady();
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
      connected_ = false;
      welcomed_ = false;
      spdlog::warn("lost connection to broker {}; reconnecting", options_.broker);
    }
  }
}

void NetThread::Handle(protocol::Message&& m) {
  if (auto* d = std::get_if<protocol::Deliver>(&m)) {
    counters_.delivered += d->items.size();
    sink_.OnDeliveries(std::move(d->items));
  } else if (auto* x = std::get_if<protocol::Extended>(&m)) {
    sink_.OnExtended(x->items);
  } else if (auto* w = std::get_if<protocol::Welcome>(&m)) {
    welcomed_ = true;
    if (w->heartbeat_ms > 0) heartbeat_ = std::chrono::milliseconds(w->heartbeat_ms);
    if (!broker_id_.empty() && broker_id_ != w->broker_id) {
      spdlog::warn("broker restarted ({} -> {}): leases held before are gone", broker_id_,
                   w->broker_id);
    }
    broker_id_ = w->broker_id;
    sink_.OnWelcome(*w);
  } else if (auto* e = std::get_if<protocol::Error>(&m)) {
    if (e->code == protocol::ErrorCode::kLeaseLost) {
      counters_.lease_lost += e->leases.size();
      sink_.OnLeasesLost(e->leases);
    } else if (e->code == protocol::ErrorCode::kNotReady) {
      welcomed_ = false;
      if (!e->leases.empty()) sink_.OnLeasesLost(e->leases);
      SendReady();
    } else {
      ++counters_.errors;
      spdlog::error("broker error {} ({}): {}", static_cast<int>(e->code),
                    protocol::ErrorCodeName(e->code), e->reason);
    }
  } else if (auto* dc = std::get_if<protocol::Disconnect>(&m)) {
    spdlog::warn("broker said DISCONNECT ({}); will announce again when it is back", dc->reason);
    welcomed_ = false;
  } else if (!std::holds_alternative<protocol::Heartbeat>(m)) {
    ++counters_.errors;
    spdlog::warn("unexpected {} from broker ignored",
                 protocol::CommandName(protocol::CommandOf(m)));
  }
}

void NetThread::DrainSocket() {
  protocol::Received in;
  const protocol::Limits limits;
  while (protocol::Receive(*socket_, in)) {
    last_heard_ = Now();
    auto decoded = protocol::DecodeReceived(in, 0, limits);
    if (!decoded.ok()) {
      ++counters_.errors;
      spdlog::error("undecodable frame from broker: {}", decoded.error().message);
      continue;
    }
    Handle(std::move(decoded).value());
  }
}

void NetThread::SendSettlements(Settlements::Batch& batch) {
  // Whatever cannot be sent stays in `batch` for the next try.
  if (batch.credit) {
    if (SendNow(protocol::Credit{*batch.credit})) {
      credit_ = *batch.credit;
      batch.credit.reset();
    }
  }
  if (!batch.acks.empty() && SendNow(protocol::Ack{batch.acks})) {
    counters_.acks_sent += batch.acks.size();
    batch.acks.clear();
  }
  if (!batch.nacks.empty() && SendNow(protocol::Nack{batch.nacks})) {
    counters_.nacks_sent += batch.nacks.size();
    batch.nacks.clear();
  }
  for (auto it = batch.extends.begin(); it != batch.extends.end();) {
    if (!SendNow(protocol::Extend{it->first, it->second})) break;
    counters_.extends_sent += it->second.size();
    it = batch.extends.erase(it);
  }
}

void NetThread::Run() {
  core::SetThreadName("net");
  OpenSocket();
  while (true) {
    zmq_pollitem_t items[3] = {{socket_->handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_->handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, settlements_.fd(), ZMQ_POLLIN, 0}};
    const long timeout = std::max<long>(1, heartbeat_.count() / 4);
    if (zmq_poll(items, 3, timeout) < 0 && zmq_errno() != EINTR) {
      spdlog::critical("zmq_poll failed: {}", zmq_strerror(zmq_errno()));
      break;
    }
    if (items[1].revents & ZMQ_POLLIN) DrainMonitor();
    if (items[0].revents & ZMQ_POLLIN) DrainSocket();
    if (items[2].revents & ZMQ_POLLIN) {
      auto fresh = settlements_.Take();
      if (fresh.close) closing_ = true;
      Merge(unsent_, std::move(fresh));
    }
    if (connected_) SendSettlements(unsent_);

    const auto now = Now();
    if (closing_) {
      // Flushed what could be flushed; say goodbye so the broker releases at once whatever
      // this worker still held.
      if (connected_) SendNow(protocol::Disconnect{"worker stopping"});
      const bool unsent = !unsent_.acks.empty() || !unsent_.nacks.empty();
      if (unsent) {
        spdlog::warn("{} acks and {} nacks could not be sent before stopping; the broker will "
                     "redeliver those messages",
                     unsent_.acks.size(), unsent_.nacks.size());
      }
      break;
    }
    if (connected_ && !welcomed_ && now - last_ready_ > std::chrono::milliseconds(500)) {
      SendReady();
    }
    if (connected_ && now - last_sent_ >= heartbeat_) SendNow(protocol::Heartbeat{});
    if (connected_ && now - last_heard_ > heartbeat_ * options_.liveness) {
      ++counters_.reconnects;
      spdlog::warn("broker silent for {} ms; reconnecting",
                   core::ToMillis(now - last_heard_));
      OpenSocket();
    }
  }
  // Linger (set by ConfigureDealer) lets the DISCONNECT and last acks leave.
  monitor_.reset();
  socket_.reset();
}

}  // namespace mandrill::worker
