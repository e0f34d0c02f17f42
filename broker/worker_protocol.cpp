#include "broker/worker_protocol.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/principal.h"
#include "shared/protocol/codec.h"

namespace mandrill::broker {

Session* WorkerProtocol::Heard(const std::string& peer, int fd) {
  Session* s = sessions_.Find(peer);
  if (s == nullptr) return nullptr;
  sessions_.Heard(s, ctx_.clock.Now());
  if (fd >= 0) sessions_.TieTo(s, fd, ctx_.counters.passes);
  return s;
}

void WorkerProtocol::NotReady(const std::string& peer, protocol::Command command,
                              std::vector<std::uint64_t> leases) {
  ++ctx_.counters.not_ready;
  protocol::Error e;
  e.code = protocol::ErrorCode::kNotReady;
  e.reason = "unknown worker: send READY first (the broker restarted or timed you out)";
  e.answers = static_cast<std::uint8_t>(command);
  e.leases = std::move(leases);
  ctx_.outbox.Reply(peer, std::move(e));
}

void WorkerProtocol::Ready(const std::string& peer, int fd, Session* s, protocol::Ready&& ready) {
  const auto ready_byte = static_cast<std::uint8_t>(protocol::Command::kReady);
  for (const auto& name : ready.queues) {
    if (auto why = protocol::CheckQueueName(name); !why.empty()) {
      ctx_.outbox.Error(peer, protocol::ErrorCode::kInvalidArgument, "READY: " + why, ready_byte);
      return;
    }
  }
  if (ctx_.shutting_down) {
    ctx_.outbox.Reply(peer, protocol::Disconnect{"the broker is shutting down"});
    return;
  }
  // All or nothing: a READY that would take the broker past --max-queues creates none.
  std::vector<std::string_view> unknown;
  for (const auto& name : ready.queues) {
    if (ctx_.store.Find(name) == nullptr &&
        std::find(unknown.begin(), unknown.end(), name) == unknown.end()) {
      unknown.push_back(name);
    }
  }
  if (ctx_.store.queues().size() + unknown.size() > ctx_.options.max_queues) {
    ++ctx_.counters.refused_queues;
    ctx_.outbox.Error(peer, protocol::ErrorCode::kLimitReached,
                      "READY names " + std::to_string(unknown.size()) +
                          " queues that do not exist; the broker holds at most " +
                          std::to_string(ctx_.options.max_queues) + " (--max-queues)",
                      ready_byte);
    return;
  }
  std::vector<Queue*> queues;
  queues.reserve(ready.queues.size());
  for (const auto& name : ready.queues) queues.push_back(ctx_.store.GetOrCreate(name));
  const auto now = ctx_.clock.Now();
  // A connection speaks for one worker process. The same process on a new connection (its
  // instance token names it) keeps its session and leases: the old connection is dead or dying.
  if (s != nullptr && s->instance != ready.instance) {
    ++ctx_.counters.workers_left;
    End(s, "re-announced as another worker process");
    s = nullptr;
  }
  bool created = false;
  if (s == nullptr) {
    s = sessions_.FindInstance(ready.instance);
    if (s != nullptr) {
      ++ctx_.counters.workers_reconnected;
      spdlog::info("worker {} reconnected (new connection on fd {}), {} leases held", s->name, fd,
                   s->leases.size());
      sessions_.Rekey(s, peer);
      peers_.Forget(peer);
    } else {
      if (!peers_.Known(peer) && sessions_.size() + peers_.size() >= ctx_.options.max_peers) {
        ++ctx_.counters.refused_peers;
        ctx_.peer_log.Log(spdlog::level::warn, "READY refused: {} peers known (--max-peers)",
                          ctx_.options.max_peers);
        ctx_.outbox.Error(peer, protocol::ErrorCode::kLimitReached,
                          "the broker serves " + std::to_string(ctx_.options.max_peers) +
                              " peers (--max-peers): retry later",
                          ready_byte);
        return;
      }
      peers_.Forget(peer);
      s = sessions_.Add(peer, ready.instance, now);
      if (ctx_.who != nullptr) s->owner = ctx_.who->name;
      created = true;
    }
  }
  s->name = ready.worker.empty() ? protocol::PrintableId(peer) : ready.worker;
  s->credit = ready.credit;
  s->leases_at_credit = static_cast<std::uint32_t>(s->leases.size());
  if (s->state == SessionState::kDraining && s->credit > 0) s->state = SessionState::kWorking;
  if (s->credit == 0 && s->state == SessionState::kWorking) s->state = SessionState::kDraining;
  sessions_.TieTo(s, fd, ctx_.counters.passes);
  sessions_.Heard(s, now);
  dispatcher_.Subscribe(s, queues);
  spdlog::info("worker {} {} on fd {}: queues [{}], credit {}, {} leases held", s->name,
               created ? "ready" : "re-announced", fd, fmt::join(ready.queues, ", "), s->credit,
               s->leases.size());
  protocol::Welcome welcome;
  welcome.broker_id = broker_id_;
  welcome.heartbeat_ms = static_cast<std::uint32_t>(ctx_.options.heartbeat.count());
  welcome.lease_ms = static_cast<std::uint32_t>(ctx_.options.lease.count());
  welcome.max_lease_ms = static_cast<std::uint32_t>(ctx_.options.max_lease.count());
  welcome.max_payload_bytes = static_cast<std::uint32_t>(ctx_.options.limits.max_payload_bytes);
  welcome.max_body_bytes = ctx_.options.limits.max_body_bytes;
  welcome.max_batch = static_cast<std::uint32_t>(ctx_.options.limits.max_batch);
  welcome.epoch = ctx_.epoch;
  ctx_.outbox.Reply(peer, std::move(welcome));
}

void WorkerProtocol::Credit(Session* s, const protocol::Credit& credit) {
  spdlog::debug("worker {} credit {} -> {}", s->name, s->credit, credit.credit);
  s->credit = credit.credit;
  s->leases_at_credit = static_cast<std::uint32_t>(s->leases.size());
  if (credit.credit == 0 && s->state != SessionState::kDraining) {
    s->state = SessionState::kDraining;
  } else if (credit.credit > 0 && s->state == SessionState::kDraining) {
    s->state = SessionState::kWorking;
  }
  dispatcher_.SessionChanged(s);
}

void WorkerProtocol::Disconnect(Session* s) {
  ++ctx_.counters.workers_left;
  End(s, "sent DISCONNECT");
}

void WorkerProtocol::ConnectionClosed(int fd, bool fd_reused) {
  for (Session* s : sessions_.OnConnection(fd)) {
    // A reused fd's new connection was accepted after the previous monitor drain, so only a
    // frame read since then (in the previous pass, or this one) can have come over it.
    if (fd_reused && s->fd_pass + 1 >= ctx_.counters.passes) {
      ++ctx_.counters.closes_ambiguous;
      sessions_.Untie(s);
      spdlog::info("a connection on fd {} closed and fd {} was reused at once: worker {} may be "
                   "on the new connection, so it keeps its {} leases until it speaks again or "
                   "misses its heartbeats",
                   fd, fd, s->name, s->leases.size());
      continue;
    }
    ++ctx_.counters.workers_disconnected;
    End(s, "closed its connection");
  }
}

void WorkerProtocol::CheckLiveness(core::SteadyTime now) {
  const auto dead_after = ctx_.options.heartbeat * ctx_.options.liveness;
  while (Session* s = sessions_.LeastRecentlyHeard()) {
    if (now - s->last_heard <= dead_after) break;
    ++ctx_.counters.workers_timed_out;
    End(s, "stopped heartbeating");
  }
  // Heartbeat the sessions sent nothing for an interval (sending moves them to the back), and
  // once per interval every session, busy or not: the heartbeat carries the ready depth of its
  // queues, by which a worker of several cells splits its credit (docs/protocol.md).
  const bool report_all = now >= next_depth_report_;
  if (report_all) next_depth_report_ = now + ctx_.options.heartbeat;
  for (Session* s = sessions_.LeastRecentlySent(); s != nullptr; s = sessions_.NextSent(s)) {
    if (!report_all && now - s->last_sent < ctx_.options.heartbeat) break;
    protocol::Heartbeat beat;
    for (const auto& sub : s->subscriptions) beat.ready += sub->queue->ready_count();
    ctx_.outbox.Reply(s->routing_id, std::move(beat));
  }
}

void WorkerProtocol::Sent(const std::string& peer) {
  if (Session* s = sessions_.Find(peer)) {
    sessions_.Sent(s, ctx_.clock.Now());
    if (s->state == SessionState::kWelcomed) {
      s->state = s->credit > 0 ? SessionState::kWorking : SessionState::kDraining;
    }
  }
}

void WorkerProtocol::Unreachable(const std::string& peer) {
  if (Session* s = sessions_.Find(peer)) {
    ++ctx_.counters.workers_disconnected;
    End(s, "is unreachable");
  }
}

void WorkerProtocol::End(Session* s, const char* why) {
  spdlog::info("worker {} {} ({}): returning its {} leased messages now", s->name, why,
               SessionStateName(s->state), s->leases.size());
  leasing_.ReleaseAll(s, "worker " + s->name + " " + why);
  dispatcher_.Unsubscribe(s);
  ctx_.outbox.Forget(s);
  sessions_.Remove(s);
}

}  // namespace mandrill::broker
