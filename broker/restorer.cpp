// Broker::Recover: builds the queues from what storage replays, one allocation per message
// straight from the replay's views (issue 10: 1 M messages to accepting work in ≤ 0.6 s).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "broker/broker.h"

namespace mandrill::broker {

class Broker::Restorer final : public RecoverySink {
 public:
  explicit Restorer(Broker* b) : b_(b), now_(b->clock_.Now()), wall_(b->clock_.WallMs()) {}

  void OnCounts(std::size_t messages, std::size_t settled_ids) override {
    b_->store_.dedup.Reserve(messages + settled_ids);
    ids_.reserve(settled_ids);
  }

  void OnMessage(const RecoveredMessageView& r) override {
    Queue* q = QueueNamed(r.queue);
    const std::string headers = r.headers->empty() ? std::string() : EncodeHeaders(*r.headers);
    Message* m = b_->store_.Create(q, r.seq, r.id, r.payload, headers, r.published_unix_ms);
    m->attempts = r.attempts;
    --q->pending;
    switch (r.state) {
      case RecoveredMessage::State::kReady:
        if (!r.last_error.empty()) m->SetLastError(r.last_error);
        q->PushReady(m, /*front=*/false);
        ++ready;
        break;
      case RecoveredMessage::State::kDeferred:
        if (!r.last_error.empty()) m->SetLastError(r.last_error);
        ++q->deferred;
        b_->store_.deferred.Add(m, now_ + std::chrono::milliseconds(std::max<std::int64_t>(
                                              0, r.not_before_unix_ms - wall_)));
        ++deferred;
        break;
      case RecoveredMessage::State::kDead:
        q->Bury(m, r.last_error, r.dead_at_unix_ms);
        ++dead;
        break;
    }
    if (r.state != RecoveredMessage::State::kDead && q->HasReady()) b_->store_.MarkDirty(q);
  }

  void OnSettledId(std::string_view queue, std::string_view id,
                   std::int64_t settled_unix_ms) override {
    const auto left = settled_unix_ms + b_->options_.dedup_window.count() - wall_;
    if (left <= 0) return;
    ids_.push_back({QueueNamed(queue), std::string(id), now_ + std::chrono::milliseconds(left)});
  }

  // The settled ids go in in window order (DedupIndex::AddSettled).
  void Finish() {
    std::stable_sort(ids_.begin(), ids_.end(),
                     [](const auto& a, const auto& b) { return a.expires < b.expires; });
    for (const auto& s : ids_) b_->store_.dedup.AddSettled(s.queue, s.id, s.expires);
    settled = ids_.size();
    ids_.clear();
    for (const auto& [name, q] : b_->store_.queues()) b_->store_.MaybeIdle(q.get());
  }

  std::size_t ready = 0, deferred = 0, dead = 0, settled = 0;

 private:
  // Recovered queues are created whatever --max-queues says: nothing confirmed is dropped.
  Queue* QueueNamed(std::string_view name) {
    if (last_ != nullptr && last_->name() == name) return last_;
    last_ = b_->store_.Find(name);
    if (last_ == nullptr) last_ = b_->store_.GetOrCreate(name, /*force=*/true);
    return last_;
  }

  struct SettledId {
    Queue* queue;
    std::string id;
    core::SteadyTime expires;
  };
  Broker* b_;
  core::SteadyTime now_;
  std::int64_t wall_;
  Queue* last_ = nullptr;
  std::vector<SettledId> ids_;
};

core::Result<std::uint64_t> Broker::Open() {
  if (ctx_.epoch != 0) return ctx_.epoch;
  auto epoch = ctx_.storage.Open();
  if (!epoch.ok()) return epoch.error();
  ctx_.epoch = *epoch;
  leases_.SetEpoch(*epoch);
  return *epoch;
}

core::Status Broker::Recover() {
  if (ctx_.epoch == 0) {
    if (auto epoch = Open(); !epoch.ok()) return epoch.error();
  }
  const auto t0 = std::chrono::steady_clock::now();
  Restorer restorer(this);
  auto max_seq = ctx_.storage.Recover(restorer);
  if (!max_seq.ok()) return max_seq.error();
  restorer.Finish();
  publishing_.set_next_seq(*max_seq + 1);
  const std::size_t live = restorer.ready + restorer.deferred + restorer.dead;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
  if (live > 0 || restorer.settled > 0) {
    spdlog::info("recovered {} live messages ({} ready, {} deferred, {} dead) in {} queues and "
                 "{} settled ids in the dedup window, in {} ms",
                 live, restorer.ready, restorer.deferred, restorer.dead, store_.queues().size(),
                 restorer.settled, ms);
  }
  if (store_.queues().size() > options_.max_queues) {
    spdlog::warn("{} queues recovered, more than --max-queues {}: no new queue is accepted "
                 "until some are empty and removed",
                 store_.queues().size(), options_.max_queues);
  }
  if (!store_.HasRoomFor(0)) {
    spdlog::warn("the recovered messages take {} bytes, more than --max-memory {}: publishes "
                 "are refused until workers drain them",
                 store_.memory_used(), options_.max_memory);
  }
  return core::Status::Ok();
}

}  // namespace mandrill::broker
