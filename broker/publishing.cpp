#include "broker/publishing.h"

#include <spdlog/spdlog.h>

#include <map>

#include "shared/protocol/codec.h"

namespace mandrill::broker {
namespace {

// The ERRORs one PUBLISH frame earns, grouped by (code, queue).
class Refusals {
 public:
  void Add(protocol::ErrorCode code, const std::string& queue, std::string id,
           const std::string& reason) {
    auto& e = by_key_[{code, queue}];
    if (e.ids.empty()) {
      e.code = code;
      e.reason = reason;
      e.answers = static_cast<std::uint8_t>(protocol::Command::kPublish);
      e.queue = queue;
    }
    e.ids.push_back(std::move(id));
  }
  template <typename F>
  void ForEach(F&& f) {
    for (auto& [key, e] : by_key_) f(std::move(e));
  }

 private:
  std::map<std::pair<protocol::ErrorCode, std::string>, protocol::Error> by_key_;
};

}  // namespace

void Publishing::Publish(const std::string& peer, protocol::Publish&& publish) {
  Refusals refused;
  const std::int64_t wall = ctx_.clock.WallMs();
  const std::size_t max_payload = ctx_.options.limits.max_payload_bytes;
  Queue* q = nullptr;  // the previous item's queue: batches usually name one
  for (auto& item : publish.items) {
    if (ctx_.shutting_down) {
      refused.Add(protocol::ErrorCode::kShuttingDown, item.queue, std::move(item.id),
                  "the broker is shutting down: retry when it is back");
      continue;
    }
    if (auto why = protocol::CheckQueueName(item.queue); !why.empty()) {
      refused.Add(protocol::ErrorCode::kInvalidArgument, item.queue, std::move(item.id), why);
      continue;
    }
    if (auto why = protocol::CheckMessageId(item.id); !why.empty()) {
      refused.Add(protocol::ErrorCode::kInvalidArgument, item.queue, std::move(item.id), why);
      continue;
    }
    // Headers count with the payload: the limit bounds what one message can make us hold.
    const std::size_t bytes = item.payload.size() + HeaderBytes(item.headers);
    if (bytes > max_payload) {
      ++ctx_.counters.refused_too_large;
      refused.Add(protocol::ErrorCode::kTooLarge, item.queue, std::move(item.id),
                  "payload and headers are " + std::to_string(bytes) + " bytes, over the " +
                      std::to_string(max_payload) + " byte limit (--max-payload-bytes)");
      continue;
    }
    if (q == nullptr || q->name() != item.queue) q = ctx_.store.GetOrCreate(item.queue);
    if (q == nullptr) {
      ++ctx_.counters.refused_queues;
      refused.Add(protocol::ErrorCode::kLimitReached, item.queue, std::move(item.id),
                  "the broker holds " + std::to_string(ctx_.options.max_queues) +
                      " queues (--max-queues); '" + item.queue + "' would be one more");
      continue;
    }
    if (auto hit = ctx_.store.dedup.Find(q, item.id); hit.found) {
      ++q->counters.deduplicated;
      if (hit.live != nullptr && hit.live->state == MessageState::kPending) {
        ctx_.durability.AddWaiter(hit.live, peer);  // confirmed with the original
      } else {
        ctx_.outbox.Confirm(peer, q->name(), item.id);
      }
      continue;
    }
    if (q->depth() >= ctx_.options.queue_limit) {
      ++q->counters.refused_full;
      ++ctx_.counters.refused_full;
      refused.Add(protocol::ErrorCode::kQueueFull, item.queue, std::move(item.id),
                  "queue '" + item.queue + "' is full (" +
                      std::to_string(ctx_.options.queue_limit) + " messages): back off and retry");
      continue;
    }
    const std::string encoded_headers = EncodeHeaders(item.headers);
    const std::size_t footprint =
        sizeof(Message) + item.id.size() + item.payload.size() + encoded_headers.size();
    if (!ctx_.store.HasRoomFor(footprint)) {
      ++ctx_.counters.refused_memory;
      ++q->refused_memory;
      refused.Add(protocol::ErrorCode::kBrokerFull, item.queue, std::move(item.id),
                  "the broker is full (" + std::to_string(ctx_.options.max_memory) +
                      " bytes of messages, --max-memory): back off and retry");
      continue;
    }
    // Storage first: if it throws, nothing in memory refers to a record that is not there.
    const std::uint64_t seq = next_seq_++;
    const PublishRecord record{seq,          std::move(item.queue),   std::move(item.id),
                               std::move(item.payload), std::move(item.headers), wall};
    const Ticket ticket = ctx_.storage.Append(record);
    Message* m = ctx_.store.Create(q, seq, record.id, record.payload, encoded_headers, wall);
    ctx_.durability.AddPublish(ticket, m, peer, ctx_.clock.Now());
  }
  refused.ForEach([&](protocol::Error&& e) {
    ctx_.refusal_log.Log(spdlog::level::debug, "refused {} publishes to '{}' from {}: {}",
                         e.ids.size(), e.queue, protocol::PrintableId(peer), e.reason);
    ctx_.outbox.Reply(peer, std::move(e));
  });
}

void Publishing::Durable(Message* m, const std::vector<std::string>& waiters) {
  Queue* q = m->queue;
  --q->pending;
  ++q->counters.published;
  q->PushReady(m, /*front=*/false);
  dispatcher_.MessageReady(q);
  for (const auto& w : waiters) ctx_.outbox.Confirm(w, q->name(), m->id());
}

void Publishing::Failed(Message* m, const std::vector<std::string>& waiters,
                        const std::string& error) {
  ++ctx_.counters.storage_failures;
  Queue* q = m->queue;
  ++q->refused_storage;
  ctx_.storage_log.Log(spdlog::level::err,
                       "message {} in '{}' could not be stored, not confirmed: {}", m->id(),
                       q->name(), error);
  for (const auto& w : waiters) {
    protocol::Error e;
    e.code = protocol::ErrorCode::kStorageFailed;
    e.reason = "the broker could not store the message (" + error + "): it was NOT accepted, retry";
    e.answers = static_cast<std::uint8_t>(protocol::Command::kPublish);
    e.queue = q->name();
    e.ids.emplace_back(m->id());
    ctx_.outbox.Reply(w, std::move(e));
  }
  --q->pending;
  ctx_.store.dedup.RemoveLive(m);
  ctx_.store.Free(m);
  ctx_.store.MaybeIdle(q);
}

}  // namespace mandrill::broker
