#include "broker/queue.h"

#include <cassert>

namespace mandrill::broker {

Queue::~Queue() {
  all_.ForEach([](StoredMessage* m) { delete m; });
}

StoredMessage* Queue::Adopt(std::unique_ptr<StoredMessage> message) {
  StoredMessage* raw = message.release();
  raw->queue = this;
  all_.PushBack(raw);
  dedup.AddLive(raw);
  return raw;
}

void Queue::Erase(StoredMessage* message) {
  assert(message->state == MessageState::kSettled || message->state == MessageState::kPending);
  all_.Remove(message);
  delete message;
}

void Queue::PushReady(StoredMessage* message, bool front) {
  message->state = MessageState::kReady;
  if (front) {
    ready_.push_front(message);
  } else {
    ready_.push_back(message);
  }
}

StoredMessage* Queue::PopReady() {
  if (ready_.empty()) return nullptr;
  StoredMessage* m = ready_.front();
  ready_.pop_front();
  return m;
}

void Queue::Defer(StoredMessage* message, core::SteadyTime not_before) {
  message->state = MessageState::kDeferred;
  message->not_before = not_before;
  deferred_.push(DeferredEntry{not_before, message->seq, message});
}

std::size_t Queue::ReleaseDue(core::SteadyTime now) {
  std::vector<StoredMessage*> due;
  while (!deferred_.empty() && deferred_.top().due <= now) {
    due.push_back(deferred_.top().message);
    deferred_.pop();
  }
  // To the front, keeping (due, seq) order: the earliest due ends up first.
  for (auto it = due.rbegin(); it != due.rend(); ++it) PushReady(*it, /*front=*/true);
  return due.size();
}

std::optional<core::SteadyTime> Queue::NextDeferred() const {
  if (deferred_.empty()) return std::nullopt;
  return deferred_.top().due;
}

void Queue::Bury(StoredMessage* message, std::string reason, std::int64_t at_unix_ms) {
  message->state = MessageState::kDead;
  message->last_error = std::move(reason);
  message->dead_at_unix_ms = at_unix_ms;
  dead_[message->seq] = message;
}

StoredMessage* Queue::Exhume(std::uint64_t seq) {
  auto it = dead_.find(seq);
  if (it == dead_.end()) return nullptr;
  StoredMessage* m = it->second;
  dead_.erase(it);
  return m;
}

StoredMessage* Queue::FindDead(const std::string& id) const {
  const auto hit = dedup.Find(id);
  return hit.live != nullptr && hit.live->state == MessageState::kDead ? hit.live : nullptr;
}

}  // namespace mandrill::broker
