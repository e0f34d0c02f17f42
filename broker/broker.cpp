#include "broker/broker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "shared/protocol/codec.h"

namespace mandrill::broker {
namespace {

std::uint32_t RandomEpoch() {
  std::random_device rd;
  return rd() & 0xffffffu;
}

std::string MakeBrokerId(std::uint32_t epoch, std::int64_t wall_ms) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "b-%llx-%06x", static_cast<unsigned long long>(wall_ms), epoch);
  return buf;
}

}  // namespace

Broker::Broker(BrokerOptions options, Storage& storage, const core::Clock& clock,
               Transport& transport)
    : options_(std::move(options)),
      storage_(storage),
      clock_(clock),
      transport_(transport),
      started_(clock.Now()),
      leases_(RandomEpoch()) {
  broker_id_ = MakeBrokerId(static_cast<std::uint32_t>(leases_.NextId() >> 40), clock.WallMs());
  next_heartbeat_check_ = started_ + options_.heartbeat;
}

Broker::~Broker() = default;

// Builds the queues from what storage recovered, one message at a time.
class Broker::Restorer final : public RecoverySink {
 public:
  explicit Restorer(Broker* b) : b_(b), now_(b->clock_.Now()), wall_(b->clock_.WallMs()) {}
  void OnMessage(const RecoveredMessageView& r) override {
    Queue* q = b_->GetOrCreateQueue(std::string(r.queue));
    auto m = std::make_unique<StoredMessage>();
    m->seq = r.seq;
    m->id = std::string(r.id);
    m->payload = std::string(r.payload);
    m->headers = *r.headers;
    m->published_unix_ms = r.published_unix_ms;
    m->attempts = r.attempts;
    m->last_error = std::string(r.last_error);
    StoredMessage* sm = q->Adopt(std::move(m));
    switch (r.state) {
      case RecoveredMessage::State::kReady:
        q->PushReady(sm, false);
        ++ready;
        break;
      case RecoveredMessage::State::kDeferred:
        q->Defer(sm, now_ + std::chrono::milliseconds(
                                std::max<std::int64_t>(0, r.not_before_unix_ms - wall_)));
        ++deferred;
        break;
      case RecoveredMessage::State::kDead:
        q->Bury(sm, sm->last_error, r.dead_at_unix_ms);
        ++dead;
        break;
    }
  }
  void OnSettledId(std::string_view queue, std::string_view id,
                   std::int64_t settled_unix_ms) override {
    ++ids;
    const auto left = settled_unix_ms + b_->options_.dedup_window.count() - wall_;
    if (left > 0) {
      b_->GetOrCreateQueue(std::string(queue))
          ->dedup.AddSettled(id, now_ + std::chrono::milliseconds(left));
    }
  }
  std::size_t ready = 0, deferred = 0, dead = 0, ids = 0;

 private:
  Broker* b_;
  core::SteadyTime now_;
  std::int64_t wall_;
};

core::Status Broker::Recover() {
  Restorer restorer(this);
  auto max_seq = storage_.Recover(restorer);
  if (!max_seq.ok()) return max_seq.error();
  next_seq_ = *max_seq + 1;
  const std::size_t live = restorer.ready + restorer.deferred + restorer.dead;
  if (live > 0 || restorer.ids > 0) {
    spdlog::info("recovered {} live messages ({} ready, {} deferred, {} dead) in {} queues, {} "
                 "settled ids in the dedup window",
                 live, restorer.ready, restorer.deferred, restorer.dead, queues_.size(),
                 restorer.ids);
  }
  return core::Status::Ok();
}

Queue* Broker::GetOrCreateQueue(const std::string& name) {
  auto& slot = queues_[name];
  if (!slot) {
    slot = std::make_unique<Queue>(name, options_.dedup_window);
    slot->counters.name = name;
    spdlog::info("queue '{}' created", name);
  }
  return slot.get();
}

Queue* Broker::FindQueue(const std::string& name) const {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second.get();
}

void Broker::OnFrame(const std::string& peer, int fd, protocol::Message&& message) {
  ++counters_.frames_in;
  Worker* w = workers_.Find(peer);
  if (w != nullptr) {
    w->last_heard = clock_.Now();
    if (fd >= 0) w->TieTo(fd, counters_.passes);
  }
  const auto command = static_cast<std::uint8_t>(protocol::CommandOf(message));
  // Worker commands need a READY first; answering kNotReady makes a worker that the broker
  // forgot (restart, timeout) announce itself again.
  auto require_worker = [&](std::vector<std::uint64_t> leases = {}) {
    if (w != nullptr) return true;
    ++counters_.not_ready;
    protocol::Error e;
    e.code = protocol::ErrorCode::kNotReady;
    e.reason = "unknown worker: send READY first (the broker restarted or timed you out)";
    e.answers = command;
    e.leases = std::move(leases);
    Reply(peer, std::move(e));
    return false;
  };

  if (auto* p = std::get_if<protocol::Publish>(&message)) {
    HandlePublish(peer, std::move(*p));
  } else if (auto* r = std::get_if<protocol::Ready>(&message)) {
    HandleReady(peer, fd, std::move(*r));
  } else if (auto* c = std::get_if<protocol::Credit>(&message)) {
    if (require_worker()) HandleCredit(w, *c);
  } else if (auto* a = std::get_if<protocol::Ack>(&message)) {
    if (require_worker(a->leases)) HandleAck(peer, w, *a);
  } else if (auto* x = std::get_if<protocol::Extend>(&message)) {
    if (require_worker(x->leases)) HandleExtend(peer, w, *x);
  } else if (auto* n = std::get_if<protocol::Nack>(&message)) {
    std::vector<std::uint64_t> ids;
    for (const auto& it : n->items) ids.push_back(it.lease_id);
    if (require_worker(std::move(ids))) HandleNack(peer, w, std::move(*n));
  } else if (std::holds_alternative<protocol::Heartbeat>(message)) {
    require_worker();
  } else if (std::holds_alternative<protocol::Disconnect>(message)) {
    if (w != nullptr) {
      ++counters_.workers_left;
      WorkerGone(w, "sent DISCONNECT");
    }
  } else if (auto* s = std::get_if<protocol::StatsRequest>(&message)) {
    RememberPeer(peer);
    Reply(peer, Stats(s->request_id));
  } else if (auto* q = std::get_if<protocol::QueuesRequest>(&message)) {
    RememberPeer(peer);
    HandleQueues(peer, *q);
  } else if (auto* l = std::get_if<protocol::DlqListRequest>(&message)) {
    RememberPeer(peer);
    HandleDlqList(peer, *l);
  } else if (auto* rq = std::get_if<protocol::DlqRequeueRequest>(&message)) {
    RememberPeer(peer);
    HandleDlqRequeue(peer, *rq);
  } else if (auto* pg = std::get_if<protocol::DlqPurgeRequest>(&message)) {
    RememberPeer(peer);
    HandleDlqPurge(peer, *pg);
  } else {
    ++counters_.bad_frames;
    ReplyError(peer, protocol::ErrorCode::kUnexpectedCommand,
               std::string(protocol::CommandName(protocol::CommandOf(message))) +
                   " is sent by the broker, not to it",
               command);
  }
}

void Broker::OnBadFrame(const std::string& peer, const core::Error& error, std::uint8_t command) {
  ++counters_.bad_frames;
  spdlog::warn("bad frame from peer {}: {}", protocol::PrintableId(peer), error.message);
  // Decode errors are protocol errors; anything else is our bug, answered as such.
  const auto code = error.Is<protocol::ErrorCode>()
                        ? static_cast<protocol::ErrorCode>(error.code.value())
                        : protocol::ErrorCode::kInternal;
  ReplyError(peer, code, error.message, command);
}

void Broker::OnConnectionClosed(int fd, bool fd_reused) {
  for (Worker* w : workers_.OnConnection(fd)) {
    // A reused fd's new connection was accepted after the previous monitor drain, so only a frame
    // read since then (in the previous pass, or this one) can have come over it.
    if (fd_reused && w->fd_pass + 1 >= counters_.passes) {
      ++counters_.closes_ambiguous;
      w->fd = -1;
      spdlog::info("a connection on fd {} closed and fd {} was reused at once: worker {} may be "
                   "on the new connection, so it keeps its {} leases until it speaks again or "
                   "misses its heartbeats",
                   fd, fd, w->name, w->leases.size());
      continue;
    }
    ++counters_.workers_disconnected;
    WorkerGone(w, "closed its connection");
  }
}

void Broker::OnTimers() {
  const auto now = clock_.Now();
  while (StoredMessage* m = leases_.Expired(now)) {
    spdlog::debug("lease {} on message {} expired (worker {})", m->lease_id, m->id,
                  m->worker != nullptr ? m->worker->name : "?");
    ++m->queue->counters.expired;
    EndLease(m);
    Return(m, std::chrono::milliseconds(0), "lease expired", /*journal_nack=*/false);
  }
  for (auto& [name, q] : queues_) {
    if (auto next = q->NextDeferred(); next && *next <= now) q->ReleaseDue(now);
  }
  if (now >= next_heartbeat_check_) {
    next_heartbeat_check_ = now + options_.heartbeat / 2;
    const auto dead_after = options_.heartbeat * options_.liveness;
    for (Worker* w : workers_.All()) {
      if (now - w->last_heard > dead_after) {
        ++counters_.workers_timed_out;
        WorkerGone(w, "stopped heartbeating");
      } else if (now - w->last_sent >= options_.heartbeat) {
        Reply(w->routing_id, protocol::Heartbeat{});
      }
    }
    for (auto& [name, q] : queues_) q->dedup.Prune(now);
    std::erase_if(other_peers_, [&](const auto& kv) { return now - kv.second > std::chrono::minutes(1); });
  }
}

core::SteadyTime Broker::NextWakeup() const {
  core::SteadyTime next = next_heartbeat_check_;
  if (auto d = leases_.NextDeadline()) next = std::min(next, *d);
  for (const auto& [name, q] : queues_) {
    if (auto d = q->NextDeferred()) next = std::min(next, *d);
  }
  return next;
}

void Broker::EndPass() {
  ++counters_.passes;
  storage_.Commit();
  if (storage_.WakeFd() < 0) OnStorageProgress(storage_.Poll());
  Dispatch();
  storage_.Commit();  // the deliveries' attempt records
  Flush();
}

void Broker::OnStorageProgress(const StorageProgress& progress) {
  failures_.insert(failures_.end(), progress.failures.begin(), progress.failures.end());
  durable_upto_ = std::max(durable_upto_, progress.durable_upto);
  // Settle pending publishes in ticket order: each is durable (<= the watermark and not
  // failed), failed, or still undecided — and then so is everything after it.
  while (!pending_.empty()) {
    auto [ticket, m] = pending_.front();
    const StorageProgress::Failure* failed = nullptr;
    for (const auto& f : failures_) {
      if (ticket >= f.first && ticket <= f.last) failed = &f;
    }
    if (failed != nullptr) {
      MarkFailed(m, failed->error);
    } else if (ticket <= durable_upto_) {
      MarkDurable(m);
    } else {
      break;
    }
    pending_.pop_front();
  }
  const Ticket next = pending_.empty() ? durable_upto_ + 1 : pending_.front().first;
  std::erase_if(failures_, [&](const auto& f) { return f.last < next && f.last <= durable_upto_; });
}

void Broker::Reply(const std::string& peer, protocol::Message&& m) {
  replies_.emplace_back(peer, std::move(m));
}

void Broker::ReplyError(const std::string& peer, protocol::ErrorCode code, std::string reason,
                        std::uint8_t answers, std::uint64_t request_id) {
  protocol::Error e;
  e.code = code;
  e.reason = std::move(reason);
  e.answers = answers;
  e.request_id = request_id;
  Reply(peer, std::move(e));
}

void Broker::AddConfirm(const std::string& peer, Queue* q, const std::string& id) {
  // A pass's confirms come in runs from one publisher and queue: look at the last batch first.
  for (auto it = confirms_.rbegin(); it != confirms_.rend(); ++it) {
    if (it->queue == q && it->peer == peer) {
      it->ids.push_back(id);
      return;
    }
  }
  confirms_.push_back({peer, q, {id}});
}

void Broker::RememberPeer(const std::string& peer) { other_peers_[peer] = clock_.Now(); }

std::uint32_t Broker::LeaseMsLeft(const StoredMessage* m) const {
  const auto left = core::ToMillis(m->lease_deadline - clock_.Now());
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(left, 0, UINT32_MAX));
}

void Broker::Flush() {
  const auto now = clock_.Now();
  // Replies first: a WELCOME precedes the first DELIVER it makes possible.
  auto replies = std::move(replies_);
  replies_.clear();
  for (auto& [peer, m] : replies) {
    const auto result = transport_.Send(peer, m);
    Worker* w = workers_.Find(peer);
    if (result == protocol::SendResult::kSent) {
      if (w != nullptr) w->last_sent = now;
    } else if (result == protocol::SendResult::kUnreachable && w != nullptr) {
      ++counters_.send_failures;
      ++counters_.workers_disconnected;
      WorkerGone(w, "is unreachable");
    } else {
      ++counters_.send_failures;
      spdlog::debug("{} to {} not sent", protocol::CommandName(protocol::CommandOf(m)),
                    protocol::PrintableId(peer));
    }
  }
  auto deliveries = std::move(deliveries_);
  deliveries_.clear();
  for (auto& [w, frames] : deliveries) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const auto result = transport_.SendBody(w->routing_id, protocol::Command::kDeliver,
                                              frames[i].writer.Finish());
      if (result == protocol::SendResult::kSent) {
        w->last_sent = now;
        continue;
      }
      ++counters_.send_failures;
      // Frames i.. never left: take them back, as if never sent (no attempt used, original
      // order), rather than let them wait for lease expiry or count as a failed attempt.
      std::size_t taken = 0;
      for (std::size_t j = frames.size(); j-- > i;) {
        for (auto it = frames[j].leases.rbegin(); it != frames[j].leases.rend(); ++it) {
          if (StoredMessage* m = leases_.Find(*it)) {
            TakeBack(m);
            ++taken;
          }
        }
      }
      if (result == protocol::SendResult::kUnreachable) {
        spdlog::warn("worker {} is unreachable; took back {} unsent messages, releasing its {} "
                     "other leases", w->name, taken, w->leases.size());
        ++counters_.workers_disconnected;
        WorkerGone(w, "is unreachable");
      } else {
        spdlog::warn("DELIVER to worker {} could not be queued; took back {} messages", w->name,
                     taken);
      }
      break;
    }
  }
  for (auto& batch : confirms_) {
    const std::size_t limit = options_.limits.max_batch;
    for (std::size_t i = 0; i < batch.ids.size(); i += limit) {
      protocol::Confirm c;
      c.queue = batch.queue->name();
      const auto end = std::min(batch.ids.size(), i + limit);
      c.ids.assign(std::make_move_iterator(batch.ids.begin() + static_cast<std::ptrdiff_t>(i)),
                   std::make_move_iterator(batch.ids.begin() + static_cast<std::ptrdiff_t>(end)));
      if (transport_.Send(batch.peer, c) != protocol::SendResult::kSent) {
        // The publisher retries unconfirmed ids; the retry is deduplicated and confirmed then.
        ++counters_.send_failures;
        spdlog::warn("CONFIRM of {} ids to {} could not be sent", c.ids.size(),
                     protocol::PrintableId(batch.peer));
      }
    }
  }
  confirms_.clear();
}

void Broker::BeginShutdown(const std::string& reason) {
  if (shutting_down_) return;
  shutting_down_ = true;
  spdlog::info("shutting down: {} ({} workers, {} leases outstanding return to their queues)",
               reason, workers_.size(), leases_.size());
}

void Broker::SayGoodbye(const std::string& reason) {
  Flush();  // the last CONFIRMs leave before the DISCONNECTs
  for (Worker* w : workers_.All()) Reply(w->routing_id, protocol::Disconnect{reason});
  for (const auto& [peer, seen] : other_peers_) Reply(peer, protocol::Disconnect{reason});
  Flush();
}

}  // namespace mandrill::broker
