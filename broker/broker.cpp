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
      clock_(clock),
      started_(clock.Now()),
      store_(options_, clock_),
      outbox_(transport, options_.limits),
      ctx_(options_, clock_, storage, store_, outbox_, durability_, counters_),
      leases_(options_.lease_id_seed),
      broker_id_(MakeBrokerId(RandomEpoch(), clock.WallMs())),
      dispatcher_(ctx_, leases_),
      leasing_(ctx_, leases_, dispatcher_),
      workers_(ctx_, sessions_, leasing_, dispatcher_, peers_, broker_id_),
      publishing_(ctx_, dispatcher_),
      gate_(ctx_, sessions_),
      admin_(ctx_, sessions_, leases_, leasing_, dispatcher_, broker_id_, started_),
      next_housekeeping_(started_ + HousekeepingInterval()) {}

// Liveness needs a check every half heartbeat; ids, peers and idle queues are pruned then too
// (so the dedup window and the idle timeout are precise to half a heartbeat).
std::chrono::milliseconds Broker::HousekeepingInterval() const { return options_.heartbeat / 2; }

Broker::~Broker() {
  // Leased and pending messages belong to no queue list; the rest go with their owners.
  std::vector<Lease*> held;
  leases_.ForEach([&](Lease* l) { held.push_back(l); });
  for (Lease* l : held) {
    Message* m = l->message;
    l->session->leases.Remove(l);
    leases_.End(l);
    FreeMessage(m);
  }
  durability_.ForEachPending([](Message* m) { FreeMessage(m); });
}

void Broker::OnFrame(const std::string& peer, int fd, protocol::Message&& message,
                     const Principal* who) {
  const PassClock::Pin pin(clock_);
  ++counters_.frames_in;
  const protocol::Command command = protocol::CommandOf(message);
  // Handlers that create state owned by a key (a worker session) read it from the context.
  struct WhoScope {
    Context& ctx;
    WhoScope(Context& c, const Principal* p) : ctx(c) { ctx.who = p; }
    ~WhoScope() { ctx.who = nullptr; }
  } scope(ctx_, who);
  try {
    Session* s = workers_.Heard(peer, fd);
    if (who != nullptr && !gate_.Admit(peer, *who, message)) return;
    std::visit([&](auto&& m) { Handle(peer, fd, s, std::move(m)); }, std::move(message));
  } catch (const std::exception& e) {
    // A bug (or memory exhaustion): what the handler did before it threw stands.
    ++counters_.internal_errors;
    spdlog::critical("internal error handling {} from {}: {}", protocol::CommandName(command),
                     protocol::PrintableId(peer), e.what());
    outbox_.Error(peer, protocol::ErrorCode::kInternal,
                  std::string("internal broker error: ") + e.what(), protocol::CommandByte(command));
  }
}

bool Broker::AdmitPeer(const std::string& peer, protocol::Command command) {
  if (!peers_.Known(peer) && sessions_.size() + peers_.size() >= options_.max_peers) {
    ++counters_.refused_peers;
    ctx_.peer_log.Log(spdlog::level::warn, "{} from {} refused: {} peers known (--max-peers)",
                      protocol::CommandName(command), protocol::PrintableId(peer),
                      options_.max_peers);
    outbox_.Error(peer, protocol::ErrorCode::kLimitReached,
                  "the broker serves " + std::to_string(options_.max_peers) +
                      " peers (--max-peers): retry later",
                  protocol::CommandByte(command));
    return false;
  }
  peers_.Heard(peer, clock_.Now());
  return true;
}

void Broker::Handle(const std::string& peer, int, Session* s, protocol::Publish&& m) {
  if (s == nullptr && !AdmitPeer(peer, protocol::Command::kPublish)) return;
  publishing_.Publish(peer, std::move(m));
}
void Broker::Handle(const std::string& peer, int fd, Session* s, protocol::Ready&& m) {
  workers_.Ready(peer, fd, s, std::move(m));
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::Credit&& m) {
  if (s == nullptr) return workers_.NotReady(peer, protocol::Command::kCredit, {});
  workers_.Credit(s, m);
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::Ack&& m) {
  if (s == nullptr) return workers_.NotReady(peer, protocol::Command::kAck, std::move(m.leases));
  leasing_.Ack(peer, s, m);
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::Extend&& m) {
  if (s == nullptr) {
    return workers_.NotReady(peer, protocol::Command::kExtend, std::move(m.leases));
  }
  leasing_.Extend(peer, s, m);
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::Nack&& m) {
  if (s == nullptr) {
    std::vector<std::uint64_t> ids;
    for (const auto& it : m.items) ids.push_back(it.lease_id);
    return workers_.NotReady(peer, protocol::Command::kNack, std::move(ids));
  }
  leasing_.Nack(peer, s, std::move(m));
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::Heartbeat&& m) {
  if (s == nullptr) {
    workers_.NotReady(peer, protocol::Command::kHeartbeat, {});
    return;
  }
  if (!m.tasks.empty() || !s->reported.empty()) {
    s->reported = std::move(m.tasks);  // bounded by the decoder (kMaxTaskReports)
    // By lease id, so a STATS request finds each lease's report by binary search.
    std::sort(s->reported.begin(), s->reported.end(),
              [](const auto& a, const auto& b) { return a.lease_id < b.lease_id; });
    s->reported_at = clock_.Now();
  }
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::Disconnect&&) {
  if (s != nullptr) {
    workers_.Disconnect(s);
  } else {
    peers_.Forget(peer);
  }
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::StatsRequest&& m) {
  if (s == nullptr && !AdmitPeer(peer, protocol::Command::kStats)) return;
  outbox_.Reply(peer, admin_.Stats(m));
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::QueuesRequest&& m) {
  if (s == nullptr && !AdmitPeer(peer, protocol::Command::kQueues)) return;
  admin_.Queues(peer, m);
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::DlqListRequest&& m) {
  if (s == nullptr && !AdmitPeer(peer, protocol::Command::kDlqList)) return;
  admin_.DlqList(peer, m);
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::DlqRequeueRequest&& m) {
  if (s == nullptr && !AdmitPeer(peer, protocol::Command::kDlqRequeue)) return;
  if (ctx_.shutting_down) return RefuseShuttingDown(peer, protocol::Command::kDlqRequeue, m.request_id);
  admin_.DlqChange(peer, AdminOp::Kind::kRequeue, m.request_id, m.queue, m.ids);
}
void Broker::Handle(const std::string& peer, int, Session* s, protocol::DlqPurgeRequest&& m) {
  if (s == nullptr && !AdmitPeer(peer, protocol::Command::kDlqPurge)) return;
  if (ctx_.shutting_down) return RefuseShuttingDown(peer, protocol::Command::kDlqPurge, m.request_id);
  admin_.DlqChange(peer, AdminOp::Kind::kPurge, m.request_id, m.queue, m.ids);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::Confirm&&) {
  Unexpected(peer, protocol::Command::kConfirm);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::Error&&) {
  Unexpected(peer, protocol::Command::kError);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::Welcome&&) {
  Unexpected(peer, protocol::Command::kWelcome);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::Deliver&&) {
  Unexpected(peer, protocol::Command::kDeliver);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::Extended&&) {
  Unexpected(peer, protocol::Command::kExtended);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::StatsReply&&) {
  Unexpected(peer, protocol::Command::kStatsReply);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::QueuesReply&&) {
  Unexpected(peer, protocol::Command::kQueuesReply);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::DlqListReply&&) {
  Unexpected(peer, protocol::Command::kDlqListReply);
}
void Broker::Handle(const std::string& peer, int, Session*, protocol::AdminOk&&) {
  Unexpected(peer, protocol::Command::kAdminOk);
}

void Broker::RefuseShuttingDown(const std::string& peer, protocol::Command command,
                                std::uint64_t request_id) {
  outbox_.Error(peer, protocol::ErrorCode::kShuttingDown,
                "the broker is shutting down: retry when it is back", protocol::CommandByte(command), request_id);
}

void Broker::Unexpected(const std::string& peer, protocol::Command command) {
  ++counters_.bad_frames;
  outbox_.Error(peer, protocol::ErrorCode::kUnexpectedCommand,
                std::string(protocol::CommandName(command)) + " is sent by the broker, not to it",
                protocol::CommandByte(command));
}

void Broker::OnBadFrame(const std::string& peer, const core::Error& error, std::uint8_t command) {
  const PassClock::Pin pin(clock_);
  ++counters_.bad_frames;
  ctx_.bad_frame_log.Log(spdlog::level::warn, "bad frame from peer {}: {}",
                         protocol::PrintableId(peer), error.message);
  // Decode errors are protocol errors; anything else is our bug, answered as such.
  const auto code = error.Is<protocol::ErrorCode>()
                        ? static_cast<protocol::ErrorCode>(error.code.value())
                        : protocol::ErrorCode::kInternal;
  outbox_.Error(peer, code, error.message, command);
}

void Broker::OnConnectionClosed(int fd, bool fd_reused) {
  const PassClock::Pin pin(clock_);
  workers_.ConnectionClosed(fd, fd_reused);
}

void Broker::OnTimers() {
  const PassClock::Pin pin(clock_);
  const auto now = clock_.Now();
  leasing_.ExpireDue(now);
  ReleaseDeferred(now);
  if (now < next_housekeeping_) return;
  next_housekeeping_ = now + HousekeepingInterval();
  workers_.CheckLiveness(now);
  std::vector<Queue*> released;
  store_.dedup.Prune(now, &released);
  for (Queue* q : released) store_.MaybeIdle(q);
  store_.RemoveIdle(now);
  peers_.Prune(now);
  RewriteSettles();
  for (core::LogLimiter* l :
       {&ctx_.storage_log, &ctx_.refusal_log, &ctx_.bad_frame_log, &ctx_.peer_log,
        &ctx_.stale_epoch_log}) {
    l->Tick(now);
  }
}

void Broker::ReleaseDeferred(core::SteadyTime now) {
  std::vector<Message*> due;
  while (Message* m = store_.deferred.PopDue(now)) due.push_back(m);
  // To the front, keeping (due, seq) order: the earliest due ends up first.
  for (auto it = due.rbegin(); it != due.rend(); ++it) {
    Message* m = *it;
    --m->queue->deferred;
    m->queue->PushReady(m, /*front=*/true);
    dispatcher_.MessageReady(m->queue);
  }
}

core::SteadyTime Broker::NextWakeup() const {
  core::SteadyTime next = next_housekeeping_;
  if (auto d = leases_.NextDeadline()) next = std::min(next, *d);
  if (auto d = store_.deferred.NextDue()) next = std::min(next, *d);
  if (auto d = ctx_.storage.HeldUntil()) next = std::min(next, *d);
  return next;
}

void Broker::EndPass() {
  const PassClock::Pin pin(clock_);
  ++counters_.passes;
  // Storage that decides at Commit (memory) makes this pass's publishes ready for the dispatch
  // below. The journal's progress is taken every pass: its writer wakes the reactor only for
  // what it waits on (confirms, admin replies, failures), and lets acks' progress wait for a pass.
  if (ctx_.storage.WakeFd() < 0) ctx_.storage.Commit();
  OnStorageProgress(ctx_.storage.Poll());
  dispatcher_.Dispatch();
  // One hand-off per pass at most: publishes, settles and the deliveries' attempt records
  // together (a pass of settles alone may be held a moment: Storage::CommitPass).
  ctx_.storage.CommitPass();
  outbox_.Flush(*this);
}

void Broker::OnStorageProgress(const StorageProgress& progress) {
  const PassClock::Pin pin(clock_);
  durability_.OnProgress(progress, *this, clock_.Now());
}

void Broker::PublishDurable(Message* m, std::vector<std::string> waiters) {
  publishing_.Durable(m, waiters);
}
void Broker::PublishFailed(Message* m, std::vector<std::string> waiters,
                           const std::string& error) {
  publishing_.Failed(m, waiters, error);
}
void Broker::AdminDurable(AdminOp op) { admin_.Durable(std::move(op)); }
void Broker::AdminFailed(AdminOp op, const std::string& error) {
  admin_.Failed(std::move(op), error);
}
void Broker::SettleFailed(const SettleRecord& r, const std::string& error) {
  ctx_.storage_log.Log(spdlog::level::err,
                       "the {} record of message seq {} could not be written ({}): writing it "
                       "again, or the message would come back after a restart",
                       r.purge ? "purge" : "ack", r.seq, error);
  settle_retries_.push_back(r);
}

void Broker::RewriteSettles() {
  // On a timer, not at once: a dead disk must not turn this into a busy loop.
  for (const SettleRecord& r : settle_retries_) {
    const Ticket t = r.purge ? ctx_.storage.Append(PurgeRecord{r.seq, r.settled_unix_ms})
                             : ctx_.storage.Append(AckRecord{r.seq, r.settled_unix_ms});
    durability_.AddSettle(t, r);
    ++counters_.settle_rewrites;
  }
  settle_retries_.clear();
}

void Broker::Sent(const std::string& peer) { workers_.Sent(peer); }
void Broker::Unreachable(const std::string& peer) { workers_.Unreachable(peer); }
void Broker::NotDelivered(Session* s, std::vector<std::uint64_t> leases, bool unreachable) {
  leasing_.TakeBack(s, leases);
  if (unreachable) {
    spdlog::warn("worker {} is unreachable; took back {} unsent messages, releasing its {} "
                 "other leases",
                 s->name, leases.size(), s->leases.size());
    ++counters_.workers_disconnected;
    workers_.End(s, "is unreachable");
  } else {
    spdlog::warn("DELIVER to worker {} could not be queued; took back {} messages", s->name,
                 leases.size());
  }
}

protocol::StatsReply Broker::Stats(std::uint64_t request_id) const {
  const PassClock::Pin pin(clock_);
  protocol::StatsRequest r;
  r.request_id = request_id;
  return admin_.Stats(r);
}

void Broker::BeginShutdown(const std::string& reason) {
  const PassClock::Pin pin(clock_);
  if (ctx_.shutting_down) return;
  ctx_.shutting_down = true;
  spdlog::info("shutting down: {} ({} workers, {} leases outstanding return to their queues)",
               reason, sessions_.size(), leases_.size());
}

void Broker::SayGoodbye(const std::string& reason) {
  const PassClock::Pin pin(clock_);
  outbox_.Flush(*this);  // the last CONFIRMs leave before the DISCONNECTs
  sessions_.ForEach([&](Session* s) { outbox_.Reply(s->routing_id, protocol::Disconnect{reason}); });
  peers_.ForEach([&](const std::string& peer) { outbox_.Reply(peer, protocol::Disconnect{reason}); });
  outbox_.Flush(*this);
}

}  // namespace mandrill::broker
