// PUBLISH: validate, deduplicate, bound the depth, append to storage; confirm only once durable.
#include <spdlog/spdlog.h>

#include <map>

#include "broker/broker.h"
#include "shared/protocol/codec.h"

namespace mandrill::broker {

void Broker::HandlePublish(const std::string& peer, protocol::Publish&& publish) {
  RememberPeer(peer);
  const auto publish_byte = static_cast<std::uint8_t>(protocol::Command::kPublish);
  // Refusals grouped so a refused batch costs one ERROR per (code, queue), not one per message.
  std::map<std::pair<protocol::ErrorCode, std::string>, protocol::Error> refused;
  auto refuse = [&](protocol::ErrorCode code, const std::string& queue, std::string id,
                    const std::string& reason) {
    auto& e = refused[{code, queue}];
    if (e.ids.empty()) {
      e.code = code;
      e.reason = reason;
      e.answers = publish_byte;
      e.queue = queue;
    }
    e.ids.push_back(std::move(id));
  };

  const std::int64_t wall = clock_.WallMs();
  for (auto& item : publish.items) {
    if (shutting_down_) {
      refuse(protocol::ErrorCode::kShuttingDown, item.queue, std::move(item.id),
             "the broker is shutting down: retry when it is back");
      continue;
    }
    if (auto why = protocol::CheckQueueName(item.queue); !why.empty()) {
      refuse(protocol::ErrorCode::kInvalidArgument, item.queue, std::move(item.id), why);
      continue;
    }
    if (auto why = protocol::CheckMessageId(item.id); !why.empty()) {
      refuse(protocol::ErrorCode::kInvalidArgument, item.queue, std::move(item.id), why);
      continue;
    }
    Queue* q = GetOrCreateQueue(item.queue);
    if (auto hit = q->dedup.Find(item.id); hit.found) {
      ++q->counters.deduplicated;
      if (hit.live != nullptr && hit.live->state == MessageState::kPending) {
        hit.live->confirm_waiters.push_back(peer);  // confirmed with the original
      } else {
        AddConfirm(peer, q, item.id);
      }
      continue;
    }
    if (q->depth() >= options_.queue_limit) {
      ++q->counters.refused_full;
      refuse(protocol::ErrorCode::kQueueFull, item.queue, std::move(item.id),
             "queue '" + item.queue + "' is full (" + std::to_string(options_.queue_limit) +
                 " messages): back off and retry");
      continue;
    }
    PublishRecord record{next_seq_++,          std::move(item.queue), std::move(item.id),
                         std::move(item.payload), std::move(item.headers), wall};
    const Ticket ticket = storage_.Append(record);
    auto m = std::make_unique<StoredMessage>();
    m->seq = record.seq;
    m->id = std::move(record.id);
    m->payload = std::move(record.payload);
    m->headers = std::move(record.headers);
    m->published_unix_ms = wall;
    m->state = MessageState::kPending;
    m->confirm_waiters.push_back(peer);
    StoredMessage* sm = q->Adopt(std::move(m));
    pending_.emplace_back(ticket, sm);
  }
  for (auto& [key, e] : refused) {
    spdlog::debug("refused {} publishes to '{}' from {}: {}", e.ids.size(), e.queue,
                  protocol::PrintableId(peer), e.reason);
    Reply(peer, std::move(e));
  }
}

void Broker::MarkDurable(StoredMessage* m) {
  Queue* q = m->queue;
  ++q->counters.published;
  q->PushReady(m, /*front=*/false);
  for (const auto& waiter : m->confirm_waiters) AddConfirm(waiter, q, m->id);
  m->confirm_waiters.clear();
  m->confirm_waiters.shrink_to_fit();
}

void Broker::MarkFailed(StoredMessage* m, const std::string& error) {
  ++counters_.storage_failures;
  Queue* q = m->queue;
  spdlog::error("message {} in '{}' could not be stored, not confirmed: {}", m->id, q->name(),
                error);
  for (const auto& waiter : m->confirm_waiters) {
    protocol::Error e;
    e.code = protocol::ErrorCode::kStorageFailed;
    e.reason = "the broker could not store the message (" + error + "): it was NOT accepted, retry";
    e.answers = static_cast<std::uint8_t>(protocol::Command::kPublish);
    e.queue = q->name();
    e.ids.push_back(m->id);
    Reply(waiter, std::move(e));
  }
  q->dedup.Forget(m);
  q->Erase(m);
}

}  // namespace mandrill::broker
